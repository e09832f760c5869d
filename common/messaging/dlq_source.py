"""Reading a service's dead-letter queue (``<queue>.XQ``) on RabbitMQ or the stub broker.

AMQP has no browse, so :class:`RabbitDeadLetters` takes messages one by one with ``basic_get``
on a connection of its own (pika connections are not thread-safe) and acknowledges each only
when told to, after it has been parked in the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pika
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import xq_name

Fetched = tuple[dramatiq.Message, Callable[[], None]]


class RabbitDeadLetters:
    def __init__(self, url: str, queue: str) -> None:
        self.queue = xq_name(queue)
        params = pika.URLParameters(url)
        params.socket_timeout = 5
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()

    def fetch(self, limit: int) -> Iterator[Fetched]:
        for _ in range(limit):
            try:
                method, _properties, body = self.channel.basic_get(self.queue, auto_ack=False)
            except pika.exceptions.ChannelClosedByBroker:
                return  # the queue does not exist yet: nothing ever failed here
            if method is None:
                return
            tag = method.delivery_tag
            yield dramatiq.Message.decode(body), lambda tag=tag: self.channel.basic_ack(tag)

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


class StubDeadLetters:
    def __init__(self, broker: StubBroker, queue: str) -> None:
        self.broker = broker
        self.queue = queue

    def fetch(self, limit: int) -> Iterator[Fetched]:
        letters = self.broker.dead_letters_by_queue[self.queue]
        for _ in range(min(limit, len(letters))):
            proxy = letters[0]
            yield proxy._message, lambda: letters.pop(0)

    def close(self) -> None:
        pass


def dead_letter_source(runtime: Any, queue: str) -> RabbitDeadLetters | StubDeadLetters:
    """The dead-letter queue of ``queue`` (one of the service's) on the broker it uses."""
    if isinstance(runtime.broker, StubBroker):
        return StubDeadLetters(runtime.broker, queue)
    return RabbitDeadLetters(runtime.settings.broker_url, queue)
