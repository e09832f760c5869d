"""applicant access: token facts per recipient, used live tickets

notify checks applicant tokens with what it learns from loan_app (token generations, the end of
the application) and opens live streams with single-use tickets (common/web/applicant_access.py,
notify_app/live/tickets.py). Recipients whose application had already ended are given the time
of their last update as their end.

Revision ID: a6fc562f388f
Revises: d1a9c0b7e105
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = 'a6fc562f388f'
down_revision: str | None = 'd1a9c0b7e105'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FINAL = "('APPROVED', 'REJECTED', 'WITHDRAWN', 'FAILED', 'EXPIRED')"


def upgrade() -> None:
    op.add_column('recipients', sa.Column('access_generation', sa.Integer(), server_default='1', nullable=False))
    op.add_column('recipients', sa.Column('access_valid_from', sa.Integer(), server_default='1', nullable=False))
    op.add_column('recipients', sa.Column('ended_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True))
    op.execute(f"UPDATE recipients SET ended_at = updated_at WHERE status IN {_FINAL}")
    op.create_table('used_live_tickets',
    sa.Column('ticket_id', sa.String(length=36), nullable=False),
    sa.Column('expires_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('ticket_id')
    )
    op.create_index('ix_used_live_tickets_expires_at', 'used_live_tickets', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_used_live_tickets_expires_at', table_name='used_live_tickets')
    op.drop_table('used_live_tickets')
    with op.batch_alter_table('recipients') as batch:
        batch.drop_column('ended_at')
        batch.drop_column('access_valid_from')
        batch.drop_column('access_generation')
