"""gunicorn settings shared by every loanflow web process (``--config deploy/gunicorn.conf.py``).

prometheus-client's multiprocess mode keeps each worker's metrics in files under
``PROMETHEUS_MULTIPROC_DIR``: the directory is emptied when the server starts (stale files of a
previous run would be counted again) and a dead worker's files are marked so that its live
gauges stop counting.

gunicorn's own error answers (a request line over ``limit_request_line``: 414) are JSON like the
application's (``common.web.gunicorn_errors``).

On ``SIGTERM`` a worker first runs the process's shutdown callbacks (``common.web.lifecycle``: notify
ends its live streams, whose clients reconnect elsewhere), then gunicorn's own handler: the
worker stops within a second or two instead of waiting for each stream's next heartbeat.
"""

import os
import shutil
import signal

from prometheus_client import multiprocess

accesslog = None  # access lines would carry ?ticket= and ?link= credentials; app logs say what matters
graceful_timeout = 20
# gunicorn's control socket has one default path per user ($HOME/.gunicorn/gunicorn.ctl): with
# several gunicorn masters on one host (our Procfile runs six) each would replace and then unlink
# the others'. We do not use gunicornc.
control_socket_disable = True
timeout = 60
# Seconds an idle keep-alive connection stays open. The gateway (and any proxy in front) must drop
# its idle upstream connections sooner (loanflow.gateway.UPSTREAM_KEEPALIVE_SECONDS): a request
# sent on a connection gunicorn is closing at that instant fails, and the client gets a 502 for a
# POST that never reached the service (seen at 64 POST/s, docs/benchmarks.md).
keepalive = 5
# What a request may be before the application sees it; the same as common.web.gunicorn_errors.LIMITS
# (a test holds them equal): this file is read before the project is importable.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def _multiproc_dir():
    # Imported here, in the master's hooks (gunicorn has put the working directory on sys.path by
    # then): the variable is read by common.kernel.settings, like every other.
    from common.kernel.settings import prometheus_multiproc_dir

    return prometheus_multiproc_dir()


def on_starting(server):
    directory = _multiproc_dir()
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    directory = _multiproc_dir()
    if directory:
        multiprocess.mark_process_dead(worker.pid, directory)


def post_worker_init(worker):
    from common.web import gunicorn_errors, lifecycle

    gunicorn_errors.install()

    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        lifecycle.begin_shutdown()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
