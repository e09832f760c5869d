"""A local SMTP server that keeps every e-mail in a maildir: the demo and test mail catcher.

``python -m loanflow.mailcatcher --port 8025 --dir var/mail`` (aiosmtpd with its Mailbox handler;
``--dir`` defaults to ``LOANFLOW_MAIL_DIR``, read by :class:`loanflow.settings.MailCatcherSettings`).
``make run`` starts one in-process when no ``SMTP_HOST`` is configured, so the e-mails an
applicant would receive can be read in ``var/mail`` (any maildir reader; one file per e-mail).
In production, ``SMTP_HOST``/``SMTP_PORT``/… point at the bank's relay instead.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from loanflow.settings import MailCatcherSettings


def start(directory: str, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    """Start the catcher in a background thread; returns its controller (``.stop()`` to end)."""
    Path(directory).parent.mkdir(parents=True, exist_ok=True)  # the maildir itself is made by Mailbox
    controller = Controller(Mailbox(directory), hostname=host, port=port)
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
