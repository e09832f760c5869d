"""Secrets of a machine without a secret store: the environment's, else generated once into ``var/``.

``make run`` and ``make run-services`` need a shared secret key and a first admin password
before anyone has configured one; production sets them in the environment (compose: ``.env``;
Kubernetes: a Secret) and nothing is generated.
"""

from __future__ import annotations

import secrets
from pathlib import Path


def ensure_secret(name: str, value: str, var_dir: Path) -> str:
    """``value`` (environment variable ``name``, as read), else one generated once and kept in ``var/``.

    Generated secrets live beside the SQLite files (git-ignored), so tokens issued before a
    restart stay valid; production sets them in the environment instead.
    """
    if value:
        return value
    path = var_dir / name.lower()
    if path.exists():
        value = path.read_text().strip()
    if not value:
        var_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        path.write_text(value)
        path.chmod(0o600)
    return value
