"""What operators see and do in every service: task attempts, dead letters, outbox, queues, state metrics.

Mounted by each service under ``/<svc>/…`` and read by the task dashboard. A new operator action on
messages of any service goes here.
"""
