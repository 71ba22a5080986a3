"""Sessions, answers and the study's identity (schema version 1 of the hand-rolled migrations)."""

import sqlalchemy as sa
from alembic import op

revision = "v1"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "proceval_study",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "proceval_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("participant", sa.String(128), nullable=False),
        sa.Column("participant_key", sa.String(200), unique=True),
        sa.Column("study_id", sa.String(64)),
        sa.Column("prolific_session", sa.String(64)),
        sa.Column("pilot", sa.Boolean, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("list_index", sa.Integer),
        sa.Column("plan", sa.Text),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("shown_position", sa.Integer),
        sa.Column("shown_at", sa.Float),
        sa.Column("check_attempts", sa.Integer, nullable=False),
        sa.Column("demographics", sa.Text),
        sa.Column("completion_code", sa.String(64)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("assigned_at", sa.Float),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("completed_at", sa.Float),
    )
    op.create_index("ix_proceval_sessions_list_index", "proceval_sessions", ["list_index"])
    op.create_table(
        "proceval_answers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("proceval_sessions.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("condition", sa.String(200)),
        sa.Column("scenario_id", sa.String(128)),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("correct", sa.Boolean),
        sa.Column("rt_ms", sa.Integer),
        sa.Column("comment", sa.Text),
        sa.Column("option_order", sa.Text),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("pilot", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("session_id", "position", name="uq_proceval_answer_position"),
    )
    op.create_index("ix_proceval_answers_session_id", "proceval_answers", ["session_id"])
