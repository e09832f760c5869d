"""The validators the checks run, installed once per session when one is missing."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.support.deployment import DEPLOY, system_tools


@pytest.fixture(scope="session")
def tools() -> dict[str, Any]:
    """Paths of the system validators, installed by deploy/local/ensure_tools.sh if missing."""
    found = system_tools()
    note = ""
    if not all(found.values()):
        result = subprocess.run(["bash", str(DEPLOY / "local/ensure_tools.sh")], capture_output=True, text=True,
                                timeout=900)
        note = (result.stderr or result.stdout).strip()[-2000:]
        found = system_tools()
    return {"paths": found, "note": note}
