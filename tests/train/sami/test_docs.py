"""docs/sami.md: its principle file gives what the text says, its study block is the example file's settings,
and every command it shows parses with the CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from proceval.cli.main import build_parser
from proceval.train.sami.constitutions import PrinciplesFile, make_constitutions
from proceval.train.sami.study import SamiFile

REPO = Path(__file__).resolve().parents[3]
TEXT = (REPO / "docs" / "sami.md").read_text(encoding="utf-8")


def _block(name: str) -> str:
    return next(b for b in re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.S) if b.startswith(f"# docs-example: {name}"))


def test_the_principles_give_four_constitutions() -> None:
    result = make_constitutions(PrinciplesFile.model_validate(yaml.safe_load(_block("principles"))))
    assert len(result.constitutions) == 4 and result.pairs[0].proxy == "words"
    assert "2^k constitutions" in TEXT


def test_the_study_block_is_the_example_file() -> None:
    documented = SamiFile.model_validate(yaml.safe_load(_block("study")))
    example = SamiFile.model_validate(yaml.safe_load((REPO / "examples" / "sami" / "study.yaml").read_text()))
    assert documented == example


def test_every_command_parses() -> None:
    commands = [line for block in re.findall(r"```\n(.*?)```", TEXT, flags=re.S) for line in block.splitlines()
                if line.startswith("proceval ")]
    assert len(commands) == 5
    for line in commands:
        argv = shlex.split(line)[1:]
        args = build_parser(argv[0]).parse_args(argv)
        assert callable(args.func)
