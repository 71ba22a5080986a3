"""docs/logic-guide.md's self-improvement commands: the datasets are made as written and the training command
parses as written, with options the logic solvers take (running it is the minutes-long experiment of the doc)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from tests.conftest import REPO

from proceval.cli.main import build_parser, main
from proceval.dataset import Dataset
from proceval.solvers import configured

SECTION = (REPO / "docs" / "logic-guide.md").read_text(encoding="utf-8").split("## Self-improvement")[1]
COMMANDS = [shlex.split(line.strip()) for line in SECTION.splitlines() if line.strip().startswith("proceval ")]


def test_commands_run_and_parse_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    makers = [words for words in COMMANDS if words[1] == "generate"]
    trains = [words for words in COMMANDS if words[1] == "train"]
    assert len(makers) + len(trains) == len(COMMANDS) and len(trains) == 2  # the quick start and the measured run
    for words in makers:
        assert main(words[1:]) == 0, words
    for train in trains:
        args = build_parser("train").parse_args(train[1:])
        assert args.train_command == "certified" and args.model == "hf/smollm2-135m"
        options = dict(o.split("=", 1) for o in args.option)
        tokens = options["max_tokens"]
        assert configured("logic-guide", options) == f"logic-guide:formalise=proceval,max_tokens={tokens}"
        assert configured("logic-cot", options) == f"logic-cot:formalise=proceval,max_tokens={tokens}"
        for path in (args.data, args.held_out):
            items = Dataset.load(path).items
            assert len(items) >= max(args.problems, args.eval_problems or 0)
            assert {i.template for i in items} == {"prontoqa"}
