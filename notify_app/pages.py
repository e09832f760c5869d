"""The HTML pages notify_app serves: the officers' live dashboard, an applicant's status page, and
the operators' task dashboard (``/tasks``, routed here by the gateway; it reads every service's
``/<svc>/tasks…`` and ``/<svc>/dead-letters`` staff endpoints).

Plain HTML, CSS and JavaScript from ``notify_app/static`` (no build step, no CDN): the pages use
the same public endpoints as any client (the staff list, SSE/WebSocket streams, documents).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, redirect, send_from_directory

STATIC = Path(__file__).with_name("static")


def install_pages(app: Flask) -> None:
    """Register the dashboard, the applicant page and their assets."""

    @app.get("/notify/dashboard")
    def dashboard() -> Any:
        return send_from_directory(STATIC, "dashboard.html", max_age=0)

    @app.get("/notify/track/<uuid:application_id>")
    def track(application_id: Any) -> Any:
        return send_from_directory(STATIC, "track.html", max_age=0)

    @app.get("/tasks")
    @app.get("/tasks/")
    def taskboard() -> Any:
        return send_from_directory(STATIC, "tasks.html", max_age=0)

    @app.get("/notify/static/<path:filename>")
    def static_asset(filename: str) -> Any:
        return send_from_directory(STATIC, filename, max_age=300)

    @app.get("/notify/")
    def index() -> Any:
        return redirect("/notify/dashboard")
