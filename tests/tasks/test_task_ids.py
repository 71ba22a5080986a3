"""The arithmetic task writes byte for byte the items the former YAML template + hook wrote.

The hashes were computed with the template (templates/builtin/arithmetic.yaml and the hook
proceval.templates.arithmetic:problem, commit 0f5da1b) by ``generate("arithmetic", n=N, seed=S)``: the sha256
of items.jsonl, and of the item ids one per line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from proceval.generate import generate

OLD = {  # (n, seed) → sha256 of items.jsonl, sha256 of the ids joined by newlines
    (20, 0): ("b0e110841090427709222377d12d36e20f866bd93c07bf2594e338e01591c50c",
              "51d5e9d70ab7d4bf1f6c6c07534ba4ee59d9c6ad8bce9d1f6adfc829b9eb8138"),
    (7, 3): ("bd42f7bf2670f91a492a301e395d8cc6c0f814d7af8163b92436a3c714edcef0",
             "fc390851447eaca7bbcbf02083c6b505449c43a0ce3238b4642634ef494f73cb"),
}


@pytest.mark.parametrize(("n", "seed"), list(OLD))
def test_items_and_ids_match_the_former_template(n: int, seed: int, tmp_path: Path) -> None:
    dataset = generate("arithmetic", n=n, seed=seed, out=tmp_path / "quiz", progress=False)
    items_hash, ids_hash = OLD[n, seed]
    assert hashlib.sha256("\n".join(i.id for i in dataset.items).encode()).hexdigest() == ids_hash
    assert hashlib.sha256((tmp_path / "quiz" / "items.jsonl").read_bytes()).hexdigest() == items_hash
    assert dataset.manifest.source == {"kind": "task", "task": "arithmetic", "config": {}, "n": n}
    assert len(dataset.manifest.conditions) == 17


def test_cli_names_tasks_and_refuses_options_for_templates(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    from proceval.cli.main import main

    assert main(["generate", "arithmetc", "--n", "1", "--out", str(tmp_path / "a")]) != 0
    assert "did you mean 'arithmetic'" in capsys.readouterr().err
    assert main(["generate", "tom", "--n", "1", "--option", "x=1", "--out", str(tmp_path / "b")]) != 0
    assert "takes no options" in capsys.readouterr().err
    assert main(["generate", "long-arithmetic", "--n", "1", "--option", "digits", "--out", str(tmp_path / "c")]) != 0
    assert "NAME=VALUE" in capsys.readouterr().err


def test_a_study_file_names_a_python_task(tmp_path: Path) -> None:
    from proceval.study import load_study, stage_hashes

    study = tmp_path / "study.yaml"
    study.write_text("name: quiz\nseed: 0\ndataset:\n  template: arithmetic\n  n: 2\nsubjects:\n"
                     "  - model: local/smollm2-135m\n    strategy: zero-shot\n", encoding="utf-8")
    hashes = stage_hashes(load_study(study), tmp_path)
    other = study.read_text(encoding="utf-8").replace("template: arithmetic", "template: long-arithmetic")
    study.write_text(other, encoding="utf-8")
    assert stage_hashes(load_study(study), tmp_path)["generate"] != hashes["generate"]


def test_a_causal_template_is_a_task_with_the_same_items(tmp_path: Path) -> None:
    from proceval.tasks import make_task
    from proceval.tasks.template import TemplateTask

    tom = make_task("tom")
    assert isinstance(tom, TemplateTask) and tom.factors == tom.template.factors
    dataset = generate("tom", n=3, seed=5, out=tmp_path / "tom", progress=False)
    items = tom.items(3, seed=5)
    assert [i.to_dict() for i in items] == [i.to_dict() for i in dataset.items]
    item = next(i for i in items if i.answer is not None)
    wrong = next(o["key"] for o in item.options if o["key"] != item.answer)
    assert tom.verify(item, item.answer).correct and not tom.verify(item, wrong).correct  # type: ignore[union-attr]
