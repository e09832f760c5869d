"""What operators see and do in every service: probes, task history, dead letters, parked outbox rows.

Mounted by each service's app under ``/<svc>/…`` and read by the task dashboard. As in a service:
``routes`` holds the views, ``schemas`` their schemas, ``queries``/``task_history`` what they
read and ``commands`` what they change (one unit of work each, audited). ``probes`` answers
Kubernetes and Prometheus; ``state_metrics`` and ``queue_stats`` feed them. A new operator action
on messages of any service goes here.
"""
