"""staff accounts and the sign-in throttle

One row per staff member (role, argon2id hash), and the failed sign-ins per username that
throttle guessing (loan_app/accounts.py). The first account is made by ``staff ensure-admin``.

Revision ID: c372843a2de5
Revises: 618b5f8ecc81
Create Date: 2026-12-05 16:24:37.165733
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = 'c372843a2de5'
down_revision: str | None = '618b5f8ecc81'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_in_failures',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('staff_accounts',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_sign_in_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username')
    )


def downgrade() -> None:
    op.drop_table('staff_accounts')
    op.drop_table('sign_in_failures')
