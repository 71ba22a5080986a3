"""The study database's schema under Alembic: created once when several processes start together, upgraded
from databases the hand-rolled migrations made (rows kept), and refused when newer than this proceval."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from proceval.errors import HumansError
from proceval.humans.migrate import head
from proceval.humans.schema import metadata
from proceval.humans.storage import StudyStore

# What proceval's hand-rolled migrations created (SQLAlchemy's DDL for their tables, copied from that release):
# version 1 the first four statements, version 2 added the admin sessions. {serial}: SERIAL on PostgreSQL.
LEGACY_V1 = [
    "CREATE TABLE proceval_migrations (version INTEGER NOT NULL, applied_at FLOAT NOT NULL, PRIMARY KEY (version))",
    'CREATE TABLE proceval_study ("key" VARCHAR(64) NOT NULL, value TEXT NOT NULL, PRIMARY KEY ("key"))',
    """CREATE TABLE proceval_sessions (id {serial} NOT NULL, token_hash VARCHAR(64) NOT NULL,
        public_id VARCHAR(32) NOT NULL, participant VARCHAR(128) NOT NULL, participant_key VARCHAR(200),
        study_id VARCHAR(64), prolific_session VARCHAR(64), pilot BOOLEAN NOT NULL, stage VARCHAR(16) NOT NULL,
        csrf VARCHAR(64) NOT NULL, list_index INTEGER, "plan" TEXT, position INTEGER NOT NULL,
        shown_position INTEGER, shown_at FLOAT, check_attempts INTEGER NOT NULL, demographics TEXT,
        completion_code VARCHAR(64), created_at FLOAT NOT NULL, assigned_at FLOAT, updated_at FLOAT NOT NULL,
        completed_at FLOAT, PRIMARY KEY (id), UNIQUE (token_hash), UNIQUE (public_id), UNIQUE (participant_key))""",
    "CREATE INDEX ix_proceval_sessions_list_index ON proceval_sessions (list_index)",
    """CREATE TABLE proceval_answers (id {serial} NOT NULL, session_id INTEGER NOT NULL, position INTEGER NOT NULL,
        kind VARCHAR(8) NOT NULL, item_id VARCHAR(128) NOT NULL, condition VARCHAR(200), scenario_id VARCHAR(128),
        response TEXT NOT NULL, correct BOOLEAN, rt_ms INTEGER, comment TEXT, option_order TEXT,
        idempotency_key VARCHAR(64) NOT NULL, pilot BOOLEAN NOT NULL, created_at FLOAT NOT NULL, PRIMARY KEY (id),
        CONSTRAINT uq_proceval_answer_position UNIQUE (session_id, position),
        FOREIGN KEY(session_id) REFERENCES proceval_sessions (id), UNIQUE (idempotency_key))""",
    "CREATE INDEX ix_proceval_answers_session_id ON proceval_answers (session_id)",
    "INSERT INTO proceval_migrations VALUES (1, 1700000000.0)",
]
LEGACY_V2 = [
    *LEGACY_V1,
    """CREATE TABLE proceval_admin_sessions (token_hash VARCHAR(64) NOT NULL, admin_key VARCHAR(64) NOT NULL,
        created_at FLOAT NOT NULL, expires_at FLOAT NOT NULL, PRIMARY KEY (token_hash))""",
    "CREATE INDEX ix_proceval_admin_sessions_expires_at ON proceval_admin_sessions (expires_at)",
    "INSERT INTO proceval_migrations VALUES (2, 1700000001.0)",
]
ROWS = [
    "INSERT INTO proceval_study VALUES ('dataset', 'abc123')",
    """INSERT INTO proceval_sessions (token_hash, public_id, participant, pilot, stage, csrf, list_index, "plan",
        position, check_attempts, created_at, updated_at) VALUES ('h1', 'p1', 'old-participant', false, 'trials',
        'c1', 0, '[{"item": "i0"}]', 1, 0, 1700000000.0, 1700000000.0)""",
    """INSERT INTO proceval_answers (session_id, position, kind, item_id, response, idempotency_key, pilot,
        created_at) VALUES (1, 0, 'item', 'i0', 'a', 'key-from-the-old-release', false, 1700000002.0)""",
]


def make_legacy(db_url: str, statements: list[str]) -> None:
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
    with engine.begin() as conn:
        for statement in statements + ROWS:
            conn.exec_driver_sql(statement.replace("{serial}", serial))
    engine.dispose()


def assert_schema_matches_the_tables(store: StudyStore) -> None:
    """The migrations build exactly the tables schema.py declares (Alembic's autogenerate finds no difference)."""
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


@pytest.mark.parametrize("legacy", [LEGACY_V1, LEGACY_V2], ids=["version-1", "version-2"])
def test_a_database_of_the_hand_rolled_migrations_upgrades_and_keeps_its_rows(db_url: str,
                                                                              legacy: list[str]) -> None:
    make_legacy(db_url, legacy)
    store = StudyStore(db_url)
    assert store.schema_revision() == head() == "v4"
    assert_schema_matches_the_tables(store)
    [answer] = list(store.iter_answers())
    assert (answer["participant"], answer["position"], answer["response"]) == ("old-participant", 0, "a")
    store.bind_study({"dataset": "abc123"})  # the study it served is still recorded
    # the old session goes on where it stopped; a key stored by the old release is still recognised
    assert store.save_answer(1, 0, kind="item", item_id="i0", response="a", key="key-from-the-old-release",
                             n_trials=1, next_stage="debrief") == "duplicate"
    token = store.create_admin_session("k", 60)  # the version-2 table, created or kept
    assert store.admin_session_valid(token, "k")
    with store.engine.connect() as conn:  # releases before Alembic see version 3 and refuse the database
        assert conn.exec_driver_sql("SELECT max(version) FROM proceval_migrations").scalar() == 3
    store.close()


def test_a_fresh_database_is_created_at_head_and_reopening_is_harmless(db_url: str) -> None:
    store = StudyStore(db_url)
    assert store.schema_revision() == head()
    assert_schema_matches_the_tables(store)
    store.close()
    again = StudyStore(db_url)  # a restart: nothing to migrate
    assert again.schema_revision() == head()
    with again.engine.begin() as conn:  # as a newer proceval would leave it
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'v99'")
    again.close()
    with pytest.raises(HumansError, match="revision v99, newer than this proceval"):
        StudyStore(db_url)


# Each process imports proceval, says it is ready, waits for the go file, then opens the store (which
# migrates) and prints the revision: the processes really race for the schema.
RACER = """
import sys, time
from pathlib import Path
from proceval.humans.storage import StudyStore
Path(sys.argv[2]).touch()
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
store = StudyStore(sys.argv[1])
print(store.schema_revision())
store.close()
"""


def test_processes_starting_together_create_the_schema_once(db_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, db_url, str(tmp_path / f"ready{i}"), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{i}").exists() for i in range(4)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
            [p.communicate() for p in procs if p.poll() is not None]
        time.sleep(0.02)
    go.touch()
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-1500:] for _, err in results]
    assert [out.strip() for out, _ in results] == [head()] * 4
    store = StudyStore(db_url)
    assert_schema_matches_the_tables(store)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
        assert conn.exec_driver_sql("SELECT count(*) FROM proceval_migrations WHERE version = 3").scalar() == 1
    store.close()
