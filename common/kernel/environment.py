"""Typed reads of environment variables: the one place a process reads ``os.environ``.

Why apart from :mod:`common.kernel.settings`: every process kind (services, gateway, bureau
simulator, command line) reads its own variables with these same rules, while only services
build a :class:`~common.kernel.settings.Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

#: How a boolean variable says yes.
TRUE_WORDS = frozenset({"1", "true", "yes"})


class Environment:
    """Typed reads of environment variables.

    Parameters:
      environ: the variables to read; the process environment by default (tests pass a dict).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    def raw(self, name: str, default: str = "") -> str:
        """The value exactly as set (a password may end with a space)."""
        return self.environ.get(name, default)

    def text(self, name: str, default: str = "") -> str:
        """The value without surrounding spaces."""
        return self.raw(name, default).strip()

    def integer(self, name: str, default: int) -> int:
        raw = self.text(name)
        return int(raw) if raw else default

    def optional_integer(self, name: str) -> int | None:
        raw = self.text(name)
        return int(raw) if raw else None

    def number(self, name: str, default: float) -> float:
        raw = self.text(name)
        return float(raw) if raw else default

    def items(self, name: str, default: str = "") -> tuple[str, ...]:
        """A comma-separated variable as a tuple of its non-empty items."""
        return tuple(item.strip() for item in self.text(name, default).split(",") if item.strip())

    def flag(self, name: str) -> bool:
        """True for ``1``, ``true`` or ``yes`` (any case)."""
        return self.text(name).lower() in TRUE_WORDS

    def log_level(self) -> str:
        """``LOANFLOW_LOG_LEVEL``, upper case; every process's logs (default ``INFO``)."""
        return (self.text("LOANFLOW_LOG_LEVEL") or "INFO").upper()

    def var_dir(self) -> Path:
        """Where the embedded default keeps its SQLite files, generated secrets and e-mails."""
        return Path(self.text("LOANFLOW_VAR_DIR") or Path.cwd() / "var")
