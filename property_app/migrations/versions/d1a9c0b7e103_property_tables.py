"""property's own table: valuations

Property used to create it in 0fdf6b7d62e8, beside its copies of the shared tables, which
dce23cad8c86, 7f65bd61928e and d1a9c0b7e103 then changed. The id
is the former head: a database stamped there is up to date.

Revision ID: d1a9c0b7e103
Revises:
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = 'd1a9c0b7e103'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('property',)
depends_on: str | Sequence[str] | None = '747da8887142'


def upgrade() -> None:
    op.create_table('valuations',
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('postcode', sa.String(length=5), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('surface_m2', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('estimated_value', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('price_per_m2', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('loan_to_value', sa.Numeric(precision=10, scale=4), nullable=True),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('adjustments', sa.JSON(), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('created_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('application_id')
    )
    op.create_index('ix_valuations_status', 'valuations', ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('valuations')
