"""Generation under each constitution (cached: a rerun makes no call and gives the same data, principle order
shuffled per query) and training through the shared loop, full and LoRA, into a folder ``hf/OUT`` loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from proceval.train.fit import read_manifest
from proceval.train.sami.constitutions import PrinciplesFile, SamiError, make_constitutions
from proceval.train.sami.generate import generate_data, read_data, system_prompt
from proceval.train.sami.queries import load_queries
from proceval.train.sami.trainer import train_sami

PAIRS = PrinciplesFile.model_validate({"principles": [
    {"name": "brevity", "positive": "Be brief.", "negative": "Be long."},
    {"name": "tone", "positive": "Be warm.", "negative": "Be cold."}]})


def test_principle_order_is_shuffled_per_query_and_seeded() -> None:
    constitution = make_constitutions(PAIRS).constitutions[0]
    orders = {system_prompt(constitution, f"q{n}", seed=0) for n in range(20)}
    assert len(orders) == 2  # both orders occur across queries
    assert system_prompt(constitution, "q1", 0) == system_prompt(constitution, "q1", 0)


@pytest.fixture(scope="module")
def data(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "it0"
    constitutions = make_constitutions(PAIRS.model_copy(update={"principles": PAIRS.principles[:1]}))
    queries = load_queries("builtin[:4]").queries
    partial = generate_data(f"hf/{tiny_model}", constitutions, queries[:2], out, max_tokens=6, log=lambda _: None)
    assert partial["calls"] == 4  # as if interrupted after two queries
    first = generate_data(f"hf/{tiny_model}", constitutions, queries, out, max_tokens=6, log=lambda _: None)
    assert first["calls"] == 4 and first["cache_hits"] == 4
    rows = (out / "data.jsonl").read_text()
    again = generate_data(f"hf/{tiny_model}", constitutions, queries, out, max_tokens=6, log=lambda _: None)
    assert again["calls"] == 0 and again["cache_hits"] == 8 and (out / "data.jsonl").read_text() == rows
    return out


def test_generation_rows_hold_every_constitution(data: Path) -> None:
    rows, manifest = read_data(data)
    assert len(rows) == 4 and all(len(r.responses) == len(r.systems) == 2 for r in rows)
    assert "Be brief." in rows[0].systems[0] and "Be long." in rows[0].systems[1]
    assert manifest["model"].startswith("hf/")


def test_full_training_through_fit_loads_as_hf_model(tiny_model: Path, data: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    manifest = train_sami(f"hf/{tiny_model}", data, tmp_path / "m", max_steps=2, batch_size=2,
                          learning_rate=1e-3, progress=False)
    assert manifest.finished and manifest.steps == 2 and manifest.kind == "sami"
    assert manifest.counts == {"queries": 4, "constitutions": 2}
    assert json.loads((tmp_path / "m" / "train.json").read_text())["settings"]["lora"] is False
    base = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    trained = AutoModelForCausalLM.from_pretrained(tmp_path / "m").state_dict()
    assert any(not torch.equal(base[k], trained[k]) for k in base)


def test_lora_training_is_merged(tiny_model: Path, data: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    manifest = train_sami(f"hf/{tiny_model}", data, tmp_path / "m", lora=True, lora_rank=2, max_steps=1,
                          batch_size=2, learning_rate=1e-2, progress=False)
    assert manifest.finished and (tmp_path / "m" / "adapter" / "adapter_config.json").is_file()
    assert not (tmp_path / "m" / "adapter_config.json").exists()
    trained = AutoModelForCausalLM.from_pretrained(tmp_path / "m").state_dict()
    base = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    assert trained.keys() == base.keys() and any(not torch.equal(base[k], trained[k]) for k in base)
    assert read_manifest(tmp_path / "m") == manifest


def test_training_refuses_other_providers(data: Path, tmp_path: Path) -> None:
    with pytest.raises(SamiError, match="transformers models"):
        train_sami("local/smollm2-135m", data, tmp_path / "m")
