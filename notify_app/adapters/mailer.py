"""Sending one e-mail over SMTP, with errors sorted into "try again later" and "give up".

The notification worker retries what may succeed later and records what never will, so every
failure is one of two exceptions: :class:`MailerUnavailable` (the server is down, slow, or
answered 4xx) and :class:`MailerRejected` (5xx, or the recipient was refused).

Delivery is at least once: a worker that crashes after the server accepted a message but before
recording it sends the same e-mail again. Each message therefore carries a ``Message-ID`` derived
by the caller from the notification (stable across retries), which lets receiving MTAs and mail
clients recognise and drop the duplicate.

The server is given as :class:`~common.kernel.settings.SmtpSettings` (``Settings.smtp``, read
from ``SMTP_*`` with the rest of the settings).

One SMTP connection per message: the workers are threads, an ``smtplib.SMTP`` is not thread-safe,
and the volume (a handful of e-mails per application) does not justify a connection pool.
Simplicity over pooling.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email import encoders, policy
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate

from common.kernel.settings import SmtpSettings


class MailerError(Exception):
    """The e-mail was not sent."""


class MailerUnavailable(MailerError):
    """Transient: connection refused or timed out, the server hung up, or answered 4xx. Retry later."""


class MailerRejected(MailerError):
    """Permanent: the server answered 5xx or refused the recipient. Retrying will not help."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str  # "application/pdf", "text/csv", …


def build_message(sender: str, to: str, subject: str, text: str, html: str | None,
                  attachments: Sequence[Attachment], message_id: str) -> Message:
    """multipart/mixed( multipart/alternative(text, html), attachments… ), or simpler when possible.

    Built with the standard library's ``email.mime`` classes (the ``compat32`` policy) rather than
    ``EmailMessage``'s content manager: that one parses every header it sets, then parses and
    refolds them all again when the message is written (5.8 ms against 3.6 ms for an approval
    with its schedule, the documents worker's largest cost after the PDF). The headers given are
    still read with the modern policy first, which refuses a line break and checks the recipient.

    Raises:
      ValueError: not one valid recipient, or a header that would hold a line break.
    """
    given = {name: policy.default.header_store_parse(name, value)[1]  # ValueError on a line break
             for name, value in (("From", sender), ("To", to), ("Subject", subject), ("Message-ID", message_id))}
    recipients = given["To"].addresses
    if len(recipients) != 1 or "@" not in recipients[0].addr_spec:
        raise ValueError(f"not one valid recipient address: {to!r}")  # the parser would mangle it silently
    body: Message = MIMEText(text, "plain", "utf-8")
    if html is not None:
        body = MIMEMultipart("alternative", _subparts=[body, MIMEText(html, "html", "utf-8")])
    parts = [_attachment(attachment) for attachment in attachments]
    message = MIMEMultipart("mixed", _subparts=[body, *parts]) if parts else body
    senders = given["From"].addresses
    message["From"] = _address(senders[0]) if len(senders) == 1 else sender
    message["To"] = _address(recipients[0])
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")  # RFC 2047 when needed
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id if message_id.startswith("<") else f"<{message_id}>"
    return message


def _address(address: Address) -> str:
    """``Name <addr>``, the name encoded (RFC 2047) if it is not ASCII."""
    return formataddr((address.display_name, address.addr_spec), charset="utf-8")


def _attachment(attachment: Attachment) -> MIMEBase:
    maintype, _, subtype = attachment.mimetype.partition("/")
    part = MIMEBase(maintype, subtype or "octet-stream")
    part.set_payload(attachment.content)
    encoders.encode_base64(part)
    name = attachment.filename
    part.add_header("Content-Disposition", "attachment", filename=name if name.isascii() else ("utf-8", "", name))
    return part


class Mailer:
    """Sends e-mails through one SMTP server, a new connection for each."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, to: str, subject: str, text: str, html: str | None, attachments: Sequence[Attachment],
             message_id: str) -> None:
        """Send one e-mail; ``message_id`` must be the same on every retry of the same notification.

        Raises:
          MailerUnavailable: transient failure, retry later.
          MailerRejected: permanent failure.
        """
        try:
            message = build_message(self.settings.sender, to, subject, text, html, attachments, message_id)
        except ValueError as error:  # e.g. a line break in a header: no retry can fix the data
            raise MailerRejected(f"cannot build the message: {error}") from error
        try:
            with self._connect() as smtp:
                self._login(smtp)
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise _classify_refusals(error.recipients) from error
        except smtplib.SMTPResponseException as error:
            raise _classify(error.smtp_code, error.smtp_error) from error
        except smtplib.SMTPServerDisconnected as error:
            raise self._unavailable(error) from error
        except smtplib.SMTPException as error:  # e.g. STARTTLS or AUTH not supported: configuration
            raise MailerRejected(str(error)) from error
        except OSError as error:  # refused, timed out, unreachable, TLS handshake (SMTPException is one too)
            raise self._unavailable(error) from error
        if refused:  # only with several recipients; kept for completeness
            raise _classify_refusals(refused)

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        if settings.ssl:
            return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                    context=ssl.create_default_context())
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.starttls:
            try:
                smtp.starttls(context=ssl.create_default_context())
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _unavailable(self, error: Exception) -> MailerUnavailable:
        return MailerUnavailable(f"SMTP server {self.settings.host}:{self.settings.port}: {error!r}")

    def _login(self, smtp: smtplib.SMTP) -> None:
        if self.settings.username:
            smtp.login(self.settings.username, self.settings.password)


def _classify(code: int, reply: bytes | str) -> MailerError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    if 500 <= code < 600:
        return MailerRejected(f"SMTP {code}: {text}")
    return MailerUnavailable(f"SMTP {code}: {text}")  # 4xx, or a garbled reply (-1)


def _classify_refusals(recipients: dict[str, tuple[int, bytes]]) -> MailerError:
    """Transient if every refusal is 4xx (e.g. greylisting), else permanent."""
    codes = [code for code, _ in recipients.values()]
    detail = "; ".join(f"{rcpt}: {code} {reply!r}" for rcpt, (code, reply) in recipients.items())
    if codes and all(400 <= code < 500 for code in codes):
        return MailerUnavailable(f"recipient deferred: {detail}")
    return MailerRejected(f"recipient refused: {detail}")

