"""A model trained on search streams writes the search language: the `tiny` checkpoint in data/sos-tiny (the SoS
model of examples/sos/study.yaml: 1,854 streams, 2 epochs, its train.json beside it) answers held-out problems
through `proceval run --model hf/PATH` in lines of the stream grammar, where the same architecture untrained does
not. The grammar below is written from docs/sos.md's table, independently of the code that writes streams.

Only the share of well-formed lines is asserted (another CPU may decode a different stream): this model writes
the syntax but not yet valid arithmetic (its solve rate is 0 on these problems; see docs/sos.md, Measured)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from transformers import LlamaForCausalLM

from proceval.generate import generate
from proceval.run import run_dataset
from proceval.train.models import model_config
from proceval.train.sft import sos_tokenizer

CHECKPOINT = Path(__file__).parent / "data" / "sos-tiny"

N = r"\d+"
NUMBERS = rf"\[(?:{N}(?:, {N})*)?\]"
OP = rf"{N}[+\-*/]{N}={N}"
NODE = r"#\d+(?:,\d+)*"
LINE = re.compile("|".join(f"(?:{line})" for line in (
    rf"Current State: {N}:{NUMBERS}, Operations: \[(?:{OP}(?:, {OP})*)?\]",
    rf"Exploring Operation: {OP}, Resulting Numbers: {NUMBERS}",
    rf"Generated Node {NODE}: {N}:{NUMBERS} Operation: {OP}",
    rf"Moving to Node {NODE}",
    rf"{N},{N} unequal: No Solution",
    rf"{N},{N} equal: Goal Reached",
    r"No Solution Found")))


def well_formed_share(run: Path) -> tuple[float, int]:
    """(share of complete lines in the stream grammar, lines seen); a last line cut by max_tokens is not judged."""
    judged = good = 0
    for row in (run / "responses.jsonl").read_text(encoding="utf-8").splitlines():
        raw = json.loads(row).get("raw") or ""
        lines = raw.split("\n")
        complete = lines if raw.endswith("\n") else lines[:-1]
        for line in (x for x in complete if x):
            judged += 1
            good += bool(LINE.fullmatch(line))
    return good / max(judged, 1), judged


def test_the_line_grammar_accepts_a_published_style_stream_and_rejects_a_broken_one() -> None:
    assert all(LINE.fullmatch(x) for x in (
        "Current State: 24:[4, 12], Operations: [9+3=12]", "Exploring Operation: 12/4=3, Resulting Numbers: [3]",
        "Generated Node #0,0: 24:[4, 12] Operation: 9+3=12", "Moving to Node #0,1", "3,24 unequal: No Solution",
        "24,24 equal: Goal Reached", "No Solution Found"))
    assert not any(LINE.fullmatch(x) for x in (
        "Exploring Operation: 30-3=1, Resulting Numbers: [30, 3, Operations: #0,0: 30:[3, 30] Operations: 30]",
        "Current State: 30:[30, 30=10], Resulting Numbers: [30-30=10]", "Moving Operation: 30-3=3"))


def test_a_model_trained_on_streams_writes_the_search_language(tmp_path: Path) -> None:
    data = generate("countdown", out=tmp_path / "data", n=60, seed=7, options={"inputs": "3"}, progress=False)
    trained = run_dataset(data, f"hf/{CHECKPOINT}", tmp_path / "trained", split="val_target", limit=6,
                          max_tokens=160, progress=False)
    share, lines = well_formed_share(trained.path)
    assert lines >= 30 and share >= 0.7, (share, lines)
    # the same architecture and tokenizer, untrained (seeded): what the checkpoint's training added
    tokenizer = sos_tokenizer()
    torch.manual_seed(0)
    untrained = tmp_path / "untrained"
    LlamaForCausalLM(model_config("tiny", tokenizer)).save_pretrained(untrained)
    tokenizer.save_pretrained(untrained)
    baseline = run_dataset(data, f"hf/{untrained}", tmp_path / "baseline", split="val_target", limit=6,
                           max_tokens=160, progress=False)
    assert well_formed_share(baseline.path)[0] <= 0.1
