"""The README's five-minute tour runs as written (with the embedded model)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def tour_commands() -> list[list[str]]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n# tour\n(.*?)```", readme, flags=re.S)
    assert block, "README.md has no ```bash block starting with '# tour'"
    commands = []
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            commands.append(shlex.split(line))
    return commands


@pytest.mark.slow
def test_readme_tour(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from proceval.errors import ModelError
    from proceval.models.llamacpp import embedded_model_path

    try:
        embedded_model_path("smollm2-135m")
    except ModelError as exc:
        pytest.skip(f"embedded model not installed: {exc}")
    commands = tour_commands()
    assert [c[1] for c in commands] == ["templates", "generate", "show", "show", "run", "analyze"]
    for command in commands:
        assert command[0] == "proceval"
        result = subprocess.run([sys.executable, "-m", "proceval", *command[1:]], cwd=tmp_path,
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr[-3000:]}"
    assert sum(1 for _ in (tmp_path / "data/tom/items.jsonl").open()) == 100
    responses = (tmp_path / "runs/tom-smollm2/responses.jsonl").read_text().splitlines()
    assert len(responses) == 20
    assert (tmp_path / "reports/tom/report.html").is_file()
    summary = json.loads((tmp_path / "reports/tom/summary.json").read_text())
    assert summary["dataset"]["n_items"] == 100
    # the report's headline, against the run's own answers
    right = [json.loads(line)["correct"] for line in responses]
    overall = summary["analyses"]["accuracy"]["numbers"]["overall"]["local/smollm2-135m"]
    assert overall["n"] == 20 and overall["accuracy"] == pytest.approx(sum(right) / 20)
    assert overall["ci"][0] <= overall["accuracy"] <= overall["ci"][1]
