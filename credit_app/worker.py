"""Dramatiq entrypoint of credit_app: ``dramatiq credit_app.worker``."""

from common.entrypoints import worker_broker

broker = worker_broker("credit")
