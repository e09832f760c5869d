"""credit's own table: credit inquiries

Replaces credit's former 6eaa3d210d3c (initial schema), 7222750f01bd, e60deb0d60dd and
d1a9c0b7e102, less the tables now in the ``shared`` branch. The id
is the former head: a database stamped there is up to date.

Revision ID: d1a9c0b7e102
Revises:
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = 'd1a9c0b7e102'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('credit',)
depends_on: str | Sequence[str] | None = '747da8887142'


def upgrade() -> None:
    op.create_table('credit_inquiries',
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('bureau_inquiry_id', sa.String(length=64), nullable=True),
    sa.Column('bureau_found', sa.Boolean(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('payment_incidents', sa.Integer(), nullable=True),
    sa.Column('open_credits', sa.Integer(), nullable=True),
    sa.Column('monthly_income', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('monthly_debts', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('debt_to_income', sa.Numeric(precision=10, scale=4), nullable=True),
    sa.Column('created_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('application_id')
    )
    op.create_index('ix_credit_inquiries_status', 'credit_inquiries', ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('credit_inquiries')
