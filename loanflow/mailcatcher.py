"""A local SMTP server that keeps every e-mail in a maildir: the demo and test mail catcher.

``python -m loanflow.mailcatcher --port 8025 --dir var/mail`` (aiosmtpd with its Mailbox handler).
``make run`` starts one in-process when no ``SMTP_HOST`` is configured, so the e-mails an
applicant would receive can be read in ``var/mail`` (any maildir reader; one file per e-mail).
In production, ``SMTP_HOST``/``SMTP_PORT``/… point at the bank's relay instead.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

DEFAULT_DIR = os.environ.get("LOANFLOW_MAIL_DIR", "var/mail")


def start(host: str = "127.0.0.1", port: int = 8025, directory: str = DEFAULT_DIR) -> Controller:
    """Start the catcher in a background thread; returns its controller (``.stop()`` to end)."""
    Path(directory).parent.mkdir(parents=True, exist_ok=True)  # the maildir itself is made by Mailbox
    controller = Controller(Mailbox(directory), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", default=DEFAULT_DIR)
    args = parser.parse_args()
    controller = start(args.host, args.port, args.dir)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    main()
