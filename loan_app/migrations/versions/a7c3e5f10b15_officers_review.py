"""the officers' review of a referred application

A referred application (status ``REFERRED``) carries its review: reasons, due time in working
hours, claim, proposal, confirmation, escalation, and every action with who took it
(loan_app/domain/review.py). One JSON value of the aggregate, changed under its row lock.

Revision ID: a7c3e5f10b15
Revises: c372843a2de5
Create Date: 2026-12-06 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a7c3e5f10b15'
down_revision: str | None = 'c372843a2de5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('applications', sa.Column('review', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('review')
