"""The rules behind the abuse limits, as pure functions: the rate-limit setting, the client
address a limit counts, the paths the gateway keeps private, the metric labels a client cannot
choose and the security headers of every answer (issue 12, points 5 and 7).

The limits themselves, on real PostgreSQL and through the real gateway:
tests/integration/test_rate_limit.py, tests/e2e/test_abuse_limits.py.
"""

from __future__ import annotations

import pytest
from flask import Flask

from common.kernel.metrics import METHODS, method_label
from common.kernel.rates import RateLimit, parse_rate_limit
from common.kernel.settings import Settings
from common.web.client import client_address
from common.web.security_headers import API_POLICY, PAGE_POLICY, security_headers
from loanflow.gateway import internal_only
from loanflow.settings import GatewaySettings

VARIABLE = "LOANFLOW_SUBMIT_RATE_LIMIT"


@pytest.mark.parametrize(("text", "limit"), [
    ("20/minute", RateLimit(20, 60)), ("20 per minute", RateLimit(20, 60)), (" 5/30 seconds ", RateLimit(5, 30)),
    ("100/hour", RateLimit(100, 3600)), ("1/day", RateLimit(1, 86400)), ("3/second", RateLimit(3, 1)),
    ("0", None),
])
def test_a_rate_is_read_the_way_people_write_it(text: str, limit: RateLimit | None) -> None:
    assert parse_rate_limit(VARIABLE, text) == limit


@pytest.mark.parametrize(("text", "says"), [
    ("", "is not a rate limit"), ("lots", "is not a rate limit"), ("20", "is not a rate limit"),
    ("20/fortnight", "is not a rate limit"), ("-1/minute", "is not a rate limit"),
    ("0/minute", "write 0 for no limit"), ("1/day;20/minute", "give one rate, not 2"),
])
def test_a_malformed_rate_is_refused_with_the_variable_named(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=VARIABLE) as refused:
        parse_rate_limit(VARIABLE, text)
    assert says in str(refused.value) and "20/minute" in str(refused.value)


def test_the_settings_read_the_limit_once_at_start() -> None:
    assert Settings.from_env("loan", {}).submit_rate_limit == RateLimit(20, 60)
    assert Settings.from_env("loan", {VARIABLE: "0"}).submit_rate_limit is None
    assert Settings.from_env("loan", {VARIABLE: "5 per hour"}).submit_rate_limit == RateLimit(5, 3600)
    with pytest.raises(ValueError, match=f"{VARIABLE}='twenty'"):
        Settings.from_env("loan", {VARIABLE: "twenty"})


def test_trusted_proxies_are_addresses_or_ranges_and_a_typo_stops_the_process() -> None:
    assert Settings.from_env("notify", {"LOANFLOW_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}).trusted_proxies == (
        "10.0.0.0/8", "::1")
    for make in (lambda env: Settings.from_env("notify", env), GatewaySettings.from_env):
        with pytest.raises(ValueError, match="LOANFLOW_TRUSTED_PROXIES: 'gateway'"):
            make({"LOANFLOW_TRUSTED_PROXIES": "127.0.0.1,gateway"})
    assert GatewaySettings.from_env({}).trusted_proxies == ()  # the gateway is the edge by default


def _address(peer: str, *forwarded: str, trusted: tuple[str, ...] = ("127.0.0.1", "::1")) -> str:
    app = Flask(__name__)
    headers = [("X-Forwarded-For", value) for value in forwarded]
    with app.test_request_context("/", headers=headers, environ_base={"REMOTE_ADDR": peer}):
        from flask import request

        return client_address(request, trusted)


def test_the_client_address_is_the_last_hop_a_trusted_proxy_appended() -> None:
    assert _address("198.51.100.7") == "198.51.100.7"
    # A client's own X-Forwarded-For is ignored: it could pick a new address per request.
    assert _address("198.51.100.7", "203.0.113.1") == "198.51.100.7"
    # Through the gateway (loopback): the hop it appended, last, whatever the client wrote before.
    assert _address("127.0.0.1", "203.0.113.1, 198.51.100.7") == "198.51.100.7"
    assert _address("127.0.0.1", "203.0.113.1", "198.51.100.7 ") == "198.51.100.7"
    assert _address("::1", "2001:db8::5") == "2001:db8::5"
    assert _address("127.0.0.1") == "127.0.0.1"  # a local client straight to the service
    # A range: the gateway's address is the platform's choice (compose, Kubernetes).
    assert _address("10.42.3.17", "198.51.100.7", trusted=("10.0.0.0/8",)) == "198.51.100.7"
    assert _address("11.0.0.1", "198.51.100.7", trusted=("10.0.0.0/8",)) == "11.0.0.1"
    assert _address("127.0.0.1", "198.51.100.7", trusted=()) == "127.0.0.1"  # the embedded mode


@pytest.mark.parametrize("path", [
    "/loan/metrics", "/notify/metrics", "/tasks/metrics", "/loan//metrics", "/loan/./metrics",
    "/tasks/../loan/metrics", "/loan/x/../metrics", "//loan/metrics/",
])
def test_the_gateway_keeps_every_spelling_of_a_services_metrics_private(path: str) -> None:
    assert internal_only(path)


@pytest.mark.parametrize("path", ["/metrics", "/loan/applications", "/loan/metrics/x", "/loan/metricsx",
                                  "/notify/applications/metrics", "/health", "/"])
def test_other_paths_are_not_private(path: str) -> None:
    assert not internal_only(path)


def test_the_method_label_comes_from_a_fixed_set() -> None:
    assert {method_label(m) for m in METHODS} == METHODS
    for chosen in ("FOO", "head", "PROPFIND", "CONNECT", "TRACE", "G" * 200, ""):
        assert method_label(chosen) == "other"


def test_pages_and_other_answers_get_their_policies_and_every_answer_the_common_headers() -> None:
    page, other = security_headers("text/html; charset=utf-8"), security_headers("application/json")
    assert page["Content-Security-Policy"] == PAGE_POLICY and other["Content-Security-Policy"] == API_POLICY
    assert security_headers("")["Content-Security-Policy"] == API_POLICY
    for headers in (page, other):
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in PAGE_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in PAGE_POLICY
