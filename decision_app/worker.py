"""Dramatiq entrypoint of decision_app: ``dramatiq decision_app.worker``."""

from common.service.entrypoints import worker_broker

broker = worker_broker("decision")
