#!/usr/bin/env bash
# First start of the PostgreSQL container (docker-entrypoint-initdb.d): one database per loanflow
# service, owned by the application role ($POSTGRES_USER). Idempotent. The tables are created
# afterwards by `python -m loanflow.cli migrate` (the compose `migrate` service).
set -euo pipefail

for service in loan credit property decision notify; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-postgres}" <<SQL
SELECT 'CREATE DATABASE loanflow_${service} OWNER "${POSTGRES_USER}"'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'loanflow_${service}')\gexec
SQL
done
echo "loanflow databases ready: loanflow_loan loanflow_credit loanflow_property loanflow_decision loanflow_notify"
