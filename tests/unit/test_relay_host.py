"""The outbox relay hosted by a service's Dramatiq worker (``common.service.background.RelayHost``)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker

from common.service.background import RelayHost
from common.service.entrypoints import load_definition
from common.service.runtime import Runtime
from tests.conftest import make_settings


def test_a_worker_of_the_services_queue_hosts_the_relay_until_it_shuts_down() -> None:
    rt = Runtime(load_definition("notify"), make_settings("notify", "sqlite://"))
    host, broker = RelayHost(rt), StubBroker()
    try:
        host.after_worker_boot(broker, dramatiq.Worker(broker, queues={"notify"}))
        names = {thread.name for thread in host.threads}
        assert "notify-relay" in names and all(thread.is_alive() for thread in host.threads)
        assert rt.broker is broker
        host.before_worker_shutdown(broker, dramatiq.Worker(broker, queues={"notify"}))
        assert not any(thread.is_alive() for thread in host.threads)
    finally:
        host.stop.set()
        rt.dispose()


def test_a_worker_of_other_queues_only_hosts_nothing() -> None:
    """notify_documents_worker (``--queues notify.documents``): one relay per service, not two."""
    rt = Runtime(load_definition("notify"), make_settings("notify", "sqlite://"))
    host = RelayHost(rt)
    try:
        broker = StubBroker()
        host.after_worker_boot(broker, dramatiq.Worker(broker, queues={"notify.documents"}))
        assert host.threads == []
    finally:
        rt.dispose()
