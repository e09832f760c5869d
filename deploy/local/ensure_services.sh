#!/usr/bin/env bash
# Make sure the RabbitMQ and PostgreSQL that `make run-services` (and `make bench`) use answer,
# and that loanflow's databases exist on that PostgreSQL. Idempotent.
#
# Which servers: those of the environment (deploy/local/services.env gives the defaults, a variable
# already set wins). Only when they are this machine's default servers (127.0.0.1:5432 and :5672)
# does this script start them, or install them from Debian's packages, if they are down; servers
# elsewhere are only waited for. The test suite does not use this script: it boots its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
set -a; . deploy/local/services.env; set +a

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 60); do port_open "$1" "$2" && return 0; sleep 1; done
  echo "$1:$2 never answered" >&2; return 1
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# host and port of a URL such as postgresql+psycopg://user@host:port/db or amqp://u:p@host:port/vhost
host_of() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; echo "${rest%%:*}"; }
port_of() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; [ "${rest#*:}" != "$rest" ] && echo "${rest#*:}" || echo "$2"; }

PG_HOST="$(host_of "$LOAN_DATABASE_URL")"; PG_PORT="$(port_of "$LOAN_DATABASE_URL" 5432)"
MQ_HOST="$(host_of "$BROKER_URL")"; MQ_PORT="$(port_of "$BROKER_URL" 5672)"
local_pg=""; [ "$PG_HOST:$PG_PORT" = "127.0.0.1:5432" ] || [ "$PG_HOST:$PG_PORT" = "localhost:5432" ] && local_pg=1
local_mq=""; [ "$MQ_HOST:$MQ_PORT" = "127.0.0.1:5672" ] || [ "$MQ_HOST:$MQ_PORT" = "localhost:5672" ] && local_mq=1

if [ -n "$local_pg" ] && ! port_open "$PG_HOST" "$PG_PORT"; then
  if ! ls /etc/postgresql >/dev/null 2>&1; then
    as_root apt-get update -qq && as_root apt-get install -y -qq postgresql >/dev/null
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
fi
wait_port "$PG_HOST" "$PG_PORT"

if [ -n "$local_mq" ] && ! port_open "$MQ_HOST" "$MQ_PORT"; then
  if ! command -v rabbitmq-server >/dev/null; then
    as_root apt-get update -qq && as_root apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  as_root rabbitmq-server -detached || true
fi
wait_port "$MQ_HOST" "$MQ_PORT"
if [ -n "$local_mq" ]; then
  # Wait until RabbitMQ really serves AMQP, not only listens.
  for _ in $(seq 1 60); do
    if as_root rabbitmqctl -q status >/dev/null 2>&1; then break; fi; sleep 1
  done
  # The task dashboard reads queue depth, consumers and unacked counts from the management API;
  # Prometheus scrapes the broker through its plugin. Both idempotent.
  as_root rabbitmq-plugins enable --quiet rabbitmq_management rabbitmq_prometheus >/dev/null 2>&1 || true
fi

# The superuser connection of the configured server (its URL without the database).
PG_ADMIN="${LOAN_DATABASE_URL/postgresql+psycopg:/postgresql:}"; PG_ADMIN="${PG_ADMIN%/*}/postgres"
psql_admin() { psql "$PG_ADMIN" -tAc "$1"; }
for _ in $(seq 1 30); do psql_admin "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done

# A whole loanflow system is ~20 processes with small pools each: 100 connections (the default) is
# too tight. Raised once on this machine's own server, then kept; a server elsewhere is yours to size.
if [ -n "$local_pg" ] && [ "$(psql_admin "SHOW max_connections")" -lt 300 ]; then
  psql_admin "ALTER SYSTEM SET max_connections = 300" >/dev/null
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main restart
  wait_port "$PG_HOST" "$PG_PORT"
  for _ in $(seq 1 30); do psql_admin "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
fi
for url in "$LOAN_DATABASE_URL" "$CREDIT_DATABASE_URL" "$PROPERTY_DATABASE_URL" "$DECISION_DATABASE_URL" \
           "$NOTIFY_DATABASE_URL"; do
  db="${url##*/}"; db="${db%%\?*}"
  if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='${db}'")" != 1 ]; then
    psql_admin "CREATE DATABASE \"${db}\"" >/dev/null
  fi
done
echo "RabbitMQ ($MQ_HOST:$MQ_PORT) and PostgreSQL ($PG_HOST:$PG_PORT) are up; databases exist."
