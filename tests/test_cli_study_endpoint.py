"""`proceval study` says which server each openai/ subject talks to before sending it anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from proceval.cli.main import main
from tests.models.servers import free_port


def test_the_study_prints_an_openai_subjects_endpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: the run stops at its first call
    study = tmp_path / "study.yaml"
    study.write_text(f"name: ep\nseed: 0\ndataset:\n  template: tom\n  n: 1\nsubjects:\n  - name: remote\n"
                     f"    model: openai/some-model\n    limit: 1\n    options: {{base_url: '{url}'}}\n",
                     encoding="utf-8")
    code = main(["study", str(study), "--out", str(tmp_path / "out")])
    printed = capsys.readouterr()
    assert f"remote: openai/some-model at {url} (from options.base_url)" in printed.out.replace("\n", "")
    assert code != 0 and "cannot connect to" in printed.err + printed.out
