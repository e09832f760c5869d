"""Dramatiq entrypoint of loan_app: ``dramatiq loan_app.worker``."""

from common.service.entrypoints import worker_broker

broker = worker_broker("loan")
