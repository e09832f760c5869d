"""What a URL may carry instead of a token: live tickets and signed document links; and the
e-mail that carries a re-issued token.

notify_app as a WSGI app on its real PostgreSQL database (the used tickets are rows there, so a
second use is refused whichever process sees it); the e-mail goes through a real SMTP server
(aiosmtpd). Streams are asked for with ``HEAD``, which answers what ``GET`` would without
holding a slot: a ticket is spent either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from common.kernel.clock import utcnow
from common.kernel.settings import SmtpSettings
from common.messaging.outbox import new_id
from common.service.entrypoints import web_app
from common.service.runtime import Runtime
from common.web.applicant_access import issue_applicant_token, read_applicant_token
from common.web.auth import Caller
from notify_app.adapters.orm import Document, UsedTicket
from notify_app.live import tickets
from notify_app.sealed import seal
from tests.conftest import SECRET_KEY, STAFF_TOKEN, make_settings
from tests.support.databases import truncate_all
from tests.support.messages import deliver
from tests.support.smtp import received, smtp_server

pytestmark = [pytest.mark.postgres]

STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    with smtp_server(tmp_path_factory.mktemp("smtp")) as running:
        yield running


@pytest.fixture(scope="module")
def app(pg_urls: dict[str, str], mailbox: tuple[str, int, Path]) -> Iterator[Flask]:
    truncate_all("notify", pg_urls["notify"])
    host, port, _ = mailbox
    built = web_app("notify", make_settings("notify", pg_urls["notify"], smtp=SmtpSettings(host=host, port=port),
                                            public_url="https://loans.example.org"))
    yield built
    built.extensions["loanflow.runtime"].dispose()


@pytest.fixture(scope="module")
def notify(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def rt(app: Flask) -> Runtime:
    return app.extensions["loanflow.runtime"]


def ticket_for(notify: FlaskClient, token: str) -> str:
    answer = notify.post("/notify/live/tickets", headers=bearer(token))
    assert answer.status_code == 201, answer.json
    assert answer.json["expires_in"] == 30
    return str(answer.json["ticket"])


def stream(notify: FlaskClient, application_id: str, ticket: str) -> Any:
    return notify.head(f"/notify/applications/{application_id}/events", query_string={"ticket": ticket})


def refused_because(answer: Any, reason: str) -> None:
    assert answer.status_code == 401, answer.get_data(as_text=True)
    if answer.request.method != "HEAD":
        assert answer.json["errors"] == {"reason": reason}, answer.json


def test_a_ticket_opens_one_stream_once(notify: FlaskClient) -> None:
    application_id = new_id()
    ticket = ticket_for(notify, issue_applicant_token(SECRET_KEY, application_id))
    assert len(ticket) < 400 and SECRET_KEY not in ticket
    assert stream(notify, application_id, ticket).status_code == 200
    again = notify.get(f"/notify/applications/{application_id}/events", query_string={"ticket": ticket})
    refused_because(again, "TICKET_USED")
    assert "used already" in again.json["message"]


def test_a_refused_ticket_says_why(notify: FlaskClient, rt: Runtime) -> None:
    application_id = new_id()
    path = f"/notify/applications/{application_id}/events"
    applicant = Caller(staff=False, application_id=application_id, generation=1, issued_at=int(utcnow().timestamp()))
    late = tickets.issue(SECRET_KEY, applicant, utcnow() - timedelta(seconds=31))
    refused_because(notify.get(path, query_string={"ticket": late}), "TICKET_EXPIRED")
    forged = tickets.issue("another-key", applicant)
    refused_because(notify.get(path, query_string={"ticket": forged}), "TICKET_INVALID")
    genuine = ticket_for(notify, issue_applicant_token(SECRET_KEY, application_id))
    refused_because(notify.get(path, query_string={"ticket": genuine[:-2] + "xx"}), "TICKET_INVALID")
    link = seal(SECRET_KEY, "loanflow.document-link", applicant, {"document": new_id()})  # another kind
    refused_because(notify.get(path, query_string={"ticket": link}), "TICKET_INVALID")


def test_a_ticket_opens_its_holders_streams_only(notify: FlaskClient) -> None:
    mine, theirs = new_id(), new_id()
    ticket = ticket_for(notify, issue_applicant_token(SECRET_KEY, mine))
    answer = notify.get(f"/notify/applications/{theirs}/events", query_string={"ticket": ticket})
    assert answer.status_code == 404  # another application: its existence is not revealed
    assert notify.get("/notify/events", query_string={"ticket": ticket_for(
        notify, issue_applicant_token(SECRET_KEY, mine))}).status_code == 403
    assert notify.head("/notify/events", query_string={"ticket": ticket_for(notify, STAFF_TOKEN)}).status_code == 200


def test_no_token_in_a_url_any_more(notify: FlaskClient) -> None:
    application_id = new_id()
    token = issue_applicant_token(SECRET_KEY, application_id)
    assert notify.head(f"/notify/applications/{application_id}/events", query_string={"token": token}
                       ).status_code == 401
    assert notify.head("/notify/events", query_string={"token": STAFF_TOKEN}).status_code == 401
    assert notify.head(f"/notify/applications/{application_id}/events", headers=bearer(token)).status_code == 200
    assert notify.post("/notify/live/tickets").status_code == 401
    assert notify.post("/notify/live/tickets", query_string={"token": token}).status_code == 401


def test_a_revocation_reaches_tickets_already_issued(notify: FlaskClient, rt: Runtime) -> None:
    application_id = new_id()
    token = issue_applicant_token(SECRET_KEY, application_id)
    ticket = ticket_for(notify, token)
    assert deliver(rt, "ApplicantAccessChanged", application_id, {"generation": 1, "valid_from": 2, "cause": "t"})
    refused_because(notify.get(f"/notify/applications/{application_id}/events", query_string={"ticket": ticket}),
                    "TOKEN_REVOKED")
    refused_because(notify.post("/notify/live/tickets", headers=bearer(token)), "TOKEN_REVOKED")


def test_spent_tickets_are_forgotten_once_expired(notify: FlaskClient, rt: Runtime) -> None:
    application_id = new_id()
    assert stream(notify, application_id, ticket_for(notify, issue_applicant_token(SECRET_KEY, application_id))
                  ).status_code == 200
    with rt.session_factory() as session:
        session.add(UsedTicket(ticket_id=new_id(), expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert tickets.forget_expired(rt.session_factory) == 1
    with rt.session_factory() as session:
        left = session.scalar(select(func.count()).select_from(UsedTicket).where(UsedTicket.expires_at < utcnow()))
    assert left == 0


def stored_documents(rt: Runtime, application_id: str) -> list[str]:
    """Two documents of ``application_id`` stored as the e-mail task stores them; their ids."""
    ids = []
    with rt.session_factory() as session:
        for kind, content in (("schedule_csv", b"month;payment\n1;1000\n"), ("schedule_pdf", b"%PDF-1.4 test")):
            document = Document(application_id=application_id, kind=kind, filename=f"schedule.{kind[9:]}",
                                content_type="text/csv" if kind.endswith("csv") else "application/pdf",
                                content=content, size=len(content), sha256="0" * 64)
            session.add(document)
            session.flush()
            ids.append(document.id)
        session.commit()
    return ids


def test_documents_download_through_short_lived_signed_links(notify: FlaskClient, rt: Runtime) -> None:
    application_id = new_id()
    csv_id, pdf_id = stored_documents(rt, application_id)
    token = issue_applicant_token(SECRET_KEY, application_id)
    listed = notify.get(f"/notify/applications/{application_id}/documents", headers=bearer(token))
    assert listed.status_code == 200
    links = {item["id"]: item for item in listed.json}
    url = links[csv_id]["url"]
    assert token not in url and "token=" not in url and "link=" in url
    expires = datetime.fromisoformat(links[csv_id]["url_expires_at"])
    assert timedelta(seconds=290) < expires - utcnow() <= timedelta(seconds=300)

    download = notify.get(url)
    assert download.status_code == 200 and download.data == b"month;payment\n1;1000\n"
    assert notify.get(url).status_code == 200  # within its life a link may be followed again (a retried download)

    link = parse_qs(urlsplit(url).query)["link"][0]
    other_path = f"/notify/applications/{application_id}/documents/{pdf_id}"
    refused_because(notify.get(other_path, query_string={"link": link}), "LINK_INVALID")  # another document's
    refused_because(notify.get(urlsplit(url).path, query_string={"link": link[:-3] + "abc"}), "LINK_INVALID")
    applicant = Caller(staff=False, application_id=application_id, generation=1, issued_at=int(utcnow().timestamp()))
    stale = seal(SECRET_KEY, "loanflow.document-link", applicant, {"document": csv_id},
                 utcnow() - timedelta(seconds=301))
    refused_because(notify.get(urlsplit(url).path, query_string={"link": stale}), "LINK_EXPIRED")
    assert notify.get(urlsplit(url).path, query_string={"token": token}).status_code == 401  # no token in a URL
    assert notify.get(urlsplit(url).path, headers=bearer(token)).status_code == 200
    assert notify.get(urlsplit(url).path, headers=STAFF).status_code == 200

    # A link stands for the applicant's token: revoking the token retires the link.
    assert deliver(rt, "ApplicantAccessChanged", application_id, {"generation": 1, "valid_from": 2, "cause": "t"})
    refused_because(notify.get(url), "TOKEN_REVOKED")


def contact(rt: Runtime, application_id: str, email: str) -> None:
    assert deliver(rt, "ApplicationSubmitted", application_id, {
        "summary": {"amount": "200000.00", "duration_months": 240, "city": "Lyon", "postcode": "69002",
                    "kind": "apartment", "employment_status": "permanent"},
        "contact": {"full_name": "Alice Propre", "email": email, "language": "fr"}})


def to(maildir: Path, address: str) -> list[Any]:
    return [message for message in received(maildir) if message["To"] == address]


def test_a_reissued_token_is_emailed_once_and_opens_the_application(
        notify: FlaskClient, rt: Runtime, mailbox: tuple[str, int, Path]) -> None:
    application_id, address, maildir = new_id(), f"{new_id()[:8]}@example.org", mailbox[2]
    contact(rt, application_id, address)
    assert deliver(rt, "ApplicantAccessChanged", application_id, {"generation": 2, "valid_from": 2, "cause": "t"})
    assert deliver(rt, "SendAccessToken", application_id, {"generation": 2}, message_id="send-2")
    assert not deliver(rt, "SendAccessToken", application_id, {"generation": 2}, message_id="send-2")  # once

    (message,) = to(maildir, address)
    assert message["Message-ID"] == f"<{application_id}.access-2@loanflow>"
    assert "nouvel accès" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    link = next(line for line in text.splitlines() if line.startswith("https://loans.example.org/notify/track/"))
    page, _, fragment = link.partition("#")
    assert page == f"https://loans.example.org/notify/track/{application_id}" and fragment.startswith("token=")
    token = fragment.removeprefix("token=")
    said = read_applicant_token(SECRET_KEY, token)
    assert said is not None and (said.application_id, said.generation) == (application_id, 2)
    assert token in text  # also given as it is, for clients other than the page
    assert notify.get(f"/notify/applications/{application_id}/notifications", headers=bearer(token)).status_code == 200
    refused_because(notify.get(f"/notify/applications/{application_id}/notifications",
                               headers=bearer(issue_applicant_token(SECRET_KEY, application_id, 1))), "TOKEN_REVOKED")


def test_a_token_revoked_before_its_email_left_is_not_sent(rt: Runtime, mailbox: tuple[str, int, Path]) -> None:
    application_id, address = new_id(), f"{new_id()[:8]}@example.org"
    contact(rt, application_id, address)
    assert deliver(rt, "ApplicantAccessChanged", application_id, {"generation": 2, "valid_from": 3, "cause": "t"})
    assert deliver(rt, "SendAccessToken", application_id, {"generation": 2})
    assert to(mailbox[2], address) == []
