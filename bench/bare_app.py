"""A bare Flask JSON endpoint: the floor under which no loanflow endpoint can go on this machine.

``bench/api.py`` serves it with the very gunicorn flags of ``loan_web`` in the Procfile (same
config file, workers, threads, worker class) and loads it with wrk next to the loan service.
"""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def ok() -> dict[str, bool]:
        return {"ok": True}

    return app
