"""The Alembic environment of every service database (the logic is in common.database.migrations)."""

from common.database.migrations import run_env

run_env()
