"""Analysis options pass through from the CLI (`--option key=value`) and are typed by what analyses declare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proceval.analysis import ANALYSES, AnalysisResult, analyze, parse_option, register_analysis
from proceval.cli.main import main
from proceval.dataset import Dataset
from proceval.errors import AnalysisError
from tests.analysis.runfiles import accuracy_answerer, write_run


def test_values_are_typed_by_the_declared_default() -> None:
    declared = {"irt_model": "2pl", "calibration_bins": 10, "agreement_by": [], "flag": False}
    assert parse_option("irt_model=3pl", declared) == ("irt_model", "3pl")
    assert parse_option("calibration_bins=5", declared) == ("calibration_bins", 5)
    assert parse_option("agreement_by=a, b", declared) == ("agreement_by", ["a", "b"])
    assert parse_option("flag=true", declared) == ("flag", True)
    assert parse_option("other=0.5", declared) == ("other", 0.5)  # undeclared here: a JSON scalar
    with pytest.raises(AnalysisError, match="calibration_bins must be a int"):
        parse_option("calibration_bins=many", declared)
    with pytest.raises(AnalysisError, match="KEY=VALUE"):
        parse_option("irt_model", declared)


def test_an_unknown_option_is_refused_with_the_nearest_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "nowhere", "--out", "r", "--option", "irt_modle=3pl"]) != 0
    err = capsys.readouterr().err
    assert "unknown analysis option 'irt_modle'" in err and "did you mean irt_model" in err


def test_options_reach_the_analysis(tmp_path: Path, tiny_choice_dataset: Dataset) -> None:
    seen: dict[str, Any] = {}

    def echo(data: Any, ctx: Any) -> AnalysisResult:
        seen.update(ctx.options)
        return AnalysisResult("echo", "Echo")

    register_analysis("echo", "Echo", options={"echo_n": 1})(echo)
    try:
        run = write_run(tiny_choice_dataset, tmp_path / "run", accuracy_answerer(1.0))
        analyze([run], out=tmp_path / "report", analyses=["echo"], options={"echo_n": 4})
    finally:
        del ANALYSES["echo"]
    assert seen["echo_n"] == 4


def test_a_study_file_takes_analysis_options(tmp_path: Path) -> None:
    from proceval.study import load_study

    study = tmp_path / "study.yaml"
    study.write_text("name: s\ndataset: {template: arithmetic, n: 2}\nsubjects: [{model: local/smollm2-135m}]\n"
                     "analysis:\n  options: {irt_model: 3pl, calibration_bins: 5}\n", encoding="utf-8")
    assert load_study(study).study.analysis.options == {"irt_model": "3pl", "calibration_bins": 5}
