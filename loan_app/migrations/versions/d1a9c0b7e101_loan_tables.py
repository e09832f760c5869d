"""loan's own tables: applications and their history

Until the ``shared`` branch, the loan service's history was b1af2406a6a7 (initial schema),
b248ccb809ca, be362fa8f1a5 and d1a9c0b7e101; of what they created, these are loan's. The id
is the former head: a database stamped there is up to date.

Revision ID: d1a9c0b7e101
Revises:
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = 'd1a9c0b7e101'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('loan',)
depends_on: str | Sequence[str] | None = '747da8887142'


def upgrade() -> None:
    op.create_table('applications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=False),
    sa.Column('applicant', sa.JSON(), nullable=False),
    sa.Column('property', sa.JSON(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('duration_months', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('credit', sa.JSON(), nullable=True),
    sa.Column('valuation', sa.JSON(), nullable=True),
    sa.Column('decision', sa.JSON(), nullable=True),
    sa.Column('requested_information', sa.JSON(), nullable=True),
    sa.Column('information', sa.JSON(), nullable=False),
    sa.Column('failure', sa.JSON(), nullable=True),
    sa.Column('compensations', sa.JSON(), nullable=False),
    sa.Column('deadline', common.kernel.clock.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_applications_created_at', 'applications', ['created_at'], unique=False)
    op.create_index('ix_applications_deadline', 'applications', ['deadline'], unique=False)
    op.create_index('ix_applications_status', 'applications', ['status'], unique=False)

    op.create_table('application_history',
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cause', sa.Text(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ),
    sa.PrimaryKeyConstraint('application_id', 'seq')
    )


def downgrade() -> None:
    op.drop_table('application_history')
    op.drop_table('applications')
