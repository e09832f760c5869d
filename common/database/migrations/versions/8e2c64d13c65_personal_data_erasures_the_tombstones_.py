"""personal data erasures: the tombstones of erased applications

One row per application whose personal data this service erased (an admin's request or the
retention period), kept for good: later messages about the application read it and write no
personal data back (``common.messaging.erasure``).

Revision ID: 8e2c64d13c65
Revises: 2d937fe2bb80
Create Date: 2026-12-05 11:26:17.054820
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = '8e2c64d13c65'
down_revision: str | None = '2d937fe2bb80'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('personal_data_erasures',
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('requested_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=True),
    sa.Column('erased_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('application_id')
    )


def downgrade() -> None:
    op.drop_table('personal_data_erasures')
