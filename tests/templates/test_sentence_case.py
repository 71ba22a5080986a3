"""Values keep their case inside a sentence; only the start of each shown text is capitalised."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proceval.generate import generate
from proceval.scenarios.lexicon import load_lexicon
from proceval.templates import builtin_templates, load_template
from tests.test_docs_examples import docs_yaml_example

SENTENCE_START = re.compile(r"(^|[.!?][\"')]?\s+)$")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proceval", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_a_value_inside_a_sentence_keeps_its_case(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(docs_yaml_example("keys"), encoding="utf-8")
    result = cli("generate", str(path), "--n", "8", "--out", str(tmp_path / "keys"))
    assert result.returncode == 0, result.stderr
    items = [orjson.loads(line) for line in (tmp_path / "keys" / "items.jsonl").read_bytes().splitlines()]
    spots = {"on the table": "in the drawer", "by the door": "under the sofa"}  # the docs' lexicon
    for item in items:
        first = next(s for s in spots if f"leaves the keys {s}." in item["text"])
        if item["condition"]["moved"] == "moved":
            assert f"A friend moves the keys {spots[first]}." in item["text"]
        # an option is a text of its own: it starts with a capital, the rest as written in the lexicon
        assert {o["text"] for o in item["response"]["options"]} == {first.capitalize(), spots[first].capitalize()}


def _strings(entry: Any) -> list[str]:
    if isinstance(entry, str):
        return [entry]
    if isinstance(entry, dict):
        return [s for value in entry.values() for s in _strings(value)]
    if isinstance(entry, list):
        return [s for value in entry for s in _strings(value)]
    return []


LEXICON_TEMPLATES = sorted(name for name in builtin_templates() if load_template(name).spec.lexicon is not None)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(LEXICON_TEMPLATES), seed=st.integers(0, 10_000))
def test_no_builtin_lexicon_value_is_altered_mid_sentence(tmp_path_factory: Any, name: str, seed: int) -> None:
    template = load_template(name)
    # lexicon words written in lower case; short ones ("a", "an") would also match inside other words
    lower = {s for s in _strings(list(load_lexicon(template).values())) if s[:1].islower() and len(s) >= 4}
    dataset = generate(template, n=2, seed=seed, out=tmp_path_factory.mktemp("d") / name, progress=False)
    for item in dataset.items:
        texts = [item.text, item.question, *(o["text"] for o in item.options)]
        for text in texts:
            for value in lower:
                capitalised = value[0].upper() + value[1:]
                for match in re.finditer(re.escape(capitalised), text):
                    before = text[: match.start()]
                    if before and before[-1].isalnum():
                        continue  # inside another word
                    assert SENTENCE_START.search(before), f"{capitalised!r} capitalised mid-sentence in {text!r}"
