"""The public surface's limits on the real stack, through the gateway (issue 12, points 5 and 7).

- ``POST /loan/applications`` per client address: loan_web restarted with
  ``LOANFLOW_SUBMIT_RATE_LIMIT`` (its two gunicorn workers share the count in PostgreSQL), clients
  that write their own ``X-Forwarded-For`` through the gateway, concurrently.
- ``/<svc>/metrics`` answered ``404`` by the gateway however the path is spelled, and served on
  each service's own port; a made-up method through the gateway adds no series.
- Security headers on every page and API answer through the gateway, the gateway's own too.

The pages under their Content-Security-Policy in a browser: tests/e2e/test_pages.py.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import STAFF_TOKEN
from tests.e2e.conftest import Client
from tests.support.payloads import application
from tests.support.stack import SERVICES, Stack

pytestmark = [pytest.mark.slow]

LIMIT = 4


@pytest.fixture
def limited(stack: Stack) -> Iterator[Stack]:
    """loan_web restarted with a submission limit; restarted without it afterwards, whatever happened."""
    stack.env["LOANFLOW_SUBMIT_RATE_LIMIT"] = f"{LIMIT}/minute"
    stack.stop("loan_web")
    stack.start("loan_web")
    stack.wait_ready()
    try:
        yield stack
    finally:
        stack.env["LOANFLOW_SUBMIT_RATE_LIMIT"] = "0"
        stack.stop("loan_web")
        stack.start("loan_web")
        stack.wait_ready()


def raw_get(base: str, path: str, method: str = "GET") -> http.client.HTTPResponse:
    """A request whose path goes out exactly as written (no client-side normalisation)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request(method, path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_submissions_are_limited_per_address_whatever_x_forwarded_for_says(limited: Stack) -> None:
    def submit(n: int) -> requests.Response:
        # Each client claims another address; the gateway appends the one it saw (ours), last.
        return requests.post(f"{limited.gateway}/loan/applications", json=application(),
                             headers={"X-Forwarded-For": f"192.0.2.{n}"}, timeout=30)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(submit, range(3 * LIMIT)))
    assert sorted(a.status_code for a in answers) == [202] * LIMIT + [429] * (2 * LIMIT)
    refused = next(a for a in answers if a.status_code == 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["errors"] == {"reason": "RATE_LIMITED"} and refused.json()["code"] == 429
    # Straight to loan's port from the same address: the same count.
    direct = requests.post(f"{limited.service('loan')}/loan/applications", json=application(), timeout=30)
    assert direct.status_code == 429


def test_metrics_are_not_served_through_the_gateway(stack: Stack) -> None:
    for service in SERVICES:
        for path in (f"/{service}/metrics", f"/{service}//metrics", f"/{service}/./metrics",
                     f"/tasks/../{service}/metrics", f"/{service}/%6detrics", f"/{service}/metrics?x=1"):
            answer = raw_get(stack.gateway, path)
            assert answer.status == 404, (path, answer.status)
        assert raw_get(stack.gateway, f"/{service}/metrics", "HEAD").status == 404
        direct = requests.get(f"{stack.service(service)}/{service}/metrics", timeout=10)
        assert direct.status_code == 200 and "loanflow_http_requests_total" in direct.text


def test_a_made_up_method_adds_no_series(stack: Stack) -> None:
    for method in ("FOO", "BREW", "PROPFIND"):
        # The gateway's parser (llhttp) refuses a method it does not know (400); what it forwards
        # (PROPFIND) and what reaches loan's port directly is answered 405 by the service.
        assert raw_get(stack.gateway, "/loan/applications", method).status in (400, 405)
        assert raw_get(stack.service("loan"), "/loan/applications", method).status == 405
    text = requests.get(f"{stack.service('loan')}/loan/metrics", timeout=10).text
    methods = {sample.labels["method"] for family in text_string_to_metric_families(text)
               if family.name == "loanflow_http_requests" for sample in family.samples}
    assert "other" in methods and not methods & {"FOO", "BREW", "PROPFIND"}


def test_every_answer_through_the_gateway_carries_the_security_headers(stack: Stack, client: Client) -> None:
    accepted = client.submit(application())
    staff = {"Authorization": f"Bearer {STAFF_TOKEN}"}
    pages = ["/notify/dashboard", f"/notify/track/{accepted['id']}", "/tasks",
             *(f"/{service}/docs" for service in SERVICES)]
    others = [("GET", f"/loan/applications/{accepted['id']}", {"Authorization": f"Bearer {accepted['access_token']}"}),
              ("GET", "/loan/applications", staff), ("GET", "/decision/policy", {}),
              ("GET", "/notify/openapi.json", {}), ("GET", "/notify/static/dashboard.js", {}),
              ("HEAD", f"/notify/applications/{accepted['id']}/events", staff),
              ("GET", "/loan/applications/not-an-id", {}), ("GET", "/health", {}), ("GET", "/nowhere", {}),
              ("GET", "/loan/metrics", {})]
    answers = {path: requests.get(stack.gateway + path, timeout=10) for path in pages}
    answers.update({path: requests.request(method, stack.gateway + path, headers=headers, timeout=10)
                    for method, path, headers in others})
    for path, answer in answers.items():
        policy = answer.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy, path
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", path
        assert answer.headers.get("Referrer-Policy") == "no-referrer", path
        if path in pages:
            assert answer.status_code == 200 and "script-src 'self'" in policy and "unsafe" not in policy, path
        else:
            assert policy.startswith("default-src 'none'"), path
