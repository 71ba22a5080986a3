"""Drop the answers' index on ``session_id`` alone: the unique key on ``(session_id, position)`` starts with that
column, so it serves every lookup by session, and each stored answer had one index entry more to write."""

from alembic import op

revision = "v4"
down_revision = "v3"


def upgrade() -> None:
    op.drop_index("ix_proceval_answers_session_id", table_name="proceval_answers")
