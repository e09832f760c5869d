"""A stand-in for the external credit bureau, for demos, tests and benchmarks.

Why it exists: the credit service must be exercised against something that speaks HTTP, is slow
and fails like a real bureau, without a contract, network access or real people's data. This app
answers inquiries from a small seeded file of fictional people (``records.json``, described in
``README.md``) and can inject latency and 503 failures, at start-up or at runtime.

Why its state lives in memory only: inquiries sit in a dict guarded by a lock and vanish on restart,
on purpose. A simulator with nothing to migrate or clean up starts in milliseconds and gives every
test and benchmark a blank slate; the credit service must not rely on the bureau remembering
anything it cannot ask again with the same ``reference``. It follows that it must run as ONE
process (gunicorn's default of one worker; add ``--threads`` for concurrency), e.g.::

    gunicorn 'loanflow.bureau_simulator:create_app()' -b 127.0.0.1:8090 --threads 8

Fault settings (config key = environment variable, config wins): ``BUREAU_LATENCY_MS`` (default 0,
applied with a ±20 % jitter), ``BUREAU_FAILURE_RATE`` (0.0-1.0, default 0) and ``BUREAU_SEED`` (seeds
the ``random.Random`` drawing jitter and failures, so a failing run can be replayed). Tests change
them with ``PUT /v1/_faults``. Faults apply to ``/v1/inquiries`` only: ``/health`` and the fault
endpoints always answer, so a test can always switch an outage off again.

``GET /v1/_requests?reference=…`` tells which inquiry requests are being answered right now and how
many were received per reference. Why: a fault test that kills the credit worker mid-call must know
that a call is in flight (not guess with a sleep), and can then prove that the message was delivered
again — the same reference asked twice — instead of inferring it from the final status alone.

Nothing here logs names or birth dates: log lines carry inquiry ids and references only.

The package: ``state`` (the people, inquiries and faults in memory), ``validation`` (what a
request or a setting may hold), ``settings`` (the ``BUREAU_*`` variables, read there only),
``routes`` (the HTTP API) and ``app`` (``create_app``).
"""

from __future__ import annotations

from loanflow.bureau_simulator.app import create_app
from loanflow.bureau_simulator.state import RECORDS_PATH, SimulatorState, normalise_name

__all__ = ["RECORDS_PATH", "SimulatorState", "create_app", "normalise_name"]
