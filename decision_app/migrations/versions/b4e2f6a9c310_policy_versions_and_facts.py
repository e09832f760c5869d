"""policy versions published at runtime; each decision's facts and who made it

``policy_versions``: the versions of the lending policy an admin created and published (the one
published last is in force). ``decisions.facts``: what the decision was made from, so that a
shadow run can decide it again under a candidate version (null for older rows, which a shadow
run skips). ``decisions.decided_by``: ``rules`` (every older row) or ``officers``.

Revision ID: b4e2f6a9c310
Revises: d1a9c0b7e104
Create Date: 2026-12-06 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = 'b4e2f6a9c310'
down_revision: str | None = 'd1a9c0b7e104'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('policy_versions',
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('thresholds', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=64), nullable=True),
    sa.Column('published_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('version')
    )
    op.add_column('decisions', sa.Column('decided_by', sa.String(length=10), server_default='rules', nullable=False))
    op.add_column('decisions', sa.Column('facts', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('decisions') as batch:
        batch.drop_column('facts')
        batch.drop_column('decided_by')
    op.drop_table('policy_versions')
