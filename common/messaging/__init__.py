"""Messages between services: contracts, envelopes, the outbox, the unit of work, relay and consumers.

The transactional outbox lives here end to end: the unit of work writes state and outbox rows in one
commit, the relay publishes committed rows to RabbitMQ with confirms, consumers deduplicate on the
message id and record attempts and dead letters. A new message-level mechanism (a middleware, a
delivery rule, a dead-letter policy) goes here; a new message *type* goes in ``contracts``.
"""
