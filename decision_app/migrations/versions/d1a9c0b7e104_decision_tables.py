"""decision's own table: the decisions made

The initial schema 2e23b02bb1ec made it; fe54470a7846, f25a086164ec and d1a9c0b7e104 only
touched the shared tables, which the ``shared`` branch now migrates. The id
is the former head: a database stamped there is up to date.

Revision ID: d1a9c0b7e104
Revises:
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = 'd1a9c0b7e104'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('decision',)
depends_on: str | Sequence[str] | None = '747da8887142'


def upgrade() -> None:
    op.create_table('decisions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('policy_version', sa.String(length=32), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('created_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'round', name='uq_decisions_application_round')
    )
    op.create_index('ix_decisions_application_id', 'decisions', ['application_id'], unique=False)
    op.create_index('ix_decisions_outcome', 'decisions', ['outcome'], unique=False)


def downgrade() -> None:
    op.drop_table('decisions')
