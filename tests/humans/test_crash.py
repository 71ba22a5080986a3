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

from .conftest import FULL_CONFIG, free_port, participant, wait_for_workers, wait_ready

N_PARTICIPANTS = 12
KILL_AFTER_ACKS = 40


def start_server(dataset: Dataset, config_path: Path, db_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    code = ("import sys; from proceval.humans import serve, load_study_config; "
            "serve(sys.argv[1], load_study_config(sys.argv[2]), sys.argv[3], port=int(sys.argv[4]), "
            "access_log=False)")
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-c", code, str(dataset.path), str(config_path), db_url, str(port)],
                                stdout=out, stderr=subprocess.STDOUT)


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


class Load:
    """N_PARTICIPANTS simulated participants in threads, each retrying through outages (see :func:`persist`)."""

    def __init__(self, port: int) -> None:
        self.people = [participant(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5))
                       for _ in range(N_PARTICIPANTS)]
        self.pages: dict[int, Page] = {}
        self.errors: list[BaseException] = []
        deadline = time.monotonic() + 90
        self.threads = [threading.Thread(target=self._run, args=(i, deadline)) for i in range(N_PARTICIPANTS)]
        for t in self.threads:
            t.start()

    def _run(self, i: int, deadline: float) -> None:
        p = self.people[i]
        try:
            page = persist(p, lambda: p.open(f"PROLIFIC_PID=crash{i}&STUDY_ID=s&SESSION_ID=x{i}"), deadline)
            while page.action is not None:
                current = page
                page = persist(p, lambda current=current: p.step(current), deadline)  # type: ignore[misc]
                assert page.status == 200, page.text[-500:]
            self.pages[i] = page
        except BaseException as exc:
            self.errors.append(exc)

    def acked(self) -> int:
        return sum(len(p.acknowledged) for p in self.people)

    def wait_for_acks(self, n: int) -> int:
        while self.acked() < n and any(t.is_alive() for t in self.threads):
            time.sleep(0.005)
        return self.acked()

    def finish(self) -> None:
        for t in self.threads:
            t.join(timeout=120)
        assert not self.errors, self.errors[:3]
        assert sorted(self.pages) == list(range(N_PARTICIPANTS))
        assert all("CODE123" in page.text for page in self.pages.values())

    def check_stored(self, db_url: str, dataset: Dataset, acked_before_kill: int) -> None:
        """Every acknowledged answer is stored once, as given, and every participant has every trial."""
        assert KILL_AFTER_ACKS <= acked_before_kill < N_PARTICIPANTS * 9, "the kill did not happen mid-load"
        assert sum(p.retries for p in self.people) > 0, "no participant saw the outage"
        store = StudyStore(db_url)
        stored = list(store.iter_answers())
        store.close()
        rows = Counter((a["participant"], a["position"]) for a in stored)
        assert max(rows.values()) == 1  # nothing duplicated
        by_key = {(a["participant"], a["position"]): (a["item_id"], a["response"]) for a in stored}
        # the attention check's form carries an opaque id; it is stored under the config's id
        form_ids = {content_id("attention-check", 0, "attn-blue"): "attn-blue"}
        for i, p in enumerate(self.people):
            assert p.acknowledged, f"participant {i} had no answer acknowledged"
            for ack in p.acknowledged:  # every acknowledged answer is there, as given
                assert by_key[(f"crash{i}", ack.position)] == (form_ids.get(ack.item_id, ack.item_id), ack.response)
            n_trials = len(dataset.items) // 2 + 1
            assert sorted(pos for (who, pos) in rows if who == f"crash{i}") == list(range(n_trials))


@pytest.mark.slow
def test_sigkill_mid_load_loses_and_duplicates_nothing(dataset: Dataset, db_url: str, tmp_path: Path) -> None:
    config_path = tmp_path / "study.yaml"
    config_path.write_text(yaml.safe_dump(FULL_CONFIG), encoding="utf-8")
    port = free_port()
    log = tmp_path / "server.log"
    proc = start_server(dataset, config_path, db_url, port, log)
    try:
        wait_ready(port, proc, log)
        load = Load(port)
        acked_before_kill = load.wait_for_acks(KILL_AFTER_ACKS)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(0.3)  # the participants hit a dead server for a while
        proc = start_server(dataset, config_path, db_url, port, log)
        wait_ready(port, proc, log)
        load.finish()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    load.check_stored(db_url, dataset, acked_before_kill)


@pytest.mark.slow
def test_sigkill_of_one_worker_under_load_loses_nothing(dataset: Dataset, db_url: str, tmp_path: Path) -> None:
    """`proceval serve --workers 2`: one worker SIGKILLed mid-load; its participants carry on with the other
    one, the supervisor starts a replacement, and SIGTERM stops everything gracefully."""
    config_path = tmp_path / "study.yaml"
    config_path.write_text(yaml.safe_dump(FULL_CONFIG), encoding="utf-8")
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "proceval", "serve", str(dataset.path), "--study-config",
                                 str(config_path), "--db", db_url, "--port", str(port), "--workers", "2",
                                 "--no-access-log"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, proc, log, timeout=90)  # three processes import proceval: slow on a busy machine
        first = wait_for_workers(proc.pid, 2)
        load = Load(port)
        acked_before_kill = load.wait_for_acks(KILL_AFTER_ACKS)
        os.kill(first[0], signal.SIGKILL)
        load.finish()
        replaced = wait_for_workers(proc.pid, 2, other_than={first[0]})
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()[-2000:]
        assert not any(Path(f"/proc/{pid}").exists() for pid in replaced), "a worker outlived its supervisor"
    finally:
        proc.kill()
        proc.wait(timeout=10)
    load.check_stored(db_url, dataset, acked_before_kill)
