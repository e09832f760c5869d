"""Starting the stack for a benchmark: the Procfile's processes, some commands changed for one run.

``--threads`` and ``--nice`` try a setting without editing the Procfile, so a before/after
comparison is two command lines.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import subprocess
import time
from pathlib import Path
from typing import Any


def override_commands(threads: list[str], nice: list[str]) -> dict[str, dict[str, int]]:
    """Change ``--threads`` or the niceness of Procfile entries for this run only (the Procfile is left alone)."""
    import tests.support.stack as stack_module

    wanted = {kind: {name: int(n) for name, _, n in (o.partition("=") for o in options)}
              for kind, options in (("threads", threads), ("nice", nice))}
    if not any(wanted.values()):
        return {}
    original = stack_module.procfile

    def patched(path: Path = stack_module.ROOT / "Procfile") -> dict[str, str]:
        entries = original(path)
        for name, count in wanted["threads"].items():
            if name not in entries or "--threads" not in entries[name]:
                raise SystemExit(f"--threads {name}=…: no such Procfile entry with --threads")
            entries[name] = re.sub(r"--threads \d+", f"--threads {count}", entries[name])
        for name, niceness in wanted["nice"].items():
            if name not in entries:
                raise SystemExit(f"--nice {name}=…: no such Procfile entry")
            entries[name] = f"nice -n {niceness} {entries[name]}"
        return entries

    stack_module.procfile = patched
    return wanted


def launch(exits: contextlib.ExitStack, args: argparse.Namespace, log_dir: Path, env: dict[str, str]) -> Any:
    """``launched(...)``, tried again if rabbitmqctl failed (the node busy or briefly stopped)."""
    from tests.support.stack import launched

    for attempt in range(3):
        try:
            return exits.enter_context(launched(args.prefix, args.vhost, args.offset, log_dir, **env))
        except (subprocess.CalledProcessError, RuntimeError):
            if attempt == 2:
                raise
            time.sleep(5)
    raise AssertionError("unreachable")
