"""applicant access: token generations, the re-issue throttle, when the application ended

Applicant tokens expire some time after the application's final status and can be re-issued
or revoked (common/web/applicant_access.py, loan_app/domain/access.py). Applications that had
already ended are given the time of their last update as their end.

Revision ID: 618b5f8ecc81
Revises: f0f574103be7
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.kernel.clock

revision: str = '618b5f8ecc81'
down_revision: str | None = 'f0f574103be7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FINAL = "('APPROVED', 'REJECTED', 'WITHDRAWN', 'FAILED', 'EXPIRED')"


def upgrade() -> None:
    op.add_column('applications', sa.Column('access_generation', sa.Integer(), server_default='1', nullable=False))
    op.add_column('applications', sa.Column('access_valid_from', sa.Integer(), server_default='1', nullable=False))
    op.add_column('applications', sa.Column('access_sent_at', common.kernel.clock.UTCDateTime(timezone=True),
                                            nullable=True))
    op.add_column('applications', sa.Column('ended_at', common.kernel.clock.UTCDateTime(timezone=True), nullable=True))
    op.execute(f"UPDATE applications SET ended_at = updated_at WHERE status IN {_FINAL}")


def downgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('ended_at')
        batch.drop_column('access_sent_at')
        batch.drop_column('access_valid_from')
        batch.drop_column('access_generation')
