"""The environment of the embedded mode (``make run``) when a test starts it as a user would.

Two tests start it (``tests/e2e/test_embedded.py`` directly, ``test_readme_commands.py`` through
``make run``); both must hide the session's servers from it, or it would not be the embedded mode
of a fresh machine (its own SQLite files, Dramatiq's in-process broker, its own mail catcher).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.servers import free_port

#: What would point the embedded mode at the session's servers instead of its own.
SERVER_SETTINGS = ("BROKER_URL", "SMTP_HOST", "SMTP_PORT")


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without the session's servers; free ports for the bureau
    simulator, the mail catcher and the metrics listener the embedded mode starts; its data in
    ``var_dir``. The test systems' secret key and first admin's password, so that
    ``tests.conftest.STAFF_TOKEN`` and ``ADMIN_PASSWORD`` work there too."""
    from tests.conftest import ADMIN_PASSWORD, SECRET_KEY

    env = {key: value for key, value in os.environ.items()
           if not key.endswith("_DATABASE_URL") and key not in SERVER_SETTINGS}
    env.update(LOANFLOW_VAR_DIR=str(var_dir), BUREAU_URL=f"http://127.0.0.1:{free_port()}",
               LOANFLOW_MAIL_PORT=str(free_port()), LOANFLOW_METRICS_PORT=str(free_port()),
               LOANFLOW_SECRET_KEY=SECRET_KEY, LOANFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD)
    env.update(extra)
    return env
