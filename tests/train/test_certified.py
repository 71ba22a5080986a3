"""Self-improvement on certified reasoning: the keep rules on hand-built records, and a tiny real run — sampled
under the guide, kept, trained through the shared loop, loaded by the run pipeline, resumed without redoing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.train.sami.conftest import save_tiny_model

from proceval.cli.main import main
from proceval.errors import ProcevalError
from proceval.generate import generate
from proceval.run import load_run
from proceval.train.certified import REPORT, certified, judge, keep_answer_right, keep_certified
from proceval.train.fit import read_manifest
from proceval.train.sft import TrainSettings


def record(item: str, answer: str, *, certified: bool, inferences: int, valid: int, status: str = "ok"
           ) -> dict[str, object]:
    return {"item_id": item, "status": status, "raw": "So [[infer:x(a)]]\nAnswer: True",
            "logic": {"answer": answer, "certified": certified, "inferences": inferences,
                      "valid_inferences": valid}}


GOLD = {"a": "true", "b": "false"}
RECORDS = [
    record("a", "true", certified=True, inferences=2, valid=2),     # proved, sound: both arms keep it
    record("a", "true", certified=False, inferences=2, valid=1),    # right answer, one invalid step
    record("b", "true", certified=True, inferences=1, valid=1),     # proved the wrong answer: neither
    record("b", "false", certified=False, inferences=0, valid=0),   # right answer said, nothing proved
    record("b", "unknown", certified=False, inferences=0, valid=0),  # no answer
    {"item_id": "a", "status": "invalid", "raw": "", "logic": None},  # unparseable: counted, kept by neither
]


def test_keep_rules_by_hand() -> None:
    assert [keep_certified(r, GOLD[str(r["item_id"])]) for r in RECORDS[:5]] == [True, False, False, False, False]
    assert [keep_answer_right(r, GOLD[str(r["item_id"])]) for r in RECORDS[:5]] == [True, True, False, True, False]
    kept, left = judge(RECORDS, GOLD, "certified")
    assert kept == [RECORDS[0]] and left == {"not certified": 4, "status invalid": 1}
    kept, left = judge(RECORDS, GOLD, "answer-right")
    assert kept == [RECORDS[0], RECORDS[1], RECORDS[3]] and left == {"wrong answer": 2, "status invalid": 1}


def bracket_model(folder: Path) -> Path:
    """The tiny test model made to write ``[`` whatever it reads: every layer's output zeroed (the residual stream
    is the token's embedding), every embedding near one direction and ``[``'s far along it. Under the guide it
    opens a block at once and the guide leaves it only valid inferences; unguided it never writes an answer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    save_tiny_model(folder)
    model, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed = model.model.embed_tokens.weight
        direction = torch.ones(embed.shape[1]) / embed.shape[1] ** 0.5
        embed.copy_(direction + 0.01 * embed)
        embed[tokenizer.convert_tokens_to_ids("[")] = 20 * direction
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("certified")
    options = {"hops": "1", "ontology": "fictional"}
    generate("prontoqa", out=root / "train", n=2, seed=3, options=options, progress=False)
    generate("prontoqa", out=root / "test", n=2, seed=4, options=options, progress=False)
    return root / "train", root / "test", bracket_model(root / "model")


OPTIONS = {"formalise": "proceval", "examples": "0", "max_tokens": "24"}
SETTINGS = TrainSettings(epochs=1, batch_size=2, learning_rate=1e-3, max_steps=2)


def test_certified_traces_train_a_model_the_run_pipeline_answers_with(data: tuple[Path, Path, Path],
                                                                      tmp_path: Path) -> None:
    train, test, model = data
    out = tmp_path / "out"
    report = certified(f"hf/{model}", train, out, held_out=test, problems=2, samples=1, options=OPTIONS,
                       settings=SETTINGS, arms=("certified",), progress=False)
    row = report["rounds"][0]
    kept = [json.loads(line) for line in (out / "round-1" / "certified" / "kept.jsonl").read_text().splitlines()]
    samples = load_run(out / "round-1" / "certified" / "samples" / "s1").responses
    # under the guide an answer is right only if proved by valid steps: kept = right
    assert row["sampled"] == len(samples) == 2 and row["kept"] == len(kept) == sum(r["correct"] for r in samples)
    assert all("[[infer:" in k["trace"] and k["prompt"].startswith("<|im_start|>") for k in kept)
    manifest = read_manifest(out / "round-1" / "certified" / "model")
    assert manifest is not None and manifest.finished and manifest.steps == 2
    assert manifest.counts["examples"] == row["kept"]
    trained = report["evaluation"]["certified"]
    assert trained["model"] == f"hf/{out / 'round-1' / 'certified' / 'model'}" and trained["n"] == 2
    answers = load_run(out / "eval" / "certified").responses
    assert len(answers) == 2 and all(r["status"] == "ok" and r["logic"]["condition"] == "guided-formalised"
                                     for r in answers)
    assert trained["ci_low"] <= trained["accuracy"] <= trained["ci_high"]
    assert json.loads((out / REPORT).read_text()) == report

    # a rerun skips the finished round: nothing sampled or trained again
    files = [out / "round-1" / "certified" / name for name in ("kept.jsonl", "model/model.safetensors",
                                                               "samples/s1/responses.jsonl")]
    before = [f.stat().st_mtime_ns for f in files]
    again = certified(f"hf/{model}", train, out, problems=2, samples=1, options=OPTIONS, settings=SETTINGS,
                      arms=("certified",), progress=False)
    assert again["rounds"] == report["rounds"] and [f.stat().st_mtime_ns for f in files] == before


def test_bad_input_is_one_clear_error(data: tuple[Path, Path, Path], tmp_path: Path) -> None:
    train, _, model = data
    with pytest.raises(ProcevalError, match="no kept trace") as no_trace:  # unguided, it never answers
        certified(f"hf/{model}", train, tmp_path / "a", problems=1, samples=1, options=OPTIONS, settings=SETTINGS,
                  arms=("answer-right",), progress=False)
    assert no_trace.value.field == "problems" and "status invalid 1" in str(no_trace.value)
    other = generate("arithmetic", out=tmp_path / "arith", n=1, seed=0, progress=False).path
    with pytest.raises(ProcevalError, match="prontoqa") as wrong_task:
        certified(f"hf/{model}", other, tmp_path / "b", progress=False)
    assert wrong_task.value.field == "data"
    with pytest.raises(ProcevalError, match="cannot load model") as no_model:
        certified(f"hf/{tmp_path / 'nothing'}", train, tmp_path / "c", progress=False)
    assert no_model.value.field == "model"


def test_cli_prints_the_error_without_a_traceback(data: tuple[Path, Path, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "certified", "--model", f"hf/{tmp_path / 'nothing'}", "--data", str(data[0]),
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr()
    assert code != 0 and "cannot load model" in err.err + err.out and "Traceback" not in err.err + err.out
