"""Corrections to the OpenAPI documents flask-smorest writes, so they say what the services do.

Outside clients and fuzzers take the document at its word: a request it calls valid must be
accepted, a header must look the way it is declared. Two things flask-smorest documents for
every paginated list did not hold:

- ``X-Pagination`` carries JSON (``{"total": 3, "total_pages": 1, …}``) but was declared with an
  object *schema*, which OpenAPI reads as the ``simple`` style (``total,3,total_pages,1``). It is
  now declared with ``content: application/json``, the OpenAPI way to say a header holds JSON.
- ``page`` had no upper bound, yet every list refuses pages past
  :data:`common.web.input_guards.MAX_PAGE` (PostgreSQL's ``OFFSET`` is a bigint); the bound is now documented.

- A string with a NUL character is refused in every query string and body (PostgreSQL cannot
  store it; :func:`common.web.input_guards.refuse_unusable_input`), so every free string (no ``enum``,
  ``format`` or ``pattern`` of its own) is documented with the pattern :data:`NO_NUL`.

And a marshmallow schema can state JSON Schema keywords marshmallow has no field for (such as
``minProperties`` of a free-form object) in a class attribute ``openapi_extra``.

Done as an apispec plugin run after the marshmallow plugin (``Api(spec_kwargs=…)``), so every
service's document gets it and no view has to remember; :func:`numeric_bounds` and
:func:`decimal_strings` correct how the marshmallow plugin converts fields, before any blueprint
is read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from apispec import BasePlugin

PAGINATION_HEADER = "X-Pagination"
NO_NUL = "^[^\\u0000]*$"

#: What the header holds (flask-smorest's ``PaginationMetadataSchema``), written out so the
#: document needs no component the header's old declaration used to pull in.
PAGINATION_METADATA = {
    "type": "object",
    "properties": {name: {"type": "integer"} for name in (
        "total", "total_pages", "first_page", "last_page", "page", "previous_page", "next_page")},
}


class ContractFixes(BasePlugin):
    """apispec plugin: pagination header as JSON content, ``page`` bounded (see the module doc)."""

    def __init__(self, max_page: int) -> None:
        self.max_page = max_page

    def schema_helper(self, name: str, definition: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        for field in definition.get("properties", {}).values():
            _forbid_nul(field)
        schema = kwargs.get("schema")
        extra = getattr(schema, "openapi_extra", None)
        return dict(extra) if isinstance(extra, dict) else None

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        for operation in (operations or {}).values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if not isinstance(parameter, dict) or parameter.get("in") != "query":
                    continue
                if parameter.get("name") == "page":
                    parameter.setdefault("schema", {})["maximum"] = self.max_page
                _forbid_nul(parameter.get("schema"))
            for response in operation.get("responses", {}).values():
                headers = response.get("headers") if isinstance(response, dict) else None
                if headers and PAGINATION_HEADER in headers:
                    headers[PAGINATION_HEADER] = {
                        "description": "Pagination metadata, as JSON.",
                        "content": {"application/json": {"schema": PAGINATION_METADATA}},
                    }


def _forbid_nul(schema: Any) -> None:
    """Give a free string schema (no enum, format or pattern) the :data:`NO_NUL` pattern."""
    if isinstance(schema, dict) and schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = NO_NUL


def numeric_bounds(self: Any, field: Any, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: OpenAPI bounds are numbers, but apispec writes a bound the way
    the field serialises values, so a Decimal field with ``as_string`` documented
    ``"minimum": "0.00"``: an invalid document, on which clients and the fuzzer misread limits."""
    bounds = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    return {key: _number(ret[key]) for key in bounds if isinstance(ret.get(key), str | Decimal)}


def decimal_strings(self: Any, field: Any, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: a Decimal field with ``as_string`` answers ``"375000.00"``
    (never a float: money to the cent) but apispec documents every Decimal as a number, so each
    valuation and inquiry contradicted its own schema. A ``type`` given in the field's metadata
    wins (input fields that accept numbers say so)."""
    if isinstance(field, ma.fields.Decimal) and field.as_string and "type" not in field.metadata:
        return {"type": "string", "format": "decimal"}
    return {}


def _number(value: str | Decimal) -> int | float:
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)
