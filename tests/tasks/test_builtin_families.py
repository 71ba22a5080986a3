"""Each built-in family lives in its own folder under proceval/tasks/, and moving it there changed no dataset.

The hashes were computed before the move (templates/builtin/*.yaml, proceval 0.1.0): a dataset generated
from a built-in template has the same items, so the same item ids, wherever the template file lives.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from proceval.generate import generate
from proceval.templates import builtin_templates
from tests.conftest import DATA

ITEMS_SHA256 = {
    "tom": "0edbc1187837c176d4dc998f1e3f665d685a5c5ce038234e983b0a91c22a709d",
    "moral": "7b56fb5a56c0be6d1542ba603d8c7136d3b8612fcb73a9ff2414e312e9eb8262",
    "goal_control": "dfb1f6a3300fc17daacc463f89de4c2d69a1ed8bc2b95e95bdd6632bdca1c3e3",
    "safety_expected": "56bcc297a31aef820cc597949c9a867545ff1ad51c6c6fcb786ec337794d560c",
}


def test_each_family_folder_holds_its_templates_and_lexicons() -> None:
    found = builtin_templates()
    assert {name: path.parent.name for name, path in found.items()} == {
        "tom": "tom", "moral": "moral", "affect_goal_control": "affect", "affect_safety_expected": "affect"}
    for path in found.values():
        assert path.with_name(f"{path.stem}_lexicon.yaml").is_file()


@pytest.mark.parametrize("name", sorted(ITEMS_SHA256))
def test_generated_items_are_those_made_before_the_move(name: str, tmp_path: Path) -> None:
    if name in ("tom", "moral"):
        ds = generate(name, n=5, seed=3, out=tmp_path / name, progress=False)
    else:
        ds = generate(f"affect_{name}", out=tmp_path / name, from_files=[DATA / "affective" / f"{name}.csv"],
                      progress=False)
    assert hashlib.sha256((ds.path / "items.jsonl").read_bytes()).hexdigest() == ITEMS_SHA256[name]
