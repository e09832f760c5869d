"""Dramatiq entrypoint of decision_app: ``dramatiq decision_app.worker``."""

from common.entrypoints import worker_broker

broker = worker_broker("decision")
