"""The examples in docs/logic-guide.md run as written, and its commands name solvers and options that exist."""

from __future__ import annotations

import re
import shlex

from proceval.solvers import configured
from tests.conftest import REPO

TEXT = (REPO / "docs" / "logic-guide.md").read_text(encoding="utf-8")


def test_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/logic-guide.md", "exec"), {})


def test_run_commands_name_known_solvers_and_options() -> None:
    commands = [shlex.split(line.strip()) for line in TEXT.splitlines() if line.strip().startswith("proceval run ")]
    assert len(commands) == 4
    names = []
    for words in commands:
        solver = words[words.index("--solver") + 1]
        options = dict(w.split("=", 1) for i, w in enumerate(words) if i and words[i - 1] == "--option")
        names.append(configured(solver, options))
    assert names == ["logic-cot", "logic-guide", "logic-guide:formalise=proceval", "logic-guide"]
