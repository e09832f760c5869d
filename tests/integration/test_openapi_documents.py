"""Every service's OpenAPI document is a valid OpenAPI 3.0 document.

Clients generate code and fuzzers generate requests from these documents; an invalid one (a
keyword OpenAPI 3.0 does not have, a broken ``$ref``) fails them before they send anything.
common/web/openapi.py rewrites parts of what flask-smorest writes, so this is checked, not assumed.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from openapi_spec_validator import validate

from common.kernel.settings import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_is_valid_openapi(service: str, apps: dict[str, Flask]) -> None:
    document = apps[service].test_client().get(f"/{service}/openapi.json").json
    assert document["openapi"] == "3.0.3"
    validate(document)


@pytest.mark.parametrize("service", SERVICES)
def test_every_pattern_compiles_and_lists_say_how_far_they_go(service: str, apps: dict[str, Flask]) -> None:
    document = apps[service].test_client().get(f"/{service}/openapi.json").json
    patterns: list[str] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.append(node["pattern"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    for pattern in patterns:
        re.compile(pattern)
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if not isinstance(operation, dict):  # path-level "parameters"
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter["name"] == "page":
                    assert parameter["schema"]["maximum"] == 1_000_000, path
            for response in operation.get("responses", {}).values():
                header = response.get("headers", {}).get("X-Pagination")
                if header:
                    assert "application/json" in header["content"], path


@pytest.mark.parametrize("service", SERVICES)
def test_secured_operations_document_their_refusals(service: str, apps: dict[str, Flask]) -> None:
    """Auth is declared once per view (``@blp.staff_only``, ``@blp.applicant_or_staff``): an
    operation that requires a token documents its 401, and one that documents a 401 requires a
    token, but for sign-in itself, whose 401 is about the credentials in its body."""
    document = apps[service].test_client().get(f"/{service}/openapi.json").json
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                if path == "/auth/token":
                    assert "security" not in operation and "401" in operation["responses"]
                    continue
                assert ("security" in operation) == ("401" in operation["responses"]), f"{method} {path}"
