"""Fixtures shared by the integration tests that drive all five services in process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from common.kernel.settings import SERVICES
from common.service.entrypoints import web_app
from tests.conftest import make_settings
from tests.support.databases import truncate_all


@pytest.fixture(scope="module")
def apps(pg_urls: dict[str, str]) -> Iterator[dict[str, Flask]]:
    """One WSGI app per service on its emptied PostgreSQL test database (per test module)."""
    built = {}
    for service in SERVICES:
        truncate_all(service, pg_urls[service])
        built[service] = web_app(service, make_settings(service, pg_urls[service]))
    yield built
    for app in built.values():
        app.extensions["loanflow.runtime"].dispose()
