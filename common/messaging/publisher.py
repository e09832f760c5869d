"""Publishing a batch of Dramatiq messages for the outbox relay, each one confirmed by the broker.

Dramatiq's ``RabbitmqBroker.enqueue`` with ``confirm_delivery`` waits for RabbitMQ's confirm of
each message before sending the next: one network round trip and one broker fsync per message,
about 240 messages/s for a relay on this machine (docs/benchmarks.md). :class:`RabbitPublisher`
keeps the same messages and the same guarantee but pipelines them: it writes a whole batch on a
channel in confirm mode, then waits once for all the acks (RabbitMQ confirms many messages with
one ``multiple`` ack, after one fsync). It owns a dedicated pika ``BlockingConnection``, used by
the relay's thread only, rather than the broker's thread-local one: the relay then never shares a
connection with a worker's consumers, and its socket can be serviced (heartbeats) while idle.

pika's ``BlockingChannel`` only offers one-confirm-at-a-time publishing, so the publisher talks to
the channel's underlying asynchronous ``pika.channel.Channel`` (``BlockingChannel._impl``, stable
since pika 1.0) for the publishes, the confirm callbacks and the returns, and waits with the
connection's ``_flush_output`` (what every blocking call of pika runs: write, then read until a
condition holds; ``process_data_events`` would sleep its whole time limit, as it does not know
our condition). Queues are declared with the blocking API, exactly as Dramatiq declares them
(the queue, its ``.DQ`` and ``.XQ``). pika is pinned (requirements.txt), and the integration
tests exercise each of these paths.

What a message's result means is :data:`Result`: ``None`` confirmed; an exception: failed (the
relay tells an unreachable broker from a refusal with ``relay.broker_unreachable``). A result list
shorter than the batch means the rest was not published (broker unreachable, or the channel was
closed by a refusal: the caller publishes the rest again). :class:`BrokerPublisher` is the simple
path for any other broker (the embedded mode's stub, test doubles): one ``enqueue`` per message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import dramatiq
import pika
from dramatiq import Broker
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.common import dq_name, xq_name

log = logging.getLogger(__name__)

#: ``None``: the broker confirmed the message; an exception: it was not published.
Result = BaseException | None
#: The confirm of a message not received within this many seconds: the broker is taken as
#: unreachable (a blocked connection under a resource alarm, a black-holed link).
CONFIRM_TIMEOUT = 30.0


class Unroutable(Exception):
    """RabbitMQ returned the message (``mandatory``): no queue of that name (a refusal, not an outage)."""


class BrokerPublisher:
    """Any Dramatiq broker: one ``enqueue`` per message, stopping at the first failure."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def publish(self, messages: Sequence[dramatiq.Message]) -> list[Result]:
        results: list[Result] = []
        for message in messages:
            try:
                self.broker.enqueue(message)
            except Exception as error:
                results.append(error)
                break  # the relay decides: wait for the broker, or go on with the rest
            results.append(None)
        return results

    def idle(self) -> None:
        """Nothing to keep alive."""

    def close(self) -> None:
        """The broker is the caller's."""


class RabbitPublisher:
    """A dedicated connection publishing batches with pipelined publisher confirms (module doc)."""

    def __init__(self, broker: RabbitmqBroker, confirm_timeout: float = CONFIRM_TIMEOUT) -> None:
        self.parameters = broker.parameters
        self.queue_arguments = broker._build_queue_arguments  # the x-dead-letter-* Dramatiq sets
        self.confirm_timeout = confirm_timeout
        self.connection: pika.BlockingConnection | None = None
        self.channel: Any = None
        self.declared: set[str] = set()
        self._next_tag = 0
        self._outstanding: dict[int, None] = {}  # delivery tags published, not yet confirmed, in order
        self._settled: dict[int, bool] = {}  # delivery tag → acked (True) or nacked (False)
        self._returned: dict[str, str] = {}  # message id → why RabbitMQ returned it
        self._closed: BaseException | None = None

    # --- connection ---------------------------------------------------------------------------

    def _open(self) -> None:
        if self.connection is None or not self.connection.is_open:
            self.close()
            self.connection = pika.BlockingConnection(self.parameters)
            self.declared = set()
        if self.channel is None or not self.channel.is_open:
            self.channel = self.connection.channel()
            self._next_tag, self._closed = 0, None
            self._outstanding, self._settled, self._returned = {}, {}, {}
            impl = self.channel._impl
            impl.add_on_close_callback(self._on_channel_closed)
            impl.add_on_return_callback(self._on_returned)
            impl.confirm_delivery(ack_nack_callback=self._on_confirm)  # nowait: in order before any publish

    def close(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # a dead socket: nothing to close cleanly
                log.debug("closing the relay's broker connection failed", exc_info=True)

    def idle(self) -> None:
        """Service the connection while there is nothing to publish (heartbeats, a close)."""
        if self.connection is not None and self.connection.is_open:
            try:
                self.connection.process_data_events(0)
            except Exception:
                self.close()

    # --- callbacks (run inside process_data_events, on the relay's thread) ----------------------

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        if not method.multiple:
            self._outstanding.pop(method.delivery_tag, None)
            self._settled[method.delivery_tag] = acked
            return
        while self._outstanding:  # every tag up to this one, oldest first
            tag = next(iter(self._outstanding))
            if tag > method.delivery_tag:
                break
            del self._outstanding[tag]
            self._settled[tag] = acked

    def _on_returned(self, _channel: Any, method: Any, _properties: Any, body: bytes) -> None:
        # Unroutable (mandatory): its queue is gone. It is confirmed right after; forget the queue
        # so that it is declared again, and count the message as failed.
        self.declared.discard(method.routing_key)
        try:
            message_id = dramatiq.Message.decode(body).message_id
        except Exception:
            return
        self._returned[message_id] = f"{method.reply_code} {method.reply_text} ({method.routing_key})"

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        self._closed = reason

    # --- publishing ---------------------------------------------------------------------------

    def publish(self, messages: Sequence[dramatiq.Message]) -> list[Result]:
        """Publish ``messages`` in order on one channel, then wait for their confirms (module doc)."""
        try:
            self._open()
        except Exception as error:
            self.close()
            return [error]
        done: list[Result] = []
        tags: list[int] = []
        for index, message in enumerate(messages):
            if message.queue_name not in self.declared:
                # A refused declare closes the channel: let what is in flight be confirmed first,
                # so that the refusal is this message's alone.
                settled, complete = self._settle(messages[len(done):index], tags)
                done += settled
                tags = []
                if not complete:
                    return done
                error = self._declare(message.queue_name)
                if error is not None:
                    return [*done, error]
            try:
                self.channel._impl.basic_publish(
                    exchange="", routing_key=message.queue_name, body=message.encode(),
                    properties=pika.BasicProperties(delivery_mode=2, priority=message.options.get("broker_priority")),
                    mandatory=True,
                )
            except Exception as error:  # the connection broke under us: what was written is in doubt
                self.close()
                lost = ConnectionError(f"publishing failed: {type(error).__name__}: {error}")
                settled, _complete = self._settle(messages[len(done):index], tags, lost)
                return [*done, *settled] if len(settled) < len(tags) else [*done, *settled, lost]
            self._next_tag += 1
            self._outstanding[self._next_tag] = None
            tags.append(self._next_tag)
        settled, _complete = self._settle(messages[len(done):], tags)
        return done + settled

    def _coalesce(self) -> None:
        """One write for the whole batch: pika queues each frame (three per message) as a chunk
        of its own and sends them one ``send()`` each; joined, the batch costs one system call."""
        buffers = getattr(getattr(self.connection._impl, "_transport", None), "_tx_buffers", None)  # type: ignore[union-attr]
        if buffers is not None and len(buffers) > 1:
            joined = b"".join(buffers)
            buffers.clear()
            buffers.append(joined)

    def _declare(self, queue: str) -> BaseException | None:
        """Declare ``queue`` as Dramatiq does; the error when refused or unreachable."""
        try:
            arguments = self.queue_arguments(queue)
            self.channel.queue_declare(queue=queue, durable=True, arguments=arguments)
            self.channel.queue_declare(queue=dq_name(queue), durable=True, arguments=arguments)
            self.channel.queue_declare(queue=xq_name(queue), durable=True,
                                       arguments={"x-message-ttl": DEAD_MESSAGE_TTL})
        except pika.exceptions.AMQPChannelError as error:
            self.channel = None  # closed by the broker: a new one next time
            return error
        except Exception as error:
            self.close()
            return error
        self.declared.add(queue)
        return None

    def _settle(self, messages: Sequence[dramatiq.Message], tags: list[int],
                lost: BaseException | None = None) -> tuple[list[Result], bool]:
        """Wait for the confirms of ``tags`` (one per message, in order): a result per message up
        to the first one whose fate a closed channel or connection (``lost``) left unknown; and
        whether every message got its result."""
        if tags and lost is None:
            deadline = time.monotonic() + self.confirm_timeout
            self._coalesce()
            try:
                # Flush the batch and read until every confirm is in (or the channel closed): the
                # waiter is checked after each read, at least every 5 s (pika's longest poll).
                self.connection._flush_output(  # type: ignore[union-attr]
                    lambda: self._closed is not None or not self._outstanding or time.monotonic() > deadline)
                if self._closed is None and self._outstanding:
                    raise TimeoutError(f"no confirm from RabbitMQ within {self.confirm_timeout:.0f} s")
            except Exception as error:
                self.close()
                lost = error
        if lost is None and self._closed is not None:
            lost, self.channel = self._closed, None
        results: list[Result] = []
        for message, tag in zip(messages, tags, strict=True):
            acked = self._settled.pop(tag, None)
            if acked is None:  # connection lost, channel closed, or no answer: stop here
                results.append(lost or RuntimeError("no confirm"))
                return results, False
            returned = self._returned.pop(message.message_id, None)
            if returned is not None:
                results.append(Unroutable(returned))
            elif not acked:
                results.append(pika.exceptions.NackError([message.message_id]))
            else:
                results.append(None)
        return results, True


def publisher_for(broker: Broker) -> BrokerPublisher | RabbitPublisher:
    """The pipelined publisher for RabbitMQ, one ``enqueue`` per message for any other broker."""
    if isinstance(broker, RabbitmqBroker):
        return RabbitPublisher(broker)
    return BrokerPublisher(broker)
