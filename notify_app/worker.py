"""Dramatiq entrypoint of notify_app: ``dramatiq loan_app.worker``."""

from common.entrypoints import worker_broker

broker = worker_broker("notify")
