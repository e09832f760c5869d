"""Dramatiq entrypoint of property_app: ``dramatiq property_app.worker``."""

from common.service.entrypoints import worker_broker

broker = worker_broker("property")
