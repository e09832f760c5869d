"""The simulator's settings, read in this one place: a ``create_app`` config key, else the environment.

The environment is read through the kernel's :class:`~common.kernel.settings.Environment`, the one
reader of ``os.environ`` in the code base (tests/unit/test_settings.py).

The simulator is a separate process (a stand-in for someone else's server), not a loanflow
service, so it does not use the services' ``Settings``: its ``BUREAU_*`` variables are its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.kernel.settings import Environment
from loanflow.bureau_simulator.state import RECORDS_PATH, Faults
from loanflow.bureau_simulator.validation import failure_rate, latency_ms, seed


@dataclass(frozen=True)
class SimulatorSettings:
    """``BUREAU_RECORDS_PATH`` (the seed file) and the faults in force at start."""

    records_path: Path
    faults: Faults

    @classmethod
    def read(cls, config: Mapping[str, Any]) -> SimulatorSettings:
        """From ``config``, else the environment. Raises ``ValueError`` on an invalid fault setting,
        so a bad deployment fails at start-up."""
        return cls(
            records_path=Path(_setting(config, "BUREAU_RECORDS_PATH", RECORDS_PATH)),
            faults=Faults(latency_ms=latency_ms(_setting(config, "BUREAU_LATENCY_MS", 0)),
                          failure_rate=failure_rate(_setting(config, "BUREAU_FAILURE_RATE", 0.0)),
                          seed=seed(_setting(config, "BUREAU_SEED", None))),
        )


def _setting(config: Mapping[str, Any], name: str, default: Any) -> Any:
    if name in config:
        return config[name]
    return Environment().environ.get(name, default)
