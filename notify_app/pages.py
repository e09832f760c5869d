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
    """Register the dashboard, the applicant page, the task dashboard and their assets."""
    app.add_url_rule("/notify/dashboard", view_func=dashboard)
    app.add_url_rule("/notify/track/<uuid:application_id>", view_func=track)
    app.add_url_rule("/tasks", view_func=taskboard)
    app.add_url_rule("/tasks/", view_func=taskboard)
    app.add_url_rule("/notify/static/<path:filename>", view_func=static_asset)
    app.add_url_rule("/notify/", view_func=index)


def dashboard() -> Any:
    """The officers' live dashboard."""
    return send_from_directory(STATIC, "dashboard.html", max_age=0)


def track(application_id: Any) -> Any:
    """An applicant's status page (it reads the id from its own URL)."""
    return send_from_directory(STATIC, "track.html", max_age=0)


def taskboard() -> Any:
    """The operators' task dashboard."""
    return send_from_directory(STATIC, "tasks.html", max_age=0)


def static_asset(filename: str) -> Any:
    """The pages' scripts and styles."""
    return send_from_directory(STATIC, filename, max_age=300)


def index() -> Any:
    """``/notify/`` leads to the dashboard."""
    return redirect("/notify/dashboard")
