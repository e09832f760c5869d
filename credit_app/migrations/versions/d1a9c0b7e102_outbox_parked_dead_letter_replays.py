"""outbox parked rows, dead letter replays

The same change in every service (the shared tables): the relay parks an outbox row it can
never publish (``outbox.parked_at``), and a dead letter counts its replays
(``dead_letters.replays``), so that a replay that fails again is parked again.

Revision ID: d1a9c0b7e102
Revises: e60deb0d60dd
Create Date: 2026-11-29 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock


revision: str = 'd1a9c0b7e102'
down_revision: str | None = 'e60deb0d60dd'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parked_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replays', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_column('replays')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('parked_at')
