"""A run killed with SIGKILL mid-run and started again: no repeated model call, the same results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from proceval.models.cache import CallCache
from proceval.run import load_run, run_dataset
from proceval.run.io import CACHE_FILE, RESPONSES_FILE
from tests.conftest import choice_item, write_dataset

SCRIPT = """
import sys
from proceval.models import load_model
from proceval.run import run_dataset
model = load_model("hf/" + sys.argv[1], n_threads=1)
run_dataset(sys.argv[2], model, sys.argv[3], progress=False)
"""


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def test_sigkill_then_resume_repeats_no_call_and_matches_uninterrupted(tiny_hf, tiny_hf_path: Path,
                                                                       tmp_path: Path) -> None:
    items = [choice_item(s, {"belief": lv}, answer="a" if lv == "true" else "b")
             for s in range(60) for lv in ("true", "false")]
    ds = write_dataset(tmp_path / "ds", items)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tiny_hf_path), str(ds.path), str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while _lines(out / RESPONSES_FILE) < 10:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
            assert time.monotonic() < deadline, "the run never started answering"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed = load_run(out)
    assert killed.info["status"] == "running"  # it never got to say otherwise
    done_before = len([r for r in killed.responses if r["status"] == "ok"])
    assert 10 <= done_before < len(items)
    calls_before = len(CallCache(out / CACHE_FILE))  # one cache row per finished model call

    resumed = run_dataset(ds, tiny_hf, out, progress=False)
    session = resumed.info["sessions"][-1]
    assert session["resumed_from"] == done_before
    fresh = run_dataset(ds, tiny_hf, tmp_path / "fresh", progress=False)
    # zero repeated calls: the calls of both sessions add up to those of an uninterrupted run
    assert calls_before + session["calls"] == fresh.info["counts"]["calls"]
    assert len(CallCache(out / CACHE_FILE)) == fresh.info["counts"]["calls"]
    strip = [{k: v for k, v in r.items() if k != "latency_s"} for r in resumed.responses]
    assert strip == [{k: v for k, v in r.items() if k != "latency_s"} for r in fresh.responses]
    assert resumed.complete and resumed.info["counts"]["ok"] == len(items)
