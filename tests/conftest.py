"""Shared fixtures (small real datasets built through the library's own writer) and the CI rule on skips."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from proceval import __version__
from proceval.dataset import Dataset, DatasetWriter, Item, Manifest, Scenario
from proceval.ids import content_id

REPO = Path(__file__).resolve().parents[1]
# Public data the tests read: copies shipped in examples/ (attribution in each folder's SOURCES.md).
DATA = REPO / "examples"


# Every test here skips only when something `make setup` installs is missing (PostgreSQL, Chromium, the embedded
# model, llama-cpp-python, a dev extra): on a user's machine that is a hint, in CI a hole in the suite. So under
# CI=true a skip fails its test, with the skip's reason. Expected failures (xfail) are not skips.
def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    return str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and _in_ci():
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {_skip_reason(report)}"


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A whole module skipped at import (module-level ``importorskip``) fails the session the same way."""
    if report.skipped and _in_ci():
        _SKIPPED_MODULES.append(f"{report.nodeid}: {_skip_reason(report)}")


_SKIPPED_MODULES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _SKIPPED_MODULES:
        terminalreporter.section("modules skipped under CI=true (every test must run)")
        for line in _SKIPPED_MODULES:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _SKIPPED_MODULES and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def llama_server() -> Iterator[Any]:
    """llama-cpp-python's OpenAI-compatible server on loopback serving the embedded GGUF, shared by the tests
    that need one with the default context (tests/models/servers.py)."""
    from tests.models.servers import LlamaServer, server_missing

    if server_missing():
        pytest.skip(server_missing() or "")
    from proceval.models.llamacpp import embedded_model_path

    srv = LlamaServer(embedded_model_path("smollm2-135m"), n_ctx=2048).start()
    yield srv
    srv.stop()


def write_dataset(out: Path, items: list[Item], scenarios: list[Scenario] | None = None,
                  template: str = "toy", factors: dict[str, list[str]] | None = None) -> Dataset:
    """Write ``items`` as a dataset directory at ``out`` and load it back."""
    with DatasetWriter(out) as writer:
        for scenario in scenarios or []:
            writer.add_scenario(scenario)
        for item in items:
            writer.add_item(item)
        conditions = {item.condition_name: item.condition for item in items}
        writer.finish(Manifest(
            proceval_version=__version__,
            template={"name": template, "hash": content_id(template)},
            source={"kind": "test"},
            seed=0,
            factors=factors or {},
            conditions=conditions,
        ))
    return Dataset.load(out)


def choice_item(scenario: int, condition: dict[str, Any], answer: str = "a",
                text: str | None = None, options: tuple[str, str] = ("yes", "no")) -> Item:
    name = "_".join(str(v) for v in condition.values())
    sid = content_id("scenario", scenario)
    return Item(
        id=content_id("toy", sid, name, "q"),
        template="toy",
        scenario_id=sid,
        condition=dict(condition),
        condition_name=name,
        question_name="q",
        text=text or f"Story number {scenario} in condition {name}.",
        question="Which is it?",
        response={"type": "choice", "options": [{"key": "a", "text": options[0]}, {"key": "b", "text": options[1]}]},
        answer=answer,
    )


@pytest.fixture
def tiny_choice_dataset(tmp_path: Path) -> Dataset:
    """6 scenarios × 2 conditions of a two-option choice item; the correct option differs by condition."""
    items = [
        choice_item(s, {"belief": level}, answer="a" if level == "true" else "b")
        for s in range(6)
        for level in ("true", "false")
    ]
    return write_dataset(tmp_path / "tiny", items, factors={"belief": ["true", "false"]})
