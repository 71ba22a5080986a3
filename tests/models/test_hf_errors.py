"""A missing hf/ model is one clear error at once, not a minute of hub retries."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from proceval.cli.main import main


@pytest.mark.parametrize(("name", "needle"), [
    ("someorg/no-such-model", "'someorg/no-such-model' is not a local folder nor in the Hugging Face cache"),
    ("./no-such-folder", "no model folder './no-such-folder'"),
])
def test_a_missing_model_fails_fast(name: str, needle: str, tiny_choice_dataset, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    import torch  # noqa: F401  # imported before timing: the error, not the import, is measured
    import transformers  # noqa: F401

    start = time.monotonic()
    code = main(["run", str(tiny_choice_dataset.path), "--model", f"hf/{name}", "--out", str(tmp_path / "r"),
                 "--no-progress"])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Retry" not in err and "Traceback" not in err
    assert elapsed < 10  # a DNS failure or HF_HUB_OFFLINE, not ~60 s of backoff
