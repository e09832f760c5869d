#!/usr/bin/env bash
# Make sure the programs of PostgreSQL (initdb, pg_ctl) and RabbitMQ (rabbitmq-server, rabbitmqctl)
# are installed, without starting or touching any server: `make test` boots its own cluster and
# node from them (tests/support/servers.py). Idempotent; run as root or with sudo.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
have_pg() { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }

need=()
have_pg || need+=(postgresql)
command -v rabbitmq-server >/dev/null 2>&1 || need+=(rabbitmq-server)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  log="$(mktemp)"
  # Debian's packages may start their default servers on install; the tests never use those.
  if { as_root apt-get update -qq && as_root apt-get install -y -qq "${need[@]}"; } >"$log" 2>&1; then
    rm -f "$log"
  else
    cat "$log" >&2; rm -f "$log"; echo "ensure_server_packages: could not install ${need[*]}" >&2; exit 1
  fi
fi
echo "PostgreSQL and RabbitMQ programs are installed (the tests start their own servers)."
