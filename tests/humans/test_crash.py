"""Crash test: simulated participants on loopback, the server SIGKILLed mid-load and restarted;
every acknowledged answer is stored exactly once and every participant finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from proceval.dataset import Dataset
from proceval.humans.simulate import Page, SimulatedParticipant
from proceval.humans.storage import StudyStore
from proceval.ids import content_id

from .conftest import FULL_CONFIG, free_port, participant

N_PARTICIPANTS = 12
KILL_AFTER_ACKS = 40


def start_server(dataset: Dataset, config_path: Path, db_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    code = ("import sys; from proceval.humans import serve, load_study_config; "
            "serve(sys.argv[1], load_study_config(sys.argv[2]), sys.argv[3], port=int(sys.argv[4]), "
            "access_log=False)")
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-c", code, str(dataset.path), str(config_path), db_url, str(port)],
                                stdout=out, stderr=subprocess.STDOUT)


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


def persist(p: SimulatedParticipant, action: object, deadline: float) -> Page:
    """Do one participant action, retrying through the outage exactly as a browser's retry would
    (same page, same form, same idempotency key)."""
    while True:
        try:
            return action()  # type: ignore[operator,no-any-return]
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            p.retries += 1
            time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_mid_load_loses_and_duplicates_nothing(dataset: Dataset, db_url: str, tmp_path: Path) -> None:
    config_path = tmp_path / "study.yaml"
    config_path.write_text(yaml.safe_dump(FULL_CONFIG), encoding="utf-8")
    port = free_port()
    log = tmp_path / "server.log"
    proc = start_server(dataset, config_path, db_url, port, log)
    try:
        wait_ready(port, proc, log)
        people = [participant(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5))
                  for _ in range(N_PARTICIPANTS)]
        pages: dict[int, Page] = {}
        finished: list[int] = []
        errors: list[BaseException] = []
        deadline = time.monotonic() + 90

        def run(i: int) -> None:
            p = people[i]
            try:
                page = persist(p, lambda: p.open(f"PROLIFIC_PID=crash{i}&STUDY_ID=s&SESSION_ID=x{i}"), deadline)
                while page.action is not None:
                    current = page
                    page = persist(p, lambda current=current: p.step(current), deadline)  # type: ignore[misc]
                    assert page.status == 200, page.text[-500:]
                pages[i] = page
                finished.append(i)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(N_PARTICIPANTS)]
        for t in threads:
            t.start()
        while sum(len(p.acknowledged) for p in people) < KILL_AFTER_ACKS and any(t.is_alive() for t in threads):
            time.sleep(0.005)
        acked_before_kill = sum(len(p.acknowledged) for p in people)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(0.3)  # the participants hit a dead server for a while
        proc = start_server(dataset, config_path, db_url, port, log)
        wait_ready(port, proc, log)
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors[:3]
        assert sorted(finished) == list(range(N_PARTICIPANTS))
        assert all("CODE123" in page.text for page in pages.values())
    finally:
        proc.kill()
        proc.wait(timeout=10)

    assert KILL_AFTER_ACKS <= acked_before_kill < N_PARTICIPANTS * 9, "the kill did not happen mid-load"
    assert sum(p.retries for p in people) > 0, "no participant saw the outage"
    store = StudyStore(db_url)
    stored = list(store.iter_answers())
    store.close()
    rows = Counter((a["participant"], a["position"]) for a in stored)
    assert max(rows.values()) == 1  # nothing duplicated
    by_key = {(a["participant"], a["position"]): (a["item_id"], a["response"]) for a in stored}
    # the attention check's form carries an opaque id; it is stored under the config's id
    form_ids = {content_id("attention-check", 0, "attn-blue"): "attn-blue"}
    for i, p in enumerate(people):
        assert p.acknowledged, f"participant {i} had no answer acknowledged"
        for ack in p.acknowledged:  # every acknowledged answer is there, as given
            assert by_key[(f"crash{i}", ack.position)] == (form_ids.get(ack.item_id, ack.item_id), ack.response)
        n_trials = len(dataset.items) // 2 + 1
        assert sorted(pos for (who, pos) in rows if who == f"crash{i}") == list(range(n_trials))
