"""shared tables: outbox, processed messages, dead letters, operator actions, task attempts

The base of the ``shared`` branch, which runs in every service database. It folds the revisions
each service used to carry a copy of (its initial schema's outbox and processed messages, then
"dead letters, task attempts, operator actions", "task timings" and "outbox parked rows, dead
letter replays"), with the columns in the order those revisions left them.

Revision ID: 747da8887142
Revises:
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = '747da8887142'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('shared',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('message_type', sa.String(length=64), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=True),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('parked_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_outbox_application_id', 'outbox', ['application_id'], unique=False)
    op.create_index('ix_outbox_pending', 'outbox', ['created_at'], unique=False,
                    postgresql_where=sa.text('sent_at IS NULL'), sqlite_where=sa.text('sent_at IS NULL'))
    op.create_index('ix_outbox_sent_at', 'outbox', ['sent_at'], unique=False)

    op.create_table('processed_messages',
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=True),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('processed_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('message_id')
    )
    op.create_index('ix_processed_messages_application_id', 'processed_messages', ['application_id'], unique=False)
    op.create_index('ix_processed_messages_processed_at', 'processed_messages', ['processed_at'], unique=False)

    op.create_table('dead_letters',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('message_type', sa.String(length=64), nullable=True),
    sa.Column('application_id', sa.String(length=36), nullable=True),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('message', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('retries', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('parked_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True),
    sa.Column('replays', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    op.create_index('ix_dead_letters_actor', 'dead_letters', ['actor'], unique=False)
    op.create_index('ix_dead_letters_application_id', 'dead_letters', ['application_id'], unique=False)
    op.create_index('ix_dead_letters_parked_at', 'dead_letters', ['parked_at'], unique=False)
    op.create_index('ix_dead_letters_status', 'dead_letters', ['status'], unique=False)

    op.create_table('operator_actions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_operator_actions_at', 'operator_actions', ['at'], unique=False)

    op.create_table('task_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_task_attempts_actor', 'task_attempts', ['actor'], unique=False)
    op.create_index('ix_task_attempts_application_id', 'task_attempts', ['application_id'], unique=False)
    op.create_index('ix_task_attempts_at', 'task_attempts', ['at'], unique=False)
    op.create_index('ix_task_attempts_message_id', 'task_attempts', ['message_id'], unique=False)


def downgrade() -> None:
    for table in ('task_attempts', 'operator_actions', 'dead_letters', 'processed_messages', 'outbox'):
        op.drop_table(table)
