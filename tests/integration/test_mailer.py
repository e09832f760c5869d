"""The mailer against a real SMTP server process (aiosmtpd), and against servers that misbehave.

What the server stored is read back and compared: headers, both alternatives, and attachments
byte for byte. Failures are provoked for real (nothing listening, no greeting, a 421 greeting,
a recipient the server refuses) to check that each lands on the right side of transient/permanent.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest

from lending.amortization import loan_cost
from notify_app.adapters.csv_file import schedule_csv
from notify_app.adapters.mailer import Attachment, Mailer, MailerRejected, MailerUnavailable, SmtpSettings
from notify_app.adapters.pdf import schedule_pdf
from notify_app.adapters.templates import compose
from tests.support.servers import free_port
from tests.support.smtp import HOST, received, smtp_server

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    with smtp_server(tmp_path_factory.mktemp("smtp")) as running:
        yield running


def _offer() -> dict[str, object]:
    cost = loan_cost(Decimal("200000"), Decimal("0.0355"), 240)
    return {"amount": "200000", "duration_months": 240, "annual_rate": "0.0355",
            "monthly_payment": str(cost.monthly_payment), "monthly_insurance": "50.00",
            "total_interest": str(cost.total_interest), "total_cost": str(cost.total_cost)}


def _only_message_to(maildir: Path, recipient: str) -> EmailMessage:
    matching = [message for message in received(maildir) if message["X-RcptTo"] == recipient]
    assert len(matching) == 1, [message["X-RcptTo"] for message in received(maildir)]
    return matching[0]


def test_an_approval_with_both_documents_arrives_intact(server: tuple[str, int, Path]) -> None:
    host, port, maildir = server
    offer = _offer()
    pdf = schedule_pdf(offer, "app-42", "Zoé Crédit", date(2027, 1, 5), "fr")
    csv_bytes = schedule_csv(offer, date(2027, 1, 5), "fr")
    mail = compose("APPROVED", "fr", {"full_name": "Zoé <Crédit>", "application_id": "app-42",
                                      "status_url": "http://127.0.0.1:8000/loan/status/app-42", "offer": offer})
    Mailer(SmtpSettings(host=host, port=port)).send(
        "zoe@example.org", mail.subject, mail.text, mail.html,
        [Attachment("echeancier.pdf", pdf, "application/pdf"), Attachment("echeancier.csv", csv_bytes, "text/csv")],
        message_id="notification-app-42-7@loanflow.local")

    message = _only_message_to(maildir, "zoe@example.org")
    assert message["Subject"] == mail.subject == "Votre demande de prêt immobilier est acceptée"
    assert message["To"] == "zoe@example.org"
    assert message["Message-ID"] == "<notification-app-42-7@loanflow.local>"
    assert message["X-MailFrom"] == "no-reply@loanflow.local"
    assert message.get_body(("plain",)).get_content() == mail.text
    html = message.get_body(("html",)).get_content()
    assert html == mail.html and "Zoé &lt;Crédit&gt;" in html
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(files) == {"echeancier.pdf", "echeancier.csv"}
    assert files["echeancier.pdf"].get_content_type() == "application/pdf"
    assert files["echeancier.pdf"].get_content() == pdf
    assert files["echeancier.csv"].get_content_type() == "text/csv"
    assert files["echeancier.csv"].get_payload(decode=True) == csv_bytes


def test_a_text_only_message_without_attachments(server: tuple[str, int, Path]) -> None:
    host, port, maildir = server
    Mailer(SmtpSettings(host=host, port=port, sender="Bank <bank@example.org>")).send(
        "plain@example.org", "Hello", "Just text.\n", None, [], message_id="<plain-1@loanflow.local>")
    message = _only_message_to(maildir, "plain@example.org")
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Just text.\n"
    assert message["Message-ID"] == "<plain-1@loanflow.local>"
    assert message["X-MailFrom"] == "bank@example.org"


def test_a_message_the_server_refuses_is_permanent(tmp_path: Path) -> None:
    with smtp_server(tmp_path, extra_args=("-s", "1000")) as (host, port, maildir):  # 1000-byte limit
        with pytest.raises(MailerRejected, match="552"):
            Mailer(SmtpSettings(host=host, port=port)).send(
                "big@example.org", "s", "x" * 5000, None, [], "<big-1@loanflow.local>")
        assert received(maildir) == []


@pytest.mark.parametrize("address", ["x@example..org", "not an address", "a@example.org, b@example.org", ""])
def test_an_invalid_recipient_is_permanent_and_never_sent(address: str) -> None:
    with pytest.raises(MailerRejected, match="recipient"):
        Mailer(SmtpSettings(host=HOST, port=free_port())).send(address, "s", "t", None, [], "<bad-1@x>")


def test_a_header_with_a_line_break_is_permanent() -> None:
    with pytest.raises(MailerRejected):
        Mailer(SmtpSettings(host=HOST, port=free_port())).send(
            "a@example.org", "two\nlines", "t", None, [], "<x@y>")


def test_nothing_listening_is_transient() -> None:
    with pytest.raises(MailerUnavailable):
        Mailer(SmtpSettings(host=HOST, port=free_port(), timeout=2)).send(
            "a@example.org", "s", "t", None, [], "<down-1@loanflow.local>")


def test_a_server_that_never_greets_is_transient() -> None:
    with socket.socket() as listener:  # accepted by the kernel's backlog, never answered
        listener.bind((HOST, 0))
        listener.listen(1)
        settings = SmtpSettings(host=HOST, port=listener.getsockname()[1], timeout=0.5)
        with pytest.raises(MailerUnavailable):
            Mailer(settings).send("a@example.org", "s", "t", None, [], "<slow-1@loanflow.local>")


def _greet_once(listener: socket.socket, greeting: bytes) -> None:
    connection, _ = listener.accept()
    with connection:
        connection.sendall(greeting)
        connection.recv(1024)  # until the client hangs up


@pytest.mark.parametrize(("greeting", "expected"), [(b"421 busy, try later\r\n", MailerUnavailable),
                                                     (b"554 no service for you\r\n", MailerRejected)])
def test_the_greeting_code_decides(greeting: bytes, expected: type[Exception]) -> None:
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(1)
        thread = threading.Thread(target=_greet_once, args=(listener, greeting), daemon=True)
        thread.start()
        with pytest.raises(expected):
            Mailer(SmtpSettings(host=HOST, port=listener.getsockname()[1], timeout=5)).send(
                "a@example.org", "s", "t", None, [], "<greet-1@loanflow.local>")
        thread.join(timeout=5)


def test_settings_from_the_environment() -> None:
    settings = SmtpSettings.from_env({"SMTP_HOST": "mail.example.org", "SMTP_PORT": "587", "SMTP_STARTTLS": "Yes",
                                      "SMTP_SSL": "0", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "p",
                                      "SMTP_FROM": "Bank <b@example.org>", "SMTP_TIMEOUT": "2.5"})
    assert settings == SmtpSettings("mail.example.org", 587, starttls=True, ssl=False, username="u", password="p",
                                    sender="Bank <b@example.org>", timeout=2.5)
    assert SmtpSettings.from_env({}) == SmtpSettings(host="localhost")
    assert SmtpSettings.from_env({"SMTP_SSL": "true"}).ssl
