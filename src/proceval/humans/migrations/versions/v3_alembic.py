"""Alembic takes over from the hand-rolled migrations.

Their version table stays, holding version 3: proceval releases from before Alembic read it, see a version
newer than theirs and refuse the database instead of writing to a schema they do not know.
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "v3"
down_revision = "v2"

LEGACY_TABLE = "proceval_migrations"


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table(LEGACY_TABLE):  # a database Alembic created from the start
        op.create_table(LEGACY_TABLE, sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
                        sa.Column("applied_at", sa.Float, nullable=False))
    table = sa.table(LEGACY_TABLE, sa.column("version", sa.Integer), sa.column("applied_at", sa.Float))
    op.bulk_insert(table, [{"version": 3, "applied_at": time.time()}])
