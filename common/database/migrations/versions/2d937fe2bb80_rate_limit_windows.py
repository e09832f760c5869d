"""rate limit windows: request counts per client and window (common.database.ratelimits)

In every service database, so that the limiter of ``common.web.ratelimit`` can be put on any
service's view; ``POST /loan/applications`` is the first.

Revision ID: 2d937fe2bb80
Revises: 747da8887142
Create Date: 2026-12-05 11:25:26.126683
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = '2d937fe2bb80'
down_revision: str | None = '747da8887142'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rate_limit_windows',
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('ends_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'subject')
    )
    op.create_index('ix_rate_limit_windows_ends_at', 'rate_limit_windows', ['ends_at'], unique=False)


def downgrade() -> None:
    op.drop_table('rate_limit_windows')
