"""Alembic environment of property_app (shared logic in common.database.migrations)."""

from common.database.migrations import run_env

run_env()
