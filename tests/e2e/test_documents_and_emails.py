"""Documents and e-mails end to end: the schedule generated in the background, e-mailed once.

A real SMTP server (aiosmtpd, the stack's ``smtp`` process) receives the e-mails.
"""

from __future__ import annotations

import csv
import io
import time
from decimal import Decimal
from email.message import EmailMessage

import pytest
import requests
from pypdf import PdfReader

from tests.e2e.conftest import Client
from tests.support.payloads import application
from tests.support.polling import TERMINAL
from tests.support.smtp import received
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow]


def mails_for(stack: Stack, application_id: str, count: int, timeout: float = 30) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    while True:
        mails = [m for m in received(stack.maildir) if application_id in str(m["Message-ID"])]
        if len(mails) >= count or time.monotonic() > deadline:
            return mails
        time.sleep(0.3)


def test_approval_emails_the_schedule_once_with_documents_that_match_the_offer(client: Client, stack: Stack) -> None:
    accepted = client.submit(application(applicant={"email": "approved@example.org"}))
    body = client.wait_for(accepted, TERMINAL)
    assert body["status"] == "APPROVED"
    offer = body["decision"]["offer"]
    mails = mails_for(stack, accepted["id"], 1)
    time.sleep(1)  # anything sent twice would arrive now
    assert len(mails_for(stack, accepted["id"], 2, timeout=0)) == 1
    mail = mails[0]
    assert mail["To"] == "approved@example.org"
    attachments = {part.get_filename(): part.get_content() for part in mail.iter_attachments()}
    pdf = next(content for name, content in attachments.items() if name.endswith(".pdf"))
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\xa0", " ")
    assert "79,616.01" in text or offer["total_interest"] in text.replace(",", "")

    auth = {"Authorization": f"Bearer {accepted['access_token']}"}
    listed = requests.get(f"{stack.gateway}/notify/applications/{accepted['id']}/documents", headers=auth, timeout=5)
    assert listed.status_code == 200
    documents = {d["kind"]: d for d in listed.json()}
    assert set(documents) == {"schedule_pdf", "schedule_csv"}
    assert all(accepted["access_token"] not in d["url"] and "link=" in d["url"] for d in documents.values())
    download = requests.get(stack.gateway + documents["schedule_csv"]["url"], timeout=5)  # a plain, signed link
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert len(rows) == 240 + 2
    assert Decimal(rows[-1][3]) == Decimal(offer["total_interest"])
    stored_pdf = requests.get(stack.gateway + documents["schedule_pdf"]["url"], timeout=5)
    assert stored_pdf.content == pdf  # built once (a PDF carries its creation time): stored what was sent
    plain = stack.gateway + documents["schedule_pdf"]["url"].split("?")[0]
    assert requests.get(plain, headers=auth, timeout=5).content == pdf  # or with the bearer token
    other = client.submit(application())
    refused = requests.get(plain, headers={"Authorization": f"Bearer {other['access_token']}"}, timeout=5)
    assert refused.status_code == 404
    tampered = requests.get(stack.gateway + documents["schedule_pdf"]["url"][:-2] + "xx", timeout=5)
    assert tampered.status_code == 401 and tampered.json()["errors"] == {"reason": "LINK_INVALID"}
    assert requests.get(plain, params={"token": accepted["access_token"]}, timeout=5).status_code == 401


def test_rejection_and_information_requests_are_emailed_in_french(client: Client, stack: Stack) -> None:
    rejected = client.submit(application(applicant={"full_name": "Paul Defaut", "birth_date": "1975-03-12",
                                                    "language": "fr"}))
    client.wait_for(rejected, TERMINAL)
    mail = mails_for(stack, rejected["id"], 1)[0]
    assert not list(mail.iter_attachments())
    text = mail.get_body(("plain",)).get_content()
    assert "Le fichier des crédits mentionne un incident de paiement à votre nom." in text, text
    assert "payment incident" not in text.lower()
    asked = client.submit(application(applicant={"employment_status": "self_employed"}))
    client.wait_for(asked, {"INFO_REQUESTED"})
    assert "declared" in mails_for(stack, asked["id"], 1)[0].get_body(("plain",)).get_content().lower()
