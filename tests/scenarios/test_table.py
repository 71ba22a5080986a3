"""Importing filled rows: bad rows are counted and reported, bad files are clear errors, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from proceval.errors import DatasetError, SourceError
from proceval.generate import generate
from proceval.scenarios.table import split_sentences
from tests.conftest import DATA

BIGTOM = DATA / "bigtom" / "bigtom.csv"


def first_rows(n: int) -> list[str]:
    return BIGTOM.read_text(encoding="utf-8").splitlines()[:n]


def test_wrong_field_count_is_skipped_and_reported(tmp_path: Path) -> None:
    lines = first_rows(4)
    lines[1] = lines[1].rsplit(";", 1)[0]  # 18 fields
    lines[2] = lines[2] + ";extra"  # 20 fields
    source = tmp_path / "rows.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dataset = generate("tom", out=tmp_path / "out", from_files=[source], progress=False)
    assert dataset.manifest.n_scenarios == 2 and len(dataset) == 50
    skipped = [(s.line, s.reason) for s in dataset.manifest.skipped]
    assert skipped == [(2, "expected 19 fields, found 18"), (3, "expected 19 fields, found 20")]
    assert all(s.file == str(source) for s in dataset.manifest.skipped)


def test_strict_mode_stops_at_the_first_bad_row_and_writes_nothing(tmp_path: Path) -> None:
    lines = first_rows(3)
    lines[2] = lines[2].replace(";", ",", 3)  # fewer fields
    source = tmp_path / "rows.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SourceError) as info:
        generate("tom", out=tmp_path / "out", from_files=[source], strict=True, progress=False)
    assert info.value.line == 3 and "expected 19 fields" in info.value.message
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == [source]  # no temporary directory left behind


def test_story_that_does_not_split_into_five_sentences(tmp_path: Path) -> None:
    row = first_rows(1)[0]
    story, rest = row.split(";", 1)
    source = tmp_path / "rows.csv"
    source.write_text(story + " An extra sentence here." + ";" + rest + "\n" + first_rows(2)[1] + "\n",
                      encoding="utf-8")
    dataset = generate("tom", out=tmp_path / "out", from_files=[source], progress=False)
    assert [(s.line, s.reason) for s in dataset.manifest.skipped] == [(1, "story: expected 5 sentences, found 6")]


def test_duplicate_rows_are_reported(tmp_path: Path) -> None:
    row = first_rows(1)[0]
    source = tmp_path / "rows.csv"
    source.write_text(f"{row}\n{row}\n", encoding="utf-8")
    dataset = generate("tom", out=tmp_path / "out", from_files=[source], progress=False)
    assert dataset.manifest.n_scenarios == 1
    assert "duplicate of the scenario at rows.csv:1" in dataset.manifest.skipped[0].reason


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    source = tmp_path / "latin1.csv"
    lines = first_rows(3)
    source.write_bytes(("\n".join(lines[:2]) + "\n").encode() + lines[2].replace("Carlos", "Jos\xe9").encode("latin-1"))
    with pytest.raises(SourceError) as info:
        generate("tom", out=tmp_path / "out", from_files=[source], progress=False)
    assert info.value.line == 3 and "not UTF-8" in info.value.message and "iconv" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(SourceError, match="empty"):
        generate("tom", out=tmp_path / "out", from_files=[empty], progress=False)
    with pytest.raises(SourceError, match="no such file"):
        generate("tom", out=tmp_path / "out", from_files=[tmp_path / "nope.csv"], progress=False)


def test_all_rows_bad_is_an_error_not_an_empty_dataset(tmp_path: Path) -> None:
    source = tmp_path / "wrong.csv"
    source.write_text("a;b;c\nd;e;f\n", encoding="utf-8")
    with pytest.raises(SourceError, match="no usable scenarios: all 2 rows were skipped"):
        generate("tom", out=tmp_path / "out", from_files=[source], progress=False)


def test_existing_output_needs_force(tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    source.write_text(first_rows(1)[0] + "\n", encoding="utf-8")
    generate("tom", out=tmp_path / "out", from_files=[source], progress=False)
    with pytest.raises(DatasetError, match="already exists"):
        generate("tom", out=tmp_path / "out", from_files=[source], progress=False)
    again = generate("tom", out=tmp_path / "out", from_files=[source], force=True, progress=False)
    assert len(again) == 25


def test_sentence_splitter_keeps_abbreviation_free_sentences() -> None:
    assert split_sentences("A b. C d! E f? \"G h.\" I j.") == ["A b.", "C d!", "E f?", "\"G h.\"", "I j."]
    assert split_sentences("It costs 3.5 dollars. Next one.") == ["It costs 3.5 dollars.", "Next one."]
