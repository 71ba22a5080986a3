"""Fixtures for the web-study tests: a small dataset, study configs, and databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from proceval import __version__
from proceval.dataset import Dataset, DatasetWriter, Item, Manifest
from proceval.humans import StudyConfig, create_app
from proceval.humans.simulate import Page, SimulatedParticipant
from proceval.ids import content_id

POSTGRES_URL = os.environ.get("PROCEVAL_TEST_POSTGRES_URL",
                              "postgresql+psycopg://proceval:proceval@127.0.0.1:5432/proceval_test")
CHROMIUM = os.environ.get("PROCEVAL_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def write_dataset(out: Path, items: list[Item]) -> Dataset:
    with DatasetWriter(out) as writer:
        for item in items:
            writer.add_item(item)
        writer.finish(Manifest(
            proceval_version=__version__, template={"name": "toy", "hash": content_id("toy")},
            source={"kind": "test"}, seed=0, factors={"belief": ["true", "false"]},
            conditions={item.condition_name: item.condition for item in items},
        ))
    return Dataset.load(out)


def choice_item(scenario: int, level: str, answer: str, text: str | None = None) -> Item:
    sid = content_id("scenario", scenario)
    return Item(
        id=content_id("toy", sid, level, "q"), template="toy", scenario_id=sid, condition={"belief": level},
        condition_name=level, question_name="q", text=text or f"Story number {scenario} in condition {level}.",
        question="Which is it?",
        response={"type": "choice", "options": [{"key": "a", "text": "yes"}, {"key": "b", "text": "no"}]},
        answer=answer,
    )


def rating_item(scenario: int, level: str) -> Item:
    sid = content_id("scenario", scenario)
    return Item(
        id=content_id("toy", sid, level, "rate"), template="toy", scenario_id=sid, condition={"belief": level},
        condition_name=level, question_name="rate", text=f"Rated story {scenario} ({level}).",
        question="How permissible was it?",
        response={"type": "rating", "scale": {"min": 1, "max": 5, "labels": {"1": "not at all", "5": "completely"}}},
        answer=None,
    )


def make_dataset(path: Path, n_scenarios: int = 4, rating: bool = True, text: str | None = None) -> Dataset:
    """``n_scenarios`` × 2 conditions, each cell a choice item (and a rating item with ``rating``)."""
    items: list[Item] = []
    for s in range(n_scenarios):
        for level in ("true", "false"):
            items.append(choice_item(s, level, answer="a" if level == "true" else "b", text=text))
            if rating:
                items.append(rating_item(s, level))
    return write_dataset(path, items)


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    return make_dataset(tmp_path / "ds")


FULL_CONFIG: dict[str, Any] = {
    "title": "Stories",
    "consent": "Consent text.\n\nSecond paragraph.",
    "comprehension": [
        {"question": "What do you do on each page?",
         "options": [{"key": "read", "text": "Read and answer"}, {"key": "skip", "text": "Skip it"}],
         "answer": "read"},
    ],
    "comprehension_attempts": 2,
    "attention_checks": [
        {"id": "attn-blue", "text": "This is an attention check.", "question": "Please choose 'blue'.",
         "options": [{"key": "red", "text": "red"}, {"key": "blue", "text": "blue"}], "answer": "blue"},
    ],
    "demographics": [
        {"name": "age", "label": "Age", "type": "number", "min": 18, "max": 120},
        {"name": "gender", "label": "Gender", "type": "choice", "options": ["woman", "man", "non-binary", "other"]},
    ],
    "completion_code": "CODE123",
    "prolific_completion_url": "https://app.prolific.com/submissions/complete?cc={code}",
    "admin_token": "tests-only-7Qm2vXk9LpR4sWd8NzH3bYc6TfJ1gAe5",  # 32+ random characters, as serve requires
}


@pytest.fixture
def config() -> StudyConfig:
    return StudyConfig.model_validate(FULL_CONFIG)


def _postgres_available() -> str | None:
    """None if the test PostgreSQL server answers, else why not."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - a dependency of proceval
        return "psycopg is not installed"
    plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL server at {re.sub(r':[^:@/]+@', ':***@', plain)} ({str(exc).strip()[:120]}); " \
               "source .ci/services.sh to install and start one"


_PG_REASON: list[str | None] = []


def postgres_reason() -> str | None:
    if not _PG_REASON:
        _PG_REASON.append(_postgres_available())
    return _PG_REASON[0]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh schema, dropped afterwards."""
    reason = postgres_reason()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = "t_" + secrets.token_hex(6)
    plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests on a SQLite file and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def client_for(app: Any) -> TestClient:
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def study(dataset: Dataset, config: StudyConfig, sqlite_url: str) -> Iterator[TestClient]:
    with client_for(create_app(dataset, config, sqlite_url)) as client:
        yield client


def participant(client: Any, **kwargs: Any) -> SimulatedParticipant:
    """A participant that answers attention checks correctly (the option 'blue')."""
    def choose(page: Page, options: list[str]) -> str:
        return "blue" if "blue" in options else options[0]
    return SimulatedParticipant(client, choose=choose, check_answers={0: "read"}, **kwargs)


def csrf_of(page_text: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page_text)
    assert match, "page has no CSRF field"
    return match.group(1)


def wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the server did not come up")


def workers_of(supervisor: int) -> list[int]:
    """The server processes uvicorn's supervisor spawned (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(pid) for pid in children
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def wait_for_workers(supervisor: int, n: int, other_than: set[int] = frozenset()) -> list[int]:  # type: ignore[assignment]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = workers_of(supervisor)
        if len(pids) == n and not set(pids) & other_than:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"expected {n} workers, found {workers_of(supervisor)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The study app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the study server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
