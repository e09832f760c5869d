"""A local SMTP server that keeps every e-mail in a maildir: the demo and test mail catcher.

``python -m loanflow.mailcatcher --port 8025 --dir var/mail`` (aiosmtpd with its Mailbox handler;
``--dir`` defaults to ``LOANFLOW_MAIL_DIR``, read by :class:`loanflow.settings.MailCatcherSettings`).
``make run`` starts one in-process when no ``SMTP_HOST`` is configured, so the e-mails an
applicant would receive can be read in ``var/mail`` (any maildir reader; one file per e-mail).
In production, ``SMTP_HOST``/``SMTP_PORT``/… point at the bank's relay instead.
"""

from __future__ import annotations

import argparse
import mailbox
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from loanflow.settings import MailCatcherSettings


class RawMailbox:
    """An aiosmtpd handler that files each message in a maildir as received, byte for byte.

    The envelope goes in front as the headers aiosmtpd's own ``Mailbox`` handler adds
    (``X-Peer``, ``X-MailFrom``, ``X-RcptTo``), so a reader sees the same thing. Why not that
    handler: it parses every message into an ``email.message`` and serialises it back, which
    for an e-mail with a PDF attachment cost more CPU than composing and sending it had
    (docs/benchmarks.md). A maildir reader parses when it reads, if it ever does.
    """

    def __init__(self, directory: str) -> None:
        self.mailbox = mailbox.Maildir(directory, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        head = (f"X-Peer: {session.peer}\r\nX-MailFrom: {envelope.mail_from}\r\n"
                f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        self.mailbox.add(head + envelope.original_content)
        return "250 OK"


def start(directory: str, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    """Start the catcher in a background thread; returns its controller (``.stop()`` to end)."""
    Path(directory).parent.mkdir(parents=True, exist_ok=True)  # the maildir itself is made by RawMailbox
    controller = Controller(RawMailbox(directory), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    settings = MailCatcherSettings.from_env()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", default=settings.directory)
    args = parser.parse_args(argv)
    controller = start(args.dir, args.host, args.port)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    main()
