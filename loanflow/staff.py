"""Staff accounts from the command line: ``python -m loanflow.cli staff …`` (and ``common.cli``).

- ``staff add USERNAME --role ROLE``: a new account; the password is read from standard input
  (asked twice on a terminal), never from the command line, where ``ps`` and shell histories
  would keep it.
- ``staff ensure-admin``: the first account, ``admin`` with the role ``admin``, unless it
  exists; its password is ``LOANFLOW_ADMIN_PASSWORD``, else one generated once into ``var/``
  (``var/loanflow_admin_password``). ``make run`` and ``make run-services`` run it and print how
  to sign in; compose and Kubernetes run it as a one-shot job after the migrations.
- ``staff password USERNAME``: set a new password (standard input), e.g. a forgotten one.

Each talks to loan's database (``LOAN_DATABASE_URL``) through :mod:`loan_app.accounts`, the
same code as ``/auth/accounts``, and is audited as done by ``cli``.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from common.kernel.settings import Environment, Settings
from common.service.runtime import Runtime
from loanflow.local_secrets import ensure_secret

ADMIN_PASSWORD_VARIABLE = "LOANFLOW_ADMIN_PASSWORD"  # noqa: S105 (a variable's name)


def first_admin_password(environ: Mapping[str, str] | None = None) -> str:
    """``LOANFLOW_ADMIN_PASSWORD`` as set (a password may start or end with a space), or ``""``."""
    return Environment(environ).raw(ADMIN_PASSWORD_VARIABLE)


def _runtime(settings: Settings) -> Runtime:
    from common.service.entrypoints import load_definition

    return Runtime(load_definition("loan"), settings)


def read_password(stdin: TextIO = sys.stdin) -> str:
    """The password typed at a terminal (twice, hidden), or the first line of piped input."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Again: "):
            raise SystemExit("The two passwords differ.")
        return first
    return stdin.readline().rstrip("\r\n")


def admin_password(given: str, var_dir: Path) -> tuple[str, str]:
    """The first admin's password and where it came from (for the message)."""
    if given:
        return given, f"${ADMIN_PASSWORD_VARIABLE}"
    return ensure_secret(ADMIN_PASSWORD_VARIABLE, "", var_dir), str(var_dir / ADMIN_PASSWORD_VARIABLE.lower())


def ensure_admin(settings: Settings, given_password: str, var_dir: Path, base_url: str) -> str:
    """Create ``admin`` unless it exists; what to tell the person who started the system."""
    from loan_app import accounts

    rt = _runtime(settings)
    try:
        exists = any(a["username"] == accounts.FIRST_ADMIN for a in accounts.accounts(rt))
        if exists:
            return (f"Staff sign-in: {base_url}/notify/dashboard as '{accounts.FIRST_ADMIN}' (the account exists; "
                    f"its password is the one it was created with: ${ADMIN_PASSWORD_VARIABLE} or "
                    f"{var_dir / ADMIN_PASSWORD_VARIABLE.lower()}).")
        password, source = admin_password(given_password, var_dir)
        accounts.ensure_admin(rt, password)
        # A password the user chose is theirs already: not repeated into logs. A generated one is
        # shown once here (and kept in var/, readable by its owner only).
        told = f"the value of {source}" if given_password else f"{password} (kept in {source})"
        return (f"Staff sign-in: {base_url}/notify/dashboard as '{accounts.FIRST_ADMIN}', password {told}. "
                f"Create one account per person: POST /auth/accounts or "
                f"'python -m loanflow.cli staff add NAME --role officer'.")
    finally:
        rt.dispose()


def main(command: str, username: str | None, role: str | None, environ: Mapping[str, str] | None = None) -> int:
    """Run one ``staff`` subcommand; the exit status."""
    from loan_app import accounts

    env = Environment(environ)
    settings = Settings.from_env("loan", environ)
    if command == "ensure-admin":
        base = settings.public_url
        print(ensure_admin(settings, first_admin_password(environ), env.var_dir(), base), flush=True)
        return 0
    rt = _runtime(settings)
    try:
        if command == "add":
            created = accounts.create_account(rt, username or "", read_password(), role or "", by="cli")
            print(f"Created {created['username']} ({created['role']}).")
        elif command == "password":
            accounts.update_account(rt, username or "", {"password": read_password()}, by="cli")
            print(f"Password of {username} changed.")
    except accounts.InvalidAccount as invalid:
        print(f"Refused: {invalid}", file=sys.stderr)
        return 2
    except accounts.AccountExists:
        print(f"Refused: an account named {username!r} exists already.", file=sys.stderr)
        return 1
    except accounts.NoSuchAccount:
        print(f"Refused: no account named {username!r}.", file=sys.stderr)
        return 1
    finally:
        rt.dispose()
    return 0
