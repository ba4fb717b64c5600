"""encryption at rest: the wrapped data keys of artifacts sealed with AES-256-GCM

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=512), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(length=64), nullable=False),
        sa.Column("master_key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner", "digest"),
    )
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_keys_digest"), ["digest"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_data_keys_master_key_id"), ["master_key_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_keys_master_key_id"))
        batch_op.drop_index(batch_op.f("ix_data_keys_digest"))
    op.drop_table("data_keys")
