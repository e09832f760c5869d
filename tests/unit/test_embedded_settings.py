"""The embedded mode gives its in-process services their settings without touching os.environ.

What separate processes would take from their environment, the embedded mode sets on copies of
the services' ``Settings``: generated secrets shared by all five, the demo's valuation pace, the
in-process mail catcher and notify's live-stream cap.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.kernel.settings import SERVICES, SmtpSettings
from loanflow.embedded import in_process_settings, with_secrets
from loanflow.settings import EmbeddedSettings


@pytest.fixture(autouse=True)
def unchanged_environment() -> Iterator[None]:
    def ours() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}

    before = ours()
    yield
    assert ours() == before


def test_secrets_are_generated_once_and_shared(tmp_path: Path) -> None:
    config = with_secrets(EmbeddedSettings.from_env({"LOANFLOW_VAR_DIR": str(tmp_path)}))
    keys = {(settings.secret_key, settings.staff_key) for settings in config.services.values()}
    assert len(keys) == 1 and all(keys.pop())  # every service checks the tokens the others issue
    again = with_secrets(EmbeddedSettings.from_env({"LOANFLOW_VAR_DIR": str(tmp_path)}))
    assert again.services["notify"].secret_key == config.services["loan"].secret_key
    assert (tmp_path / "loanflow_secret_key").stat().st_mode & 0o777 == 0o600


def test_secrets_of_the_environment_win(tmp_path: Path) -> None:
    config = with_secrets(EmbeddedSettings.from_env({"LOANFLOW_VAR_DIR": str(tmp_path),
                                                     "LOANFLOW_SECRET_KEY": "key",
                                                     "LOANFLOW_STAFF_SIGNING_KEY": "staff-key"}))
    assert {(s.secret_key, s.staff_key) for s in config.services.values()} == {("key", "staff-key")}
    assert not (tmp_path / "loanflow_secret_key").exists()


def test_services_get_the_demo_pace_the_catcher_and_a_live_cap(tmp_path: Path) -> None:
    config = EmbeddedSettings.from_env({"LOANFLOW_VAR_DIR": str(tmp_path), "LOANFLOW_HTTP_THREADS": "20",
                                        "SMTP_FROM": "Bank <bank@example.org>"})
    catcher = SmtpSettings(host="127.0.0.1", port=8025, sender="Bank <bank@example.org>")
    settings = in_process_settings(config, catcher)
    assert set(settings) == set(SERVICES)
    assert {s.valuation_delay_ms for s in settings.values()} == {400}
    assert settings["notify"].smtp == catcher
    assert (settings["notify"].max_live_connections, settings["notify"].trusted_proxies) == (10, ())
    assert settings["loan"].max_live_connections == 48
    assert settings["loan"].database_url == f"sqlite:///{tmp_path / 'loan.db'}"


def test_a_configured_smtp_server_is_kept(tmp_path: Path) -> None:
    config = EmbeddedSettings.from_env({"LOANFLOW_VAR_DIR": str(tmp_path), "SMTP_HOST": "mx.example.org",
                                        "VALUATION_DELAY_MS": "5"})
    settings = in_process_settings(config, None)
    assert settings["notify"].smtp.host == "mx.example.org"
    assert settings["property"].valuation_delay_ms == 5
