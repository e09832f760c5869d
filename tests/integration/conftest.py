"""Fixtures shared by the integration tests that drive all five services in process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from common.kernel.settings import SERVICES
from common.service.entrypoints import load_definition, web_app
from common.service.runtime import Runtime
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


@pytest.fixture
def runtime_of(pg_urls: dict[str, str]) -> Iterator[Callable[..., Runtime]]:
    """``runtime_of(service, **settings)``: the service's runtime on its emptied PostgreSQL test
    database (``settings`` override the tests' defaults); disposed of after the test."""
    made: list[Runtime] = []

    def make(service: str, **overrides: object) -> Runtime:
        truncate_all(service, pg_urls[service])
        made.append(Runtime(load_definition(service), make_settings(service, pg_urls[service], **overrides)))
        return made[-1]

    yield make
    for runtime in made:
        runtime.dispose()
