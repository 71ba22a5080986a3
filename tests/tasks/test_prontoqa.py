"""prontoqa: deterministic, balanced True/False items whose answer the engine proves in exactly ``hops`` steps
from proceval's own formalisation of the sentences, and whose gold proof certifies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.core import TaskError
from proceval.tasks import make_task
from proceval.tasks.logic import certify, formalize, theory_of
from proceval.tasks.logic.engine import Theory
from proceval.tasks.prontoqa import parse_hops


def saturate(theory: Theory, rounds: int) -> Theory:
    """Forward chaining for ``rounds`` rounds: every one-step inference of a round is added at once."""
    for _ in range(rounds):
        for inference in theory.inferences():
            theory.facts.append(inference.conclusion)
    return theory


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), index=st.integers(0, 200),
       hops=st.sampled_from(["1-5", "1", "2", "3", "4", "5", "2,4"]),
       ontology=st.sampled_from(["fictional,true,false", "fictional", "true", "false"]))
def test_engine_proves_the_gold_answer_in_hops_steps_and_the_gold_proof_certifies(
        seed: int, index: int, hops: str, ontology: str) -> None:
    task = make_task("prontoqa", {"hops": hops, "ontology": ontology})
    item = task.item(seed, index)
    assert task.items(index + 1, seed)[index] == item  # a pure function of (config, seed, index)
    n_hops = int(str(item.condition["hops"]))
    assert n_hops in parse_hops(hops) and item.condition["ontology"] in ontology.split(",")
    # proceval's parser of the sentences gives the same formal problem as the one the task wrote
    assert {str(b) for b in formalize(item.text, item.question)} == set(item.metadata["formal"])
    # the answer is reached by forward chaining in exactly `hops` rounds (not fewer: the hop count is honest)
    assert saturate(theory_of(item.text, item.question), n_hops - 1).answer() == "unknown"
    assert saturate(theory_of(item.text, item.question), n_hops).answer() == item.answer
    # the gold proof: `hops` inference blocks, every one valid, ending in the answer
    certificate = certify(" ".join(item.metadata["proof_formal"]), theory_of(item.text, item.question))
    assert len(certificate.inferences) == n_hops == len(item.metadata["proof"]) - 1
    assert certificate.soundness == 1.0 and certificate.certified and certificate.answer() == item.answer
    # the problem's own blocks, read by the checker from text, form the same theory
    assert certify(" ".join(item.metadata["formal"])).errors == []


def test_answers_are_balanced_in_every_cell() -> None:
    task = make_task("prontoqa", {"hops": "1-5", "ontology": "fictional,true,false"})
    items = task.items(60, seed=3)
    counts = Counter((i.condition["hops"], i.condition["ontology"], i.answer) for i in items)
    assert len(counts) == 5 * 3 * 2 and set(counts.values()) == {2}
    assert all(i.response_type == "choice" and i.answer in ("true", "false") for i in items)


def test_a_hand_worked_problem() -> None:
    # hand-checked: Rex is a wumpus → tumpus → not red; the question asks "red", so the answer is False
    text = "Rex is a wumpus. Every wumpus is a tumpus. Every tumpus is not red. Every dumpus is red."
    theory = theory_of(text, "True or false: Rex is red.")
    assert [str(i.conclusion) for i in theory.inferences()] == ["tumpus(rex)"]
    assert saturate(theory, 2).answer() == "false"


def test_true_and_false_ontologies_state_world_knowledge_and_its_opposite() -> None:
    true_items = make_task("prontoqa", {"hops": "2", "ontology": "true"}).items(20, seed=0)
    false_items = make_task("prontoqa", {"hops": "2", "ontology": "false"}).items(20, seed=0)
    true_text = " ".join(i.text for i in true_items)
    false_text = " ".join(i.text for i in false_items)
    # statements checked by hand against world knowledge: falsehoods never in the true ontology, truths never
    # in the false one, and each ontology does state its kind
    falsehoods = ("Every mammal is not warm-blooded.", "Every animal is a vertebrate.", "Every feline is a cat.",
                  "Every organism is an animal.", "Every bird is a songbird.", "Every plant is an angiosperm.")
    truths = ("Every mammal is warm-blooded.", "Every cat is a feline.", "Every bird is feathered.",
              "Every vertebrate is an animal.", "Every plant is photosynthetic.", "Every angiosperm is a plant.")
    assert not any(s in true_text for s in falsehoods) and not any(s in false_text for s in truths)
    assert any(s in true_text for s in truths) and any(s in false_text for s in falsehoods)


@pytest.mark.parametrize(("options", "field"), [({"hops": "0-2"}, "option hops"), ({"hops": "a"}, "option hops"),
                                                ({"ontology": "fiction"}, "option ontology")])
def test_bad_options_say_which(options: dict[str, str], field: str) -> None:
    with pytest.raises(TaskError) as error:
        make_task("prontoqa", options)
    assert error.value.field == field


def test_generate_command(tmp_path: Path) -> None:
    from proceval.cli.main import main
    from proceval.dataset import Dataset

    out = tmp_path / "pq"
    assert main(["generate", "prontoqa", "--option", "hops=1-5", "--option", "ontology=fictional,true,false",
                 "--n", "30", "--seed", "0", "--out", str(out)]) == 0
    dataset = Dataset.load(out)
    assert len(dataset.items) == 30
    assert dataset.manifest.factors == {"hops": ["1", "2", "3", "4", "5"], "ontology": ["fictional", "true", "false"]}
