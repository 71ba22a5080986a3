"""`proceval train sft`: malformed streams are counted and left out; a trained checkpoint loads with the hf
provider, reads at run time the very prompt it was trained on, and is scored by the countdown verifier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.generate import generate
from proceval.tasks.countdown.streams import stream_record, write_streams
from proceval.train.fit import read_manifest
from proceval.train.sft import TrainDataError, encode, prompt_text, read_streams, sos_tokenizer


def _record(numbers: list[int], target: int, strategy: str = "dfs-sum", **changes: object) -> str:
    return json.dumps({**stream_record(numbers, target, strategy), **changes})


def test_malformed_records_are_counted_and_left_out_for_both_texts(tmp_path: Path) -> None:
    good = [_record([4, 9, 3], 24), _record([2, 5], 10, "bfs1-mult")]
    bad = ["{not json", json.dumps({"numbers": [1, 2]}),  # no target
           _record([4, 9, 3], 24, stream="Current State: 25:[4, 9, 3], Operations: []\n"),  # another problem
           _record([4, 9, 3], 24, optimal=None)]  # unsolvable: no optimal path to compare with
    (tmp_path / "train.jsonl").write_text("\n".join([*good, *bad, ""]) + "\n", encoding="utf-8")
    for text in ("stream", "optimal"):
        examples, streams, skipped = read_streams(tmp_path, text)
        assert [(e.numbers, e.target) for e in examples] == [([4, 9, 3], 24), ([2, 5], 10)]
        assert dict(skipped) == {"malformed: not JSON": 1, "malformed: no numbers/target": 1,
                                 "malformed: stream does not start with the problem": 1,
                                 "unsolvable: no optimal path": 1}
    tokenizer = sos_tokenizer()
    examples, streams, _ = read_streams(tmp_path, "optimal")
    examples[1].text += " é"  # a character outside the search language
    encoded = encode(examples, tokenizer, 10_000, fit_check=streams)
    assert len(encoded.rows) == 1 and dict(encoded.skipped) == {"malformed: text outside the search language": 1}
    # the 24-from-[4, 9, 3] DFS stream has more tokens than its optimal path: the problem is left out of both
    short = len(tokenizer(prompt_text([4, 9, 3], 24, tokenizer))["input_ids"]) + 200
    assert encode(examples[:1], tokenizer, short, fit_check=streams[:1]).skipped == {
        "too long: stream over max_length tokens": 1}
    with pytest.raises(TrainDataError, match="no streams file"):
        read_streams(tmp_path / "nowhere", "stream")


def test_the_prompt_is_the_problem_line_and_the_loss_is_on_the_text(tmp_path: Path) -> None:
    tokenizer = sos_tokenizer()
    assert prompt_text([4, 9, 3], 24, tokenizer) == "<bos>Current State: 24:[4, 9, 3], Operations: []\n"
    examples, _, _ = read_streams(_streams_file(tmp_path), "stream")
    row = encode(examples[:1], tokenizer, 10_000).rows[0]
    prompt = 26  # <bos> + "Current State: 24:[4, 9, 3], Operations: []" (25 tokens, one per digit) + "\n"
    assert row["labels"][:prompt] == [-100] * prompt and row["labels"][prompt:] == row["input_ids"][prompt:]
    assert tokenizer.decode(row["input_ids"][prompt:-1]) == examples[0].text
    assert row["input_ids"][-1] == tokenizer.eos_token_id


def _streams_file(tmp_path: Path) -> Path:
    (tmp_path / "train.jsonl").write_text(_record([4, 9, 3], 24) + "\n", encoding="utf-8")
    return tmp_path


def test_a_trained_model_runs_as_hf_on_the_prompt_it_was_trained_on(tmp_path: Path) -> None:
    from proceval.models.hf import HFModel
    from proceval.run import run_dataset
    from proceval.solvers.prompts import PromptBuilder

    generate("countdown", out=tmp_path / "data", n=12, seed=0, options={"inputs": "2"}, progress=False)
    write_streams(tmp_path / "data", tmp_path / "streams", strategy="dfs-sum")
    code = main(["train", "sft", "--data", str(tmp_path / "streams"), "--out", str(tmp_path / "m"),
                 "--max-steps", "2", "--batch-size", "4", "--no-progress"])
    assert code == 0
    manifest = read_manifest(tmp_path / "m")
    assert manifest is not None and manifest.finished and manifest.steps == 2
    assert manifest.settings["text"] == "stream" and manifest.counts["examples"] == sum(
        1 for line in (tmp_path / "streams" / "train.jsonl").open())

    # the provider renders exactly the prompt the model was trained on
    model = HFModel(str(tmp_path / "m"))
    from proceval.dataset import Dataset

    item = next(i for i in Dataset.load(tmp_path / "data").items if i.condition_name == "train")
    messages = PromptBuilder("zero-shot").build(item, None).messages
    tokenizer = sos_tokenizer()
    trained = tokenizer(prompt_text(item.metadata["numbers"], item.metadata["target"], tokenizer))["input_ids"]
    assert model._prompt_ids(messages) == trained

    run = run_dataset(tmp_path / "data", model, tmp_path / "run", split="val", max_tokens=4, progress=False)
    held_out = [i.id for i in Dataset.load(tmp_path / "data").items if i.condition_name == "val"]
    assert sorted(r["item_id"] for r in run.responses) == sorted(held_out) and run.info["split"] == "val"
    # scored by the countdown verifier: a score in [0, 1) and the reason (4 tokens cannot reach a goal)
    assert all(r["score"] == 0.0 and r["reason"] for r in run.responses)
    assert all(r["prompt_tokens"] == len(tokenizer(prompt_text(i.metadata["numbers"], i.metadata["target"],
                                                               tokenizer))["input_ids"])
               for r in run.responses for i in [Dataset.load(tmp_path / "data").item_map()[r["item_id"]]])


def test_gradient_checkpointing_trains_to_the_same_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With gradient checkpointing each layer's activations are recomputed in the backward pass instead of kept
    (less peak memory), and the trained weights are the ones training without it gives, bit for bit. By default
    only large models use it: for a small one it costs time and saves little."""
    from safetensors.torch import load_file
    from tests.train.sami.conftest import save_tiny_model
    from transformers.models.llama.modeling_llama import LlamaMLP

    from proceval.train.sft import Example, TrainSettings, train_on

    model = save_tiny_model(tmp_path / "base")  # 2 layers
    examples = [Example([], 0, f"answer {i} " * (3 + i), prompt=f"question {i}: ") for i in range(6)]
    calls = 0
    forward = LlamaMLP.forward  # a part of each layer: it runs whenever its layer does

    def counted(self: LlamaMLP, *args: object, **kwargs: object) -> object:  # the real forward, counted
        nonlocal calls
        calls += 1
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(LlamaMLP, "forward", counted)
    weights = {}
    for name, setting in (("default", None), ("on", True), ("off", False)):
        before = calls
        settings = TrainSettings(epochs=1, batch_size=2, learning_rate=1e-2, max_steps=3,
                                 gradient_checkpointing=setting)
        train_on(examples, tmp_path / name, model=f"hf/{model}", kind="sft", data={}, settings=settings,
                 progress=False)
        weights[name] = load_file(tmp_path / name / "model.safetensors")
        # 3 steps through 2 layers; with checkpointing each layer runs again in the backward pass
        assert calls - before == (12 if setting else 6)
    assert weights["on"].keys() == weights["off"].keys()
    assert all(weights["on"][k].equal(weights["off"][k]) for k in weights["off"])
    start = load_file(model / "model.safetensors")["model.embed_tokens.weight"]
    assert not weights["off"]["model.embed_tokens.weight"].equal(start)  # it did train
