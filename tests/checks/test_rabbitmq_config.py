"""deploy/rabbitmq: the settings file says what the code relies on, and a throw-away node (Debian's
RabbitMQ, free ports) boots on it and reports those values (the one check that starts a server)."""

from __future__ import annotations

import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.deployment import DEPLOY, need
from tests.support.servers import start_rabbitmq


def test_rabbitmq_plugins_and_settings_files() -> None:
    plugins = (DEPLOY / "rabbitmq/enabled_plugins").read_text().strip()
    assert plugins == "[rabbitmq_management,rabbitmq_prometheus]."
    settings = dict(line.split(" = ", 1) for line in (DEPLOY / "rabbitmq/rabbitmq.conf").read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    assert settings["consumer_timeout"] == "1800000"
    assert settings["vm_memory_high_watermark.relative"] == "0.6"
    assert settings["disk_free_limit.absolute"] == "1GB"
    assert settings["heartbeat"] == "30"
    assert "default_pass" not in settings, "the password comes from RABBITMQ_DEFAULT_PASS"
    from common.messaging.broker import RABBITMQ_CONSUMER_TIMEOUT_MS

    assert int(settings["consumer_timeout"]) == RABBITMQ_CONSUMER_TIMEOUT_MS


@pytest.mark.slow
def test_rabbitmq_node_boots_on_the_config(tools: dict[str, Any]) -> None:
    """A throw-away node loads rabbitmq.conf as deployed and reports its values."""
    need(tools, "rabbitmq-server")
    base = Path(tempfile.mkdtemp(prefix="loanflow-rmq-", dir="/tmp"))  # the rabbitmq user must reach it
    base.chmod(0o755)
    try:
        node = start_rabbitmq(base, as_deployed=True)
        try:
            assert node.setting("consumer_timeout") == "{ok,1800000}"
            assert node.setting("heartbeat") == "{ok,30}"
            assert node.setting("disk_free_limit") == '{ok,"1GB"}'
            assert node.setting("vm_memory_high_watermark") == "{ok,0.6}"
            assert node.setting("default_user") == "{ok,<<\"loanflow\">>}"
            users = node.ctl("list_users", "--formatter", "json").stdout
            assert "loanflow" in users and "guest" not in users
            plugins = node.ctl("eval", "rabbit_plugins:active().").stdout
            assert "rabbitmq_prometheus" in plugins and "rabbitmq_management" in plugins
            url = f"http://127.0.0.1:{node.prometheus_port}/metrics/per-object"
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.status == 200
        finally:
            node.stop()
        assert node.node_processes() == []  # no Erlang VM outlives the node (Debian starts it via su)
    finally:
        shutil.rmtree(base, ignore_errors=True)
