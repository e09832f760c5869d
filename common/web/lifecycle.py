"""Shutdown callbacks of a web process, run when gunicorn asks its worker to stop.

A gunicorn worker that receives ``SIGTERM`` stops accepting and waits up to
``graceful_timeout`` for the requests it is serving. Live streams (SSE, WebSocket) are requests
that never end by themselves: without a word from the worker they would notice only at their next
heartbeat (15 s) and every rolling deploy of notify would wait that long. ``deploy/gunicorn.conf.py``
chains :func:`begin_shutdown` in front of gunicorn's own ``SIGTERM`` handler; a service registers
what must end promptly (notify's hub closes its streams) with :func:`on_shutdown`.

Callbacks run in the signal handler, in the worker's main thread: they must only set flags and
wake threads, never block.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_callbacks: list[Callable[[], None]] = []
_lock = threading.Lock()
SHUTTING_DOWN = threading.Event()


def on_shutdown(callback: Callable[[], None]) -> None:
    """Run ``callback`` when this process begins to shut down (at once if it already has)."""
    with _lock:
        _callbacks.append(callback)
    if SHUTTING_DOWN.is_set():
        callback()


def begin_shutdown() -> None:
    """Run every registered callback once; later calls do nothing."""
    if SHUTTING_DOWN.is_set():
        return
    SHUTTING_DOWN.set()
    with _lock:
        callbacks = list(_callbacks)
    for callback in callbacks:
        try:
            callback()
        except Exception:  # one failing callback must not keep the others from running
            log.exception("shutdown callback failed")
