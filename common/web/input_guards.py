"""Input every service refuses before any view runs: what no view could use or store.

One ``before_request`` hook (:func:`refuse_unusable_input`) for all five services, so a body that
is not JSON, JSON that cannot be decoded, text PostgreSQL cannot store and pages PostgreSQL cannot
offset are answered the same way everywhere, in the common error format, instead of ending in a
misleading 422 or a 500 somewhere deeper.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

from flask import request
from flask_smorest import abort

#: Deeper JSON is refused. Our bodies are three levels deep; Python's JSON decoder is recursive,
#: so ``[[[[…]]]]`` within the size limit would otherwise end in a RecursionError (a 500).
MAX_JSON_DEPTH = 32

#: NUL cannot be stored in a PostgreSQL text value (psycopg raises) and unpaired surrogates cannot
#: be encoded as UTF-8 at all: text carrying either would fail in this service's transaction, or
#: worse, later in another service's consumer. Refused at the door, in every service, for every
#: body and query string, whatever the schema says.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_MESSAGE = "Must not contain NUL characters or unpaired surrogates."

#: The last page a paginated list serves. The lists compute ``OFFSET (page - 1) * page_size`` and
#: PostgreSQL's OFFSET is a bigint: ``page=10**20`` ended in a 500. A million pages of up to 100
#: rows is far beyond any list an operator reads; every list of every service takes ``page``.
MAX_PAGE = 1_000_000


def refuse_unusable_input() -> None:
    """``before_request``: refuse what no view can use, with a 4xx in the common error format.

    - a body that is not JSON: ``415`` (webargs would otherwise read it as an empty body and
      answer a misleading ``422 Missing data``);
    - JSON that does not decode (not UTF-8, too deep, integers beyond Python's digit limit):
      ``400``, as webargs does for syntax errors (it lets these escape as 500s);
    - NUL characters or unpaired surrogates anywhere in the body or the query string: ``422``
      naming where; in a header: ``400``;
    - a ``page`` beyond :data:`MAX_PAGE`: ``422``.

    Unknown routes and methods keep their 404/405 (the body does not matter there).
    """
    if request.routing_exception is not None:
        return
    if any("\x00" in value for value in request.headers.values()):
        abort(400, message="Header values must not contain NUL characters.")
    query_errors = {_printable(key): [_UNSTORABLE_MESSAGE] for key, value in request.args.items(multi=True)
                    if _UNSTORABLE.search(key) or _UNSTORABLE.search(value)}
    if _page_number(request.args.get("page")) > MAX_PAGE:
        query_errors["page"] = [f"Must be less than or equal to {MAX_PAGE}."]
    if query_errors:
        abort(422, errors={"query": query_errors}, message="Some query parameters cannot be accepted.")
    if not request.content_length and "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return
    if not request.is_json:
        abort(415, message="The body must be JSON, sent with Content-Type: application/json.")
    body_errors = _unstorable_strings(_decode_json(request.get_data(cache=True)))
    if body_errors:
        abort(422, errors={"json": body_errors}, message="Some values cannot be accepted.")


def _page_number(value: str | None) -> int:
    """The page asked for; 0 when absent or not an integer (the list's own schema says why)."""
    try:
        return int(value or 0)
    except ValueError:  # not a number, or more digits than Python converts
        return 0


def _decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))  # RFC 8259: JSON between systems is UTF-8
    except RecursionError:
        _invalid_json(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
    except ValueError:  # syntax, not UTF-8 (UnicodeDecodeError), integers beyond the digit limit
        _invalid_json("Invalid JSON body.")


def _invalid_json(message: str) -> NoReturn:
    abort(400, errors={"json": [message]}, message=message)


def _unstorable_strings(document: Any) -> dict[str, Any]:
    """``{path…: [message]}`` (nested like marshmallow's errors) for every bad key or string.

    Iterative, so that depth is checked before anything else recurses into the document.
    """
    errors: dict[str, Any] = {}
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            _invalid_json(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                if _UNSTORABLE.search(key):
                    _record(errors, (*path, _printable(key)))
                else:
                    stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
        elif isinstance(value, str) and _UNSTORABLE.search(value):
            _record(errors, path)
    return errors


def _record(errors: dict[str, Any], path: tuple[str | int, ...]) -> None:
    # Keys as strings (list positions too): the JSON answer is the same, and sorting keys of
    # mixed types while serialising it cannot fail.
    *parents, leaf = [str(step) for step in path] or ["_schema"]
    node = errors
    for step in parents:
        node = node.setdefault(step, {})
    node[leaf] = [_UNSTORABLE_MESSAGE]


def _printable(text: str) -> str:
    """``text`` fit to be echoed in an error (and logged): bad characters become U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)
