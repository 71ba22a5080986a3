"""Where the web study keeps sessions and answers: SQLite (WAL) or PostgreSQL through SQLAlchemy Core.

Every state change is one short transaction. Stage changes are conditional updates
(``... WHERE stage = :expected``), so a double-submitted form changes state once; answers carry an
idempotency key and a unique ``(session, position)``, so a retried or duplicated request stores one row.
On SQLite every transaction starts with ``BEGIN IMMEDIATE`` (writers queue on the busy timeout instead of
failing on a stale snapshot); the database runs in WAL mode with ``synchronous=NORMAL``, which keeps every
committed answer through a crash of the server process.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from proceval.errors import HumansError
from proceval.humans.database import Database, normalise_url
from proceval.humans.migrate import current_revision, upgrade
from proceval.humans.schema import (
    _RAW_ADVANCE_TRIAL,
    _RAW_ANSWERED,
    _RAW_INSERT_ANSWER,
    _RAW_PRIOR_BY_KEY,
    _RAW_SESSION_BY_HASH,
    _RAW_SESSION_STATE,
    _RAW_SESSION_STATE_LOCKED,
    PG_SAVE_ANSWER,
    PLAN_CACHE_SIZE,
    admin_sessions_table,
    answer_columns,
    answers_table,
    pg_save_answer_params,
    sessions_table,
    study_table,
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_digest(token: str | None) -> str | None:
    """A cookie's token as the database finds it: its hash, or None for no token or one longer than any issued."""
    return hash_token(token) if token and len(token) <= 128 else None


def new_token() -> str:
    """An unguessable session token (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass
class SessionRow:
    id: int
    public_id: str
    participant: str
    study_id: str | None
    prolific_session: str | None
    pilot: bool
    stage: str
    csrf: str
    list_index: int | None
    plan: list[dict[str, Any]] | None
    position: int
    shown_position: int | None
    shown_at: float | None
    check_attempts: int
    completion_code: str | None
    created_at: float
    completed_at: float | None

    @classmethod
    def from_row(cls, row: Any, plans: dict[int, list[dict[str, Any]]] | None = None) -> SessionRow:
        """A session from a database row; ``plans`` caches parsed plans (a plan never changes once set)."""
        return cls.from_mapping(row._mapping, plans)

    @classmethod
    def from_mapping(cls, m: Any, plans: dict[int, list[dict[str, Any]]] | None = None) -> SessionRow:
        """A session from anything indexable by column name (a row mapping, an ``sqlite3.Row``)."""
        plan = None
        if m["plan"]:
            plan = plans.get(m["id"]) if plans is not None else None
            if plan is None:
                plan = json.loads(m["plan"])
                if plans is not None:
                    if len(plans) >= PLAN_CACHE_SIZE:
                        plans.pop(next(iter(plans)))
                    plans[m["id"]] = plan
        return cls(
            id=m["id"], public_id=m["public_id"], participant=m["participant"], study_id=m["study_id"],
            prolific_session=m["prolific_session"], pilot=bool(m["pilot"]), stage=m["stage"], csrf=m["csrf"],
            list_index=m["list_index"], plan=plan,
            position=m["position"], shown_position=m["shown_position"], shown_at=m["shown_at"],
            check_attempts=m["check_attempts"], completion_code=m["completion_code"],
            created_at=m["created_at"], completed_at=m["completed_at"],
        )


class SessionExists(HumansError):
    """A second session for a Prolific participant who already has one (two tabs opened at once)."""


class AnswerConflict(HumansError):
    """An answer that cannot be stored: the idempotency key belongs to another trial or session."""


SaveResult = Literal["saved", "duplicate", "stale"]


class StudyStore(Database):
    """Sessions and answers of one study in one database. Creates or migrates the schema on open."""

    def __init__(self, db_url: str, *, create: bool = True) -> None:
        super().__init__(db_url, create=create)
        self._plans: dict[int, list[dict[str, Any]]] = {}
        try:
            self.migrate()
        except OperationalError as exc:
            shown = make_url(normalise_url(db_url)).render_as_string(hide_password=True)
            raise HumansError(f"cannot open the database {shown}: {exc.orig}", field="--db",
                              hint="check that the server runs and the URL, user and database are right") from None

    # ----------------------------------------------------------------- schema
    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at."""
        with self.engine.connect() as conn:
            return current_revision(conn)

    def migrate(self) -> str:
        """Create the schema or apply every migration newer than the database's (one process at a time);
        returns the revision reached."""
        with self._writing() as conn:
            return upgrade(conn, postgres=self.is_postgres)

    # ------------------------------------------------------------------ study
    def bind_study(self, values: dict[str, str]) -> None:
        """Record what this database serves (dataset hash, lists) or check it serves the same.

        A database holds one study: answers from a different dataset or different lists would not be
        comparable, so a mismatch is an error, not a silent mix.
        """
        with self._writing() as conn:
            stored = dict(conn.execute(select(study_table.c.key, study_table.c.value)).all())
            for key, value in values.items():
                if key not in stored:
                    conn.execute(study_table.insert().values(key=key, value=value))
                elif stored[key] != value:
                    raise HumansError(
                        f"this database already holds a study with a different {key.replace('_', ' ')}",
                        field="--db",
                        hint="serve the same dataset and study config as before, or use a new database file",
                    )

    # --------------------------------------------------------------- sessions
    def create_session(self, *, participant: str | None, study_id: str | None,
                       prolific_session: str | None, pilot: bool) -> tuple[str, SessionRow]:
        """A new session in the consent stage; returns its secret token and row."""
        token = new_token()
        public_id = secrets.token_hex(8)
        now = time.time()
        name = participant or (("pilot-" if pilot else "anon-") + public_id)
        key = f"{study_id or ''}:{participant}" if participant and not pilot else None
        try:
            return token, self._insert_session(token, public_id, name, key, study_id, prolific_session, pilot, now)
        except IntegrityError:
            raise SessionExists("this participant already has a session", field="PROLIFIC_PID") from None

    def _insert_session(self, token: str, public_id: str, name: str, key: str | None, study_id: str | None,
                        prolific_session: str | None, pilot: bool, now: float) -> SessionRow:
        with self._writing() as conn:
            result = conn.execute(sessions_table.insert().values(
                token_hash=hash_token(token), public_id=public_id, participant=name, participant_key=key,
                study_id=study_id, prolific_session=prolific_session, pilot=pilot, stage="consent",
                csrf=secrets.token_urlsafe(24), position=0, check_attempts=0, created_at=now, updated_at=now,
            ))
            assert result.inserted_primary_key is not None
            session_id = int(result.inserted_primary_key[0])
            row = conn.execute(select(sessions_table).where(sessions_table.c.id == session_id)).one()
        return SessionRow.from_row(row)

    def session_by_token(self, token: str) -> SessionRow | None:
        digest = token_digest(token)
        if digest is None:
            return None
        with self._hot(write=False) as run:  # one statement in autocommit mode: its own snapshot
            row = run(_RAW_SESSION_BY_HASH, (digest,))
        return SessionRow.from_mapping(row, self._plans) if row is not None else None

    def session_by_participant(self, study_id: str | None, participant: str) -> SessionRow | None:
        row = self._first(select(sessions_table).where(
            sessions_table.c.participant_key == f"{study_id or ''}:{participant}"))
        return SessionRow.from_row(row) if row else None

    def rotate_token(self, session_id: int) -> str:
        """A new token for a session (the participant returned in another browser); the old one stops working."""
        token = new_token()
        with self._writing() as conn:
            conn.execute(update(sessions_table).where(sessions_table.c.id == session_id).values(
                token_hash=hash_token(token), updated_at=time.time()))
        return token

    def advance(self, session_id: int, expected: str, stage: str, **values: Any) -> bool:
        """Move a session from ``expected`` to ``stage``; False (nothing changed) if it was not in ``expected``."""
        now = time.time()
        if stage == "completed":
            values.setdefault("completed_at", now)
        with self._writing() as conn:
            result = conn.execute(update(sessions_table).where(
                sessions_table.c.id == session_id, sessions_table.c.stage == expected,
            ).values(stage=stage, updated_at=now, **values))
            return bool(result.rowcount)

    def failed_check(self, session_id: int, max_attempts: int) -> str:
        """Count a failed comprehension check; back to the instructions, or screened out at the limit."""
        with self._writing() as conn:
            row = conn.execute(self._lock(select(sessions_table.c.stage, sessions_table.c.check_attempts)
                                          .where(sessions_table.c.id == session_id))).one()
            if row.stage != "check":
                return str(row.stage)
            attempts = row.check_attempts + 1
            stage = "screened_out" if attempts >= max_attempts else "instructions"
            conn.execute(update(sessions_table).where(sessions_table.c.id == session_id).values(
                check_attempts=attempts, stage=stage, updated_at=time.time()))
            return stage

    def _lock(self, stmt: Any) -> Any:
        return stmt.with_for_update() if self.is_postgres else stmt

    def assign(self, session_id: int, expected: str, n_lists: int, timeout_s: float,
               plan_for: Callable[[int], list[dict[str, Any]]]) -> bool:
        """Put the session in the least-filled list and start its trials.

        Fill counts completed sessions and sessions assigned less than ``timeout_s`` ago (pilot sessions
        do not count). One assignment at a time: an immediate transaction on SQLite, an advisory lock on
        PostgreSQL.
        """
        from proceval.humans.assignment import least_filled

        now = time.time()
        with self._writing() as conn:
            if self.is_postgres:  # serialise assignments (released at commit)
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242018)")
            row = conn.execute(self._lock(select(sessions_table.c.stage, sessions_table.c.pilot)
                                          .where(sessions_table.c.id == session_id))).one()
            if row.stage != expected:
                return False
            s = sessions_table.c
            filled = conn.execute(
                select(s.list_index, func.count()).where(
                    s.list_index.is_not(None), s.pilot.is_(False),
                    (s.stage == "completed") | ((s.assigned_at > now - timeout_s) & (s.stage != "screened_out")),
                ).group_by(s.list_index)
            ).all()
            counts = [0] * n_lists
            for index, count in filled:
                if 0 <= index < n_lists:
                    counts[index] = count
            chosen = least_filled(counts)
            conn.execute(update(sessions_table).where(sessions_table.c.id == session_id).values(
                list_index=chosen, plan=json.dumps(plan_for(chosen)), position=0, stage="trials",
                assigned_at=now, updated_at=now, shown_position=None, shown_at=None))
            return True

    def mark_shown(self, session_id: int, position: int) -> None:
        """Record when a trial was first shown (response times are measured from here, server-side)."""
        with self._writing() as conn:
            conn.execute(update(sessions_table).where(
                sessions_table.c.id == session_id, sessions_table.c.position == position,
                (sessions_table.c.shown_position.is_(None)) | (sessions_table.c.shown_position != position),
            ).values(shown_position=position, shown_at=time.time()))

    # ----------------------------------------------------------- admin sessions
    def create_admin_session(self, admin_key: str, lifetime_s: float) -> str:
        """A new admin session valid for ``lifetime_s``; returns its secret token (only its hash is stored).
        Expired sessions are deleted on the way."""
        token = new_token()
        now = time.time()
        with self._writing() as conn:
            conn.execute(admin_sessions_table.delete().where(admin_sessions_table.c.expires_at <= now))
            conn.execute(admin_sessions_table.insert().values(
                token_hash=hash_token(token), admin_key=admin_key, created_at=now, expires_at=now + lifetime_s))
        return token

    def admin_session_valid(self, token: str, admin_key: str) -> bool:
        """Whether ``token`` is an unexpired admin session opened with the admin token ``admin_key`` derives from."""
        digest = token_digest(token)
        if digest is None:
            return False
        t = admin_sessions_table.c
        return self._first(select(t.token_hash).where(
            t.token_hash == digest, t.admin_key == admin_key, t.expires_at > time.time())) is not None

    def end_admin_session(self, token: str) -> None:
        """Revoke an admin session (logging out): its cookie stops working everywhere."""
        with self._writing() as conn:
            conn.execute(admin_sessions_table.delete().where(admin_sessions_table.c.token_hash == hash_token(token)))

    # ---------------------------------------------------------------- answers
    def save_answer(self, session_id: int, position: int, *, kind: str, item_id: str, response: str,
                    key: str, n_trials: int, next_stage: str, condition: str | None = None,
                    scenario_id: str | None = None, correct: bool | None = None, comment: str | None = None,
                    option_order: list[str] | None = None, pilot: bool = False) -> SaveResult:
        """Store the answer to trial ``position`` once.

        Returns ``saved`` (stored now), ``duplicate`` (this idempotency key was stored before: a retry or a
        double click) or ``stale`` (the trial was already answered from another page). After the last trial
        the session moves to ``next_stage``.
        """
        for _attempt in range(3):
            try:
                return self._save_answer(session_id, position, kind, item_id, response, key, n_trials,
                                         next_stage, condition, scenario_id, correct, comment, option_order, pilot)
            except (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError):
                # the key is taken (a key reused for another trial), or a concurrent request for this trial
                # won the race: look again
                with self._reading() as conn:
                    prior = conn.execute(select(answers_table.c.session_id, answers_table.c.position)
                                         .where(answers_table.c.idempotency_key == key)).first()
                if prior is not None and (prior.session_id != session_id or prior.position != position):
                    raise AnswerConflict("this form was already used for another answer", field="key") from None
        raise AnswerConflict("the answer could not be stored; please submit again")

    def _save_answer(self, session_id: int, position: int, kind: str, item_id: str, response: str, key: str,
                     n_trials: int, next_stage: str, condition: str | None, scenario_id: str | None,
                     correct: bool | None, comment: str | None, option_order: list[str] | None,
                     pilot: bool) -> SaveResult:
        now = time.time()
        correct_value, order, stage = answer_columns(position, n_trials, next_stage, correct, option_order)
        if self.is_postgres:
            with self._hot(write=False) as run:
                if run(PG_SAVE_ANSWER, pg_save_answer_params(session_id, position, kind, item_id, condition, scenario_id,
                                                             response, correct_value, comment, order, key, pilot,
                                                             now, stage)) is not None:
                    return "saved"
        with self._hot(write=True) as run:
            row = run(_RAW_SESSION_STATE_LOCKED if self.is_postgres else _RAW_SESSION_STATE, (session_id,))
            if row is None:
                raise AnswerConflict("there is no such session", field="session")
            if row["stage"] != "trials" or row["position"] != position:
                prior = run(_RAW_PRIOR_BY_KEY, (key,))
                if prior is not None:
                    if prior["session_id"] != session_id or prior["position"] != position:
                        raise AnswerConflict("this form was already used for another answer", field="key")
                    return "duplicate"
                if run(_RAW_ANSWERED, (session_id, position)) is not None:
                    return "stale"
                raise AnswerConflict("this trial is not the one the study is at; reload the page", field="position")
            shown_at = row["shown_at"]
            rt_ms = round((now - shown_at) * 1000) if row["shown_position"] == position and shown_at is not None else None
            run(_RAW_INSERT_ANSWER, (session_id, position, kind, item_id, condition, scenario_id, response,
                                     correct_value, rt_ms, comment, order, key, bool(pilot), now))
            # the next trial is shown by the redirect that answers this request: its clock starts now
            run(_RAW_ADVANCE_TRIAL, (position + 1, position + 1, now, now, stage, session_id, position))
            return "saved"

    def answered_positions(self, session_id: int) -> list[int]:
        with self._reading() as conn:
            return [int(p) for p in conn.execute(select(answers_table.c.position).where(
                answers_table.c.session_id == session_id).order_by(answers_table.c.position)).scalars()]

    # ----------------------------------------------------------------- reading
    def iter_answers(self) -> Iterator[dict[str, Any]]:
        """Every answer joined with its session, in session then position order."""
        a, s = answers_table.c, sessions_table.c
        stmt = (select(a.session_id, a.position, a.kind, a.item_id, a.condition, a.scenario_id, a.response,
                       a.correct, a.rt_ms, a.comment, a.option_order, a.pilot, a.created_at, s.participant,
                       s.public_id, s.study_id, s.prolific_session, s.list_index, s.stage)
                .join(sessions_table, a.session_id == s.id).order_by(a.session_id, a.position))
        with self._reading() as conn:
            for row in conn.execute(stmt):
                yield dict(row._mapping)

    def sessions(self) -> list[dict[str, Any]]:
        with self._reading() as conn:
            return [dict(r._mapping) for r in conn.execute(select(sessions_table).order_by(sessions_table.c.id))]

    def count_answers(self) -> int:
        with self._reading() as conn:
            return int(conn.execute(select(func.count()).select_from(answers_table)).scalar() or 0)
