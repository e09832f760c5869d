"""Dramatiq entrypoint of credit_app: ``dramatiq credit_app.worker``."""

from common.service.entrypoints import worker_broker

broker = worker_broker("credit")
