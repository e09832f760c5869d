"""Alembic environment of credit_app (shared logic in common.migrations)."""

from common.migrations import run_env

run_env()
