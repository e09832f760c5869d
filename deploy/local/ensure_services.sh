#!/usr/bin/env bash
# Make sure RabbitMQ and PostgreSQL answer on loopback, starting (or installing) them if needed,
# and that loanflow's databases exist. Idempotent; used by `make test`, `make run-services`, CI.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done; echo "port $1 never opened" >&2; return 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! port_open 5432; then
  if ! ls /etc/postgresql >/dev/null 2>&1; then
    as_root apt-get update -qq && as_root apt-get install -y -qq postgresql >/dev/null
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  wait_port 5432
fi

if ! port_open 5672; then
  if ! command -v rabbitmq-server >/dev/null; then
    as_root apt-get update -qq && as_root apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  as_root rabbitmq-server -detached || true
  wait_port 5672
fi
# Wait until RabbitMQ really serves AMQP, not only listens.
for _ in $(seq 1 60); do
  if as_root rabbitmqctl -q status >/dev/null 2>&1; then break; fi; sleep 1
done

# The task dashboard reads queue depth, consumers and unacked counts from the management API;
# Prometheus scrapes the broker through its plugin. Both idempotent.
as_root rabbitmq-plugins enable --quiet rabbitmq_management rabbitmq_prometheus >/dev/null 2>&1 || true

psql_admin() { psql -h 127.0.0.1 -U postgres -d postgres -tAc "$1"; }

# A whole loanflow system is ~20 processes with small pools each, and the tests run one beside
# the developer's own: 100 connections (the default) is too tight. Raised once, then kept.
if [ "$(psql_admin "SHOW max_connections")" -lt 300 ]; then
  psql_admin "ALTER SYSTEM SET max_connections = 300" >/dev/null
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main restart
  wait_port 5432
  for _ in $(seq 1 30); do psql_admin "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
fi
for svc in loan credit property decision notify; do
  for db in "loanflow_${svc}" "loanflow_test_${svc}"; do
    if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='${db}'")" != 1 ]; then
      psql_admin "CREATE DATABASE ${db}" >/dev/null
    fi
  done
done
echo "RabbitMQ and PostgreSQL are up; databases exist."
