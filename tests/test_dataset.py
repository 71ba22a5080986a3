"""The dataset directory: round trip, exports, and clear errors for directories that are not datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proceval.dataset import Dataset
from proceval.errors import DatasetError
from proceval.generate import generate


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return generate("tom", n=4, seed=1, out=tmp_path_factory.mktemp("ds") / "tom", progress=False)


def test_files_and_manifest(small: Dataset) -> None:
    names = sorted(p.name for p in small.path.iterdir())
    assert names == ["items.jsonl", "manifest.json", "scenarios.jsonl", "template.yaml"]
    manifest = json.loads((small.path / "manifest.json").read_text())
    assert manifest["n_items"] == 100 and manifest["n_scenarios"] == 4 and manifest["seed"] == 1
    assert manifest["source"] == {"kind": "lexicon", "n": 4}
    assert sum(manifest["counts_per_condition"].values()) == 100
    first = json.loads((small.path / "items.jsonl").read_text().splitlines()[0])
    for field in ("id", "template", "scenario_id", "condition", "condition_name", "text", "question",
                  "response", "answer", "metadata"):
        assert field in first


def test_load_round_trip(small: Dataset) -> None:
    again = Dataset.load(small.path)
    assert [i.to_dict() for i in again.items] == [i.to_dict() for i in small.items]
    assert len(again) == 100 and again.template_name == "tom"


def test_pandas_and_hugging_face_exports(small: Dataset) -> None:
    frame = small.to_pandas()
    assert len(frame) == 100
    assert {"id", "factor_belief", "factor_inference", "answer", "text"} <= set(frame.columns)
    hf = small.to_hf()
    assert hf.num_rows == 100 and hf[0]["id"] == small.items[0].id
    assert json.loads(hf[0]["response"])["type"] == "choice"


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such dataset directory"):
        Dataset.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a proceval dataset directory"):
        Dataset.load(tmp_path / "empty")
