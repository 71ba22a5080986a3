"""Principle files: unknown keys are named, identical or malformed pairs are dropped and counted, k pairs give
2**k constitutions; query files skip and count empty rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proceval.models import GenerateConfig, Generation, Message
from proceval.train.sami.constitutions import (
    PrinciplesFile,
    SamiError,
    make_constitutions,
    parse_writer_reply,
    read_constitutions,
    read_principles,
    write_constitutions,
)
from proceval.train.sami.queries import builtin_queries, load_queries

REPO = Path(__file__).resolve().parents[3]


def test_the_example_gives_two_constitutions(tmp_path: Path) -> None:
    spec = read_principles(REPO / "examples" / "sami" / "principles.yaml")
    result = make_constitutions(spec)
    assert [c.label for c in result.constitutions] == ["brevity+", "brevity-"]
    assert result.constitutions[0].principles == [spec.principles[0].positive]
    assert read_constitutions(write_constitutions(result, tmp_path)) == result


def test_an_unknown_key_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("principles:\n  - name: a\n    positive: x\n    negativ: y\n")
    with pytest.raises(SamiError) as caught:
        read_principles(path)
    text = str(caught.value)
    assert str(path) in text and ":4" in text and "negativ" in text


def test_identical_and_empty_pairs_are_dropped_and_counted() -> None:
    spec = PrinciplesFile.model_validate({"principles": [
        {"name": "a", "positive": "Be brief.", "negative": "  be   BRIEF. "},
        {"name": "b", "positive": " ", "negative": "x"},
        {"name": "c", "positive": "Be kind.", "negative": "Be rude."},
        {"name": "d", "positive": "Use lists.", "negative": "Never use lists."}]})
    result = make_constitutions(spec)
    assert result.counts == {"pairs_given": 4, "written": 0, "malformed": 1, "identical": 1, "pairs_kept": 2}
    assert [c.label for c in result.constitutions] == ["c+ d+", "c+ d-", "c- d+", "c- d-"]
    assert result.constitutions[2].principles == ["Be rude.", "Use lists."]
    with pytest.raises(SamiError, match="no usable principle pair"):
        make_constitutions(PrinciplesFile.model_validate({"principles": [spec.principles[0].model_dump()]}))


class Scripted:
    """A writer whose replies are fixed text (the parsing is under test, not a model)."""

    spec = "scripted/writer"

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies

    def generate(self, messages: list[Message], config: GenerateConfig | None = None) -> Generation:
        return Generation(text=self.replies.pop(0), prompt_tokens=1, completion_tokens=1, finish_reason="stop")


def test_a_writer_fills_missing_versions_and_its_malformed_replies_are_counted() -> None:
    spec = PrinciplesFile.model_validate({"principles": [{"name": "tone", "about": "friendliness"},
                                                         {"name": "form", "about": "lists"}]})
    writer = Scripted(["Positive: Be warm.\nNegative: Be cold.", "I cannot do that."])
    result = make_constitutions(spec, writer=writer)
    assert result.pairs[0].positive == "Be warm." and result.writer == "scripted/writer"
    assert result.counts["written"] == 2 and result.counts["malformed"] == 1
    with pytest.raises(SamiError, match="no writer model"):
        make_constitutions(spec)


@given(st.text(min_size=1).filter(lambda s: s.strip() and "\n" not in s and "\r" not in s),
       st.text(min_size=1).filter(lambda s: s.strip() and "\n" not in s and "\r" not in s))
def test_writer_replies_parse_back(pos: str, neg: str) -> None:
    parsed = parse_writer_reply(f"Sure.\nPositive: {pos}\nNegative: {neg}\n")
    assert parsed == (pos.strip().strip('"'), neg.strip().strip('"')) or parsed is None


def test_queries_builtin_and_files(tmp_path: Path) -> None:
    assert len(builtin_queries()) == 128 and len(set(builtin_queries())) == 128
    assert [q.text for q in load_queries("builtin[:2]").queries] == builtin_queries()[:2]
    assert len(load_queries("builtin[96:]").queries) == 32
    (tmp_path / "q.csv").write_text("query,x\nHi?,1\n,2\nHi?,3\nBye?,4\n")
    found = load_queries(tmp_path / "q.csv")
    assert [q.text for q in found.queries] == ["Hi?", "Bye?"] and found.skipped == {"empty": 1, "duplicate": 1}
    (tmp_path / "q.jsonl").write_text('{"query": "A?"}\n{"text": ""}\n')
    assert load_queries(tmp_path / "q.jsonl").skipped["empty"] == 1
    (tmp_path / "bad.csv").write_text("question\nA?\n")
    with pytest.raises(SamiError, match="no query column"):
        load_queries(tmp_path / "bad.csv")
