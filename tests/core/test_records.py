"""Records are checked where they cross a file: a malformed line is one error naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proceval.core.records import RecordError, check_response
from proceval.run.io import ResponseLog, load_run, read_responses


def _line(**extra: object) -> str:
    return json.dumps({"item_id": "i1", "subject": "local/m", "status": "ok", **extra}) + "\n"


def test_a_malformed_record_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "responses.jsonl"
    path.write_text(_line() + _line(item_id="i2", correct="perhaps"), encoding="utf-8")
    with pytest.raises(RecordError) as info:
        read_responses(path)
    assert info.value.file == str(path) and info.value.line == 2 and "correct" in str(info.value)


def test_older_runs_with_extra_keys_and_few_fields_still_read(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"status": "complete", "a_future_key": 1}), encoding="utf-8")
    (tmp_path / "responses.jsonl").write_text(_line(something_new=[1, 2]), encoding="utf-8")
    run = load_run(tmp_path)
    assert run.responses == [json.loads(_line(something_new=[1, 2]))] and run.complete


def test_a_writer_refuses_a_record_before_it_reaches_the_file(tmp_path: Path) -> None:
    log = ResponseLog(tmp_path / "responses.jsonl")
    with pytest.raises(RecordError, match="status"):
        log.append({"item_id": "i1", "subject": "s", "status": "done"})
    log.close()
    assert (tmp_path / "responses.jsonl").read_text(encoding="utf-8") == ""
    assert check_response({"item_id": "i1", "subject": "s", "score": 0.5}) == {"item_id": "i1", "subject": "s",
                                                                              "score": 0.5}
