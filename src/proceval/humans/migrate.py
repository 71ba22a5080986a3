"""Creating and upgrading the study database's schema with Alembic, one process at a time.

Several server processes (``proceval serve --workers N``) start together on one database: each runs
``upgrade head`` inside a transaction that first takes a lock (PostgreSQL: an advisory lock held until
commit; SQLite: ``BEGIN IMMEDIATE``, the database's write lock), so one process migrates and the others
then find the schema current. Databases made by proceval before Alembic (a ``proceval_migrations`` table
and no ``alembic_version``) are stamped with the revision their version number names, then upgraded.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from proceval.errors import HumansError
from proceval.humans.schema import legacy_versions_table

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 4242017  # the PostgreSQL advisory lock key migrations hold


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn  # migrations/env.py runs on it
    return config


def head() -> str:
    """The newest revision this proceval knows."""
    revision = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert revision is not None
    return revision


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None: no Alembic schema yet)."""
    return MigrationContext.configure(conn).get_current_revision()


def _legacy_version(conn: Connection) -> int:
    """The schema version the hand-rolled migrations left (0: none)."""
    if not sa.inspect(conn).has_table(legacy_versions_table.name):
        return 0
    return int(conn.execute(sa.select(sa.func.max(legacy_versions_table.c.version))).scalar() or 0)


def upgrade(conn: Connection, *, postgres: bool) -> str:
    """Bring the schema to the head revision on ``conn``, which must be in a write transaction (on SQLite an
    immediate one); the caller commits. Returns the revision reached."""
    if postgres:  # released at commit; a process that waited here then finds the schema current
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    config = _config(conn)
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    current = current_revision(conn)
    if current is None:
        legacy = _legacy_version(conn)
        if legacy:
            if f"v{legacy}" not in known:
                raise _newer(f"schema version {legacy}")
            command.stamp(config, f"v{legacy}")
    elif current not in known:
        raise _newer(f"schema revision {current}")
    command.upgrade(config, "head")
    return head()


def _newer(what: str) -> HumansError:
    return HumansError(f"the database has {what}, newer than this proceval (which knows up to {head()})",
                       field="--db", hint="upgrade proceval")
