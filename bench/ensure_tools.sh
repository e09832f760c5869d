#!/usr/bin/env bash
# Make sure the benchmark's tools are installed: wrk (Debian's package, the HTTP load generator of
# bench/api.py) and the Python ones pinned in requirements-dev.txt (psutil, py-spy).
# Idempotent and quiet (apt's and pip's output is shown only if they fail); run as root or with sudo.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
quietly() { if ! "$@" >>"$log" 2>&1; then cat "$log" >&2; echo "bench/ensure_tools: failed: $*" >&2; exit 1; fi; }

if ! command -v wrk >/dev/null 2>&1; then
  quietly as_root apt-get update -qq
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi

if ! "$PYTHON" -c 'import psutil' >/dev/null 2>&1 || [ ! -x "$(dirname "$PYTHON")/py-spy" ]; then
  quietly "$PYTHON" -m pip install -q $(grep -E '^(psutil|py-spy)==' "$ROOT/requirements-dev.txt")
fi
