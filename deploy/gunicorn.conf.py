"""gunicorn settings shared by every loanflow web process (``--config deploy/gunicorn.conf.py``).

prometheus-client's multiprocess mode keeps each worker's metrics in files under
``PROMETHEUS_MULTIPROC_DIR``: the directory is emptied when the server starts (stale files of a
previous run would be counted again) and a dead worker's files are marked so that its live
gauges stop counting.
"""

import os
import shutil

from prometheus_client import multiprocess

accesslog = None  # access lines would carry ?token= of live endpoints; app logs say what matters
graceful_timeout = 20
timeout = 60


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
