"""A ``sami:`` study file runs every stage through ``proceval study`` (the study-kind registry), writes the
report with the three evaluations, and a rerun makes no model call; the CLI prints bad input without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.study_kinds import run_study_file
from proceval.train.sami.study import load_sami_study

REPO = Path(__file__).resolve().parents[3]


def _study(tmp_path: Path, model: Path) -> Path:
    (tmp_path / "principles.yaml").write_text((REPO / "examples" / "sami" / "principles.yaml").read_text())
    path = tmp_path / "study.yaml"
    path.write_text(f"""sami:
  model: hf/{model}
  principles: principles.yaml
  queries: builtin[:4]
  generate: {{max_tokens: 4}}
  train: {{max_steps: 1, batch_size: 2, learning_rate: 1.0e-3}}
  evaluate: {{queries: "builtin[126:]", judge: hf/{model}}}
""")
    return path


def test_the_study_runs_every_stage_and_resumes(tiny_model: Path, tmp_path: Path) -> None:
    path = _study(tmp_path, tiny_model)
    result = run_study_file(path, out=tmp_path / "out", log=lambda _: None)
    assert [s.stage for s in result.stages] == ["constitutions", "generate it0", "train model-1", "evaluate"]
    summary = json.loads((tmp_path / "out" / "report" / "summary.json").read_text())
    assert set(summary["information"]) == {"base", "trained"}
    assert summary["win_rates"]["counts"]["judged"] == 2 * 2 * 2  # 2 queries x 2 constitutions x 2 positions
    assert [r["n"] for r in summary["proxies"]] == [2, 2, 2, 2]
    html = (tmp_path / "out" / "report" / "report.html").read_text()
    assert "Judged win rates" in html and "data:image/png;base64," in html
    again = run_study_file(path, out=tmp_path / "out", log=lambda _: None)
    assert again.stages[1].status == "skipped" and "0 calls" in again.stages[1].reason


def test_the_example_study_file_is_valid() -> None:
    spec = load_sami_study(REPO / "examples" / "sami" / "study.yaml")
    assert spec.model == "hf/smollm2-135m" and spec.iterations == 1 and spec.train.lora
    assert (REPO / "examples" / "sami" / spec.principles).is_file()


def test_the_cli_prints_bad_input_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.yaml").write_text("principles:\n  - name: a\n    positive: x\n    negative: y\n    weight: 2\n")
    code = main(["sami", "constitutions", "--principles", str(tmp_path / "p.yaml"), "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code != 0 and "weight" in err and "p.yaml:5" in err and "Traceback" not in err
    main(["sami", "constitutions", "--principles", str(REPO / "examples" / "sami" / "principles.yaml"),
          "--out", str(tmp_path / "c")])
    assert "2 constitutions: brevity+, brevity-" in capsys.readouterr().out
