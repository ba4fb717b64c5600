"""limits and quotas: per-tenant and per-key limits, usage indexed for quota sums

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limits", sa.JSON(), nullable=True))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limits", sa.JSON(), nullable=True))
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_tenant_id_created_at", ["tenant_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_usage_key_id_created_at", ["key_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_key_id_created_at")
        batch_op.drop_index("ix_usage_tenant_id_created_at")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("limits")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("limits")
