"""A real SMTP server process for tests, and what it received.

The mailer is tested against aiosmtpd running as a separate process (not a mock of ``smtplib``),
so the bytes on the wire, the MIME structure and the server's replies are the real ones. The
server's ``Mailbox`` handler writes each accepted message to a maildir before answering ``250``:
once ``send`` returns, the message can be read back with :func:`received`.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import mailbox
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from pathlib import Path

from tests.support.servers import free_port, port_open

HOST = "127.0.0.1"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"aiosmtpd exited with {process.returncode}: {log.read_text(errors='replace')}")
        if port_open(port, HOST):
            return
        time.sleep(0.05)
    raise TimeoutError(f"aiosmtpd did not listen on {HOST}:{port} within {timeout} s")


@contextlib.contextmanager
def smtp_server(tmp_path: Path, extra_args: Sequence[str] = (), timeout: float = 15.0
                ) -> Iterator[tuple[str, int, Path]]:
    """``(host, port, maildir_path)`` of an aiosmtpd process storing every message in a maildir.

    ``extra_args``: more aiosmtpd options, e.g. ``("-s", "1000")`` to refuse larger messages.
    """
    port, maildir, log = free_port(), tmp_path / "maildir", tmp_path / "aiosmtpd.log"
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{HOST}:{port}", *extra_args,
               "-c", "aiosmtpd.handlers.Mailbox", str(maildir)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, log, timeout)
        yield HOST, port, maildir
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _delivery_order(key: str) -> tuple[int, int, str]:
    # Maildir names start "<seconds>.M<microseconds>P<pid>Q<count>": order by delivery time.
    match = re.match(r"(\d+)\.M(\d+)", key)
    return (int(match.group(1)), int(match.group(2)), key) if match else (0, 0, key)


def received(maildir_path: Path) -> list[EmailMessage]:
    """Every message in the maildir, oldest first, parsed with ``email.policy.default``.

    aiosmtpd adds the envelope as headers: ``X-MailFrom``, ``X-RcptTo``, ``X-Peer``.
    """
    if not (maildir_path / "new").is_dir():
        return []
    box = mailbox.Maildir(maildir_path, factory=None, create=False)
    messages = []
    for key in sorted(box.keys(), key=_delivery_order):
        message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages
