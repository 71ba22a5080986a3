"""The `serve` and `humans export` commands as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from proceval.cli.main import main
from proceval.dataset import Dataset

from .conftest import free_port


def test_cli_errors_are_one_line_messages(tmp_path: Path, dataset: Dataset,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["humans", "export", "--db", f"sqlite:///{tmp_path / 'none.db'}", "--out", "x.csv"]) == 2
    assert "no such study database" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
    bad = tmp_path / "study.yaml"
    bad.write_text("items_per_participant: 0\n", encoding="utf-8")
    assert main(["serve", str(dataset.path), "--study-config", str(bad), "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert "study.yaml:1: items_per_participant:" in err and "Traceback" not in err
    assert main(["serve", str(tmp_path / "missing"), "--port", str(free_port())]) == 2
    assert "no such dataset directory" in capsys.readouterr().err
    assert main(["serve", str(dataset.path), "--workers", "0", "--port", str(free_port()),
                 "--db", f"sqlite:///{tmp_path / 'w.db'}"]) == 2
    err = capsys.readouterr().err
    assert "--workers must be at least 1" in err and "Traceback" not in err


def test_serve_runs_the_study_and_never_prints_the_admin_token(tmp_path: Path, dataset: Dataset) -> None:
    port = free_port()
    token = "cli-admin-token-Hq7Zp2Xv9Lk4Rt6Wn3Yb8Cd5"
    env = {**os.environ, "PROCEVAL_ADMIN_TOKEN": token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "proceval", "serve", str(dataset.path), "--db", f"sqlite:///{tmp_path / 's.db'}",
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        admin = httpx.get(f"http://127.0.0.1:{port}/admin", headers={"Authorization": f"Bearer {token}"})
        assert admin.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 303
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
    assert "study link: http://127.0.0.1" in output and "GET /admin" in output
    assert token not in output
