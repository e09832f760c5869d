"""Swagger UI at ``/<svc>/docs``, served from local files and under the pages' CSP.

flask-smorest's own Swagger UI page starts the UI with an inline script, which the pages'
Content-Security-Policy (:mod:`common.web.security_headers`: ``script-src 'self'``) refuses to
run. This page is the same UI with that script in a file (``static/swagger-init.js``), the
document's URL given as a data attribute. Swagger UI's own files come from the installed bundle
(no CDN: it works on a machine without internet).
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Flask, Response, send_from_directory

STATIC = Path(__file__).with_name("static")

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{assets}swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{assets}swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""


def install_swagger_ui(app: Flask, service: str, title: str) -> None:
    """Route ``/<service>/docs`` (the page), its start script and Swagger UI's files."""
    prefix = f"/{service}/docs"
    page = PAGE.format(title=escape(title), assets=f"{prefix}/assets/", spec=f"/{service}/openapi.json",
                       init=f"{prefix}/swagger-init.js")

    def swagger_ui() -> Response:
        """Swagger UI on this service's OpenAPI document."""
        return Response(page, mimetype="text/html")

    app.add_url_rule(prefix, "swagger_ui", swagger_ui)
    app.add_url_rule(f"{prefix}/swagger-init.js", "swagger_init", swagger_init)
    app.add_url_rule(f"{prefix}/assets/<path:filename>", "swagger_assets", swagger_assets)


def swagger_init() -> Any:
    """The script that starts Swagger UI on the page."""
    return send_from_directory(STATIC, "swagger-init.js", max_age=300)


def swagger_assets(filename: str) -> Any:
    """Swagger UI's files, from the installed bundle."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=3600)
