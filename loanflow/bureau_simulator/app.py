"""``create_app``: the simulator's Flask app, built from its settings (gunicorn calls it)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from loanflow.bureau_simulator import routes
from loanflow.bureau_simulator.settings import SimulatorSettings
from loanflow.bureau_simulator.state import SimulatorState, load_records

log = logging.getLogger("loanflow.bureau_simulator")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the simulator. ``config`` overrides the ``BUREAU_*`` environment variables.

    Also read: ``BUREAU_RECORDS_PATH`` (another seed file); any other key goes to ``app.config``.
    Raises ``ValueError`` on an invalid fault setting, so a bad deployment fails at start-up.
    """
    options = dict(config or {})
    settings = SimulatorSettings.read(options)
    state = SimulatorState(load_records(settings.records_path), settings.faults)
    app = Flask("loanflow.bureau_simulator")
    app.config.update(options)
    routes.register(app, state)
    log.info("bureau simulator ready: %d records, faults %s", state.record_count, state.faults())
    return app
