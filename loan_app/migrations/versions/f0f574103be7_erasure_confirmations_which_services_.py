"""erasure confirmations: which services erased an application's personal data

One row per (application, service) from ``PersonalDataErased``; ``GET
/loan/applications/{id}/erasure`` shows them beside loan's own tombstone.

Revision ID: f0f574103be7
Revises: d1a9c0b7e101
Create Date: 2026-12-05 11:26:53.505212
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = 'f0f574103be7'
down_revision: str | None = 'd1a9c0b7e101'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('erasure_confirmations',
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('service', sa.String(length=16), nullable=False),
    sa.Column('erased_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('application_id', 'service')
    )


def downgrade() -> None:
    op.drop_table('erasure_confirmations')
