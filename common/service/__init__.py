"""How one service is assembled and run: its definition, its runtime, and the processes it runs as.

``runtime`` wires a :class:`~common.service.runtime.ServiceDefinition` to settings; ``entrypoints``
starts it as a web app, a Dramatiq worker, an outbox relay or a migration.
"""
