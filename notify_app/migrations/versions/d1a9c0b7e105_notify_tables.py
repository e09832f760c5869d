"""notify's own tables: notifications, recipients, documents, e-mails

Folded from 31c4965e069d, fcb9a2b179a1, 34a6f36f70e8 (recipient reasons), 4ac13abdc489
(documents and e-mails), e575a8492d61 and d1a9c0b7e105: the columns in the order they left. The id
is the former head: a database stamped there is up to date.

Revision ID: d1a9c0b7e105
Revises:
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = 'd1a9c0b7e105'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('notify',)
depends_on: str | Sequence[str] | None = '747da8887142'


def upgrade() -> None:
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('previous_status', sa.String(length=20), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'seq', name='uq_notifications_application_seq')
    )
    op.create_index('ix_notifications_application_id', 'notifications', ['application_id'], unique=False)

    op.create_table('recipients',
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('updated_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('application_id')
    )
    op.create_index('ix_recipients_status', 'recipients', ['status'], unique=False)
    op.create_index('ix_recipients_updated_at', 'recipients', ['updated_at'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('filename', sa.String(length=128), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'kind', name='uq_documents_application_kind')
    )
    op.create_index('ix_documents_application_id', 'documents', ['application_id'], unique=False)

    op.create_table('emails',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('status_reported', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('created_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'seq', name='uq_emails_application_seq')
    )
    op.create_index('ix_emails_application_id', 'emails', ['application_id'], unique=False)
    op.create_index('ix_emails_status', 'emails', ['status'], unique=False)


def downgrade() -> None:
    for table in ('emails', 'documents', 'recipients', 'notifications'):
        op.drop_table(table)
