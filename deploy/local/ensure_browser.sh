#!/usr/bin/env bash
# Make sure Debian's Chromium is installed at /usr/bin/chromium, for the browser tests
# (tests/e2e/test_pages.py drives it with Playwright; no browser is ever downloaded).
# Idempotent and quiet (apt's output is shown only if it fails); run as root or with sudo.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x /usr/bin/chromium ]; then
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! { as_root apt-get update -qq &&
         as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "could not install chromium" >&2
    exit 1
  fi
fi
# Debian's wrapper script prints a harmless shell warning on some machines: keep it quiet.
/usr/bin/chromium --version >/dev/null 2>&1
