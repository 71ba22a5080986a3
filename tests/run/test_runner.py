"""The runner end to end on a real (tiny, random) transformers model: files, scoring, resume, faults."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from proceval.errors import DatasetError, ModelError, RunError
from proceval.models.cache import CallCache
from proceval.run import load_run, run_dataset
from proceval.run.io import RESPONSES_FILE, RUN_FILE
from tests.conftest import choice_item, write_dataset

FIELDS = {
    "item_id", "scenario_id", "condition_name", "question_name", "subject", "subject_kind", "strategy", "scoring",
    "orders", "per_order", "probs", "choice", "rating", "rating_probs", "expected_rating", "correct",
    "first_shown", "raw", "prompt_tokens", "completion_tokens", "latency_s", "status", "error",
}


def stable(responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Responses without wall-clock fields, for identity comparisons."""
    return [{k: v for k, v in r.items() if k != "latency_s"} for r in responses]


def test_logprob_run_writes_counterbalanced_probabilities(tiny_hf, mixed_dataset, tmp_path: Path) -> None:
    run = run_dataset(mixed_dataset, tiny_hf, tmp_path / "run", progress=False)
    assert run.complete and run.info["scoring"] == "logprob"
    assert len(run.responses) == len(mixed_dataset) == 16
    item_map = mixed_dataset.item_map()
    for r in run.responses:
        assert set(r) >= FIELDS, FIELDS - set(r)
        assert r["status"] == "ok" and r["subject"] == tiny_hf.spec and r["subject_kind"] == "model"
        item = item_map[r["item_id"]]
        if item.response_type == "choice":
            keys = [o["key"] for o in item.options]
            n_orders = math.factorial(len(keys))  # all orders for 2-3 options
            assert len(r["orders"]) == len(r["per_order"]) == n_orders
            # every option is shown in every position equally often
            for position in range(len(keys)):
                shown = [order[position] for order in r["orders"]]
                assert sorted(shown) == sorted(keys * (n_orders // len(keys)))
            assert math.isclose(sum(r["probs"].values()), 1.0, abs_tol=1e-4)
            mean = {k: sum(o["probs"][k] for o in r["per_order"]) / n_orders for k in keys}
            for k in keys:
                assert r["probs"][k] == pytest.approx(mean[k], abs=1e-5)
            assert r["choice"] == max(keys, key=lambda k: (r["probs"][k], -keys.index(k)))
            assert r["correct"] == (r["choice"] == item.answer)
            assert r["first_shown"] == r["orders"][0][0]
        else:
            assert math.isclose(sum(r["rating_probs"].values()), 1.0, abs_tol=1e-4)
            assert 1 <= r["expected_rating"] <= 5 and r["rating"] in range(1, 6)
            assert r["correct"] is None and r["choice"] is None
    counts = run.info["counts"]
    assert counts["items"] == counts["ok"] == 16
    assert counts["calls"] == sum(len(r["per_order"]) for r in run.responses)
    assert counts["cache_hits"] == 0
    # the manifest names the model and dataset and holds no secrets
    assert run.info["model"]["provider"] == "hf" and run.info["model"]["revision"].startswith("sha256:")
    assert run.info["dataset"]["content_hash"] == mixed_dataset.content_hash
    assert "item.j2" in run.info["prompts"]["templates"]


def test_rerun_resumes_without_repeating_calls(tiny_hf, mixed_dataset, tmp_path: Path) -> None:
    full = run_dataset(mixed_dataset, tiny_hf, tmp_path / "full", progress=False)
    part = run_dataset(mixed_dataset, tiny_hf, tmp_path / "part", progress=False, limit=5)
    assert len(part.responses) == 5
    first_calls = part.info["counts"]["calls"]
    resumed = run_dataset(mixed_dataset, tiny_hf, tmp_path / "part", progress=False)
    session = resumed.info["sessions"][-1]
    assert session["resumed_from"] == 5 and session["cache_hits"] == 0
    assert first_calls + session["calls"] == full.info["counts"]["calls"]
    assert stable(resumed.responses) == stable(full.responses)  # same lines, same order, same numbers
    again = run_dataset(mixed_dataset, tiny_hf, tmp_path / "part", progress=False)
    assert again.info["sessions"][-1]["calls"] == 0 and again.info["sessions"][-1]["pending"] == 0


def test_torn_last_line_is_redone(tiny_hf, tiny_choice_dataset, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_dataset(tiny_choice_dataset, tiny_hf, out, progress=False, limit=4)
    path = out / RESPONSES_FILE
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][:20])  # a kill in the middle of a write
    assert load_run(out).torn_lines == 1
    run = run_dataset(tiny_choice_dataset, tiny_hf, out, progress=False, limit=4)
    assert len(run.responses) == 4 and run.torn_lines == 0
    assert run.info["sessions"][-1]["cache_hits"] >= 1  # the torn item's calls came from the cache


def test_other_settings_on_existing_run_are_refused(tiny_hf, tiny_choice_dataset, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_dataset(tiny_choice_dataset, tiny_hf, out, progress=False, limit=2)
    with pytest.raises(RunError, match="other settings") as info:
        run_dataset(tiny_choice_dataset, tiny_hf, out, progress=False, limit=2, seed=1)
    assert "--force" in str(info.value)
    run = run_dataset(tiny_choice_dataset, tiny_hf, out, progress=False, limit=2, seed=1, force=True)
    assert run.info["seed"] == 1 and len(run.responses) == 2


def test_generate_scoring_records_invalid_with_raw_text(tiny_hf, tiny_choice_dataset, tmp_path: Path) -> None:
    # random weights write gibberish: never guessed into an option
    run = run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "gen", scoring="generate", progress=False,
                      max_tokens=6)
    assert run.info["scoring"] == "generate"
    for r in run.responses:
        assert len(r["orders"]) == 1 and r["probs"] is None and r["raw"] is not None
        if r["status"] == "invalid":
            assert r["choice"] is None and r["correct"] is None
        else:
            assert r["choice"] in ("a", "b")
    assert run.info["counts"]["invalid"] == sum(r["status"] == "invalid" for r in run.responses)


def test_every_record_names_the_order_it_was_shown_in(tiny_hf, mixed_dataset, tmp_path: Path) -> None:
    """Rating records list their scale order like choice records list option orders, under both scorings."""
    for scoring in ("logprob", "generate"):
        run = run_dataset(mixed_dataset, tiny_hf, tmp_path / scoring, scoring=scoring, progress=False,
                          max_tokens=4)
        for r in run.responses:
            assert r["orders"] == [o["order"] for o in r["per_order"]] and r["orders"]
            if r["rating"] is not None or r["rating_probs"] is not None:
                assert r["orders"] == [["1", "2", "3", "4", "5"]]


def test_too_long_items_are_marked_and_the_run_continues(tiny_hf_path, tmp_path: Path) -> None:
    from proceval.models import load_model

    model = load_model(f"hf/{tiny_hf_path}", max_context=60, n_threads=1)
    items = [choice_item(0, {"belief": "true"}), choice_item(1, {"belief": "true"}, text="long " * 80)]
    ds = write_dataset(tmp_path / "ds", items)
    run = run_dataset(ds, model, tmp_path / "run", progress=False)
    status = {r["item_id"]: r["status"] for r in run.responses}
    assert status == {items[0].id: "ok", items[1].id: "too_long"}
    assert run.info["counts"]["too_long"] == 1 and run.complete


@dataclass
class _Persona:  # the shape of proceval.solvers.personas.Persona
    id: str
    prompt: str
    attributes: dict[str, Any] = field(default_factory=dict)


def test_personas_answer_as_their_own_subjects(tiny_hf, tiny_choice_dataset, tmp_path: Path) -> None:
    personas = [_Persona("p1", "You are a cautious retired nurse."), _Persona("p2", "You are a teenager.")]
    run = run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "run", progress=False, limit=3, personas=personas,
                      system="Answer honestly.")
    subjects = {r["subject"] for r in run.responses}
    assert subjects == {f"{tiny_hf.spec}#persona=p1", f"{tiny_hf.spec}#persona=p2"}
    assert {r["subject_kind"] for r in run.responses} == {"persona"}
    assert len(run.responses) == 6 and run.info["counts"]["items"] == 6
    systems = {s["id"]: s["system"] for s in run.info["subjects"]}
    assert systems[f"{tiny_hf.spec}#persona=p1"] == "You are a cautious retired nurse.\n\nAnswer honestly."
    by = {(r["subject"], r["item_id"]): r["per_order"][0]["probs"] for r in run.responses}
    item = run.responses[0]["item_id"]
    # a different system prompt is a different prompt: the two personas' probabilities differ
    assert by[(f"{tiny_hf.spec}#persona=p1", item)] != by[(f"{tiny_hf.spec}#persona=p2", item)]


def test_cache_is_shared_between_runs(tiny_hf, tiny_choice_dataset, tmp_path: Path) -> None:
    cache = tmp_path / "calls.sqlite"
    first = run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "a", progress=False, cache_path=cache, limit=4)
    second = run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "b", progress=False, cache_path=cache, limit=4)
    assert second.info["counts"]["calls"] == 0
    assert second.info["counts"]["cache_hits"] == first.info["counts"]["calls"] == len(CallCache(cache))
    assert stable(first.responses) == stable(second.responses)


def test_bad_inputs_raise_clear_errors(tiny_hf, tiny_choice_dataset, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a proceval dataset"):
        (tmp_path / "empty").mkdir()
        run_dataset(tmp_path / "empty", tiny_hf, tmp_path / "run", progress=False)
    with pytest.raises(ModelError, match=r"known providers: .*hf.*llama-cpp.*local.*openai"):
        run_dataset(tiny_choice_dataset, "nosuch/model", tmp_path / "run", progress=False)
    with pytest.raises(RunError, match="not a proceval run"):
        load_run(tmp_path / "empty")
    with pytest.raises(RunError, match="scoring"):
        run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "run", scoring="vibes", progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="not a run"):
        run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "other", progress=False)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_run_json_is_valid_and_complete(tiny_hf, tiny_choice_dataset, tmp_path: Path) -> None:
    run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "run", progress=False, limit=2)
    info = json.loads((tmp_path / "run" / RUN_FILE).read_text())
    for key in ("dataset", "model", "prompts", "strategy", "scoring", "seed", "temperature", "max_tokens",
                "counts", "sessions", "status"):
        assert key in info
    for key in ("items", "calls", "cache_hits", "invalid", "too_long", "errors", "wall_s"):
        assert key in info["counts"]


def test_a_regenerated_identical_dataset_is_the_same_dataset(tiny_hf, tmp_path: Path) -> None:
    """Identity is the items and the template, not the manifest's provenance (created_at, template path)."""
    from proceval.generate import generate
    from proceval.templates import builtin_templates

    tom = builtin_templates()["tom"]

    copies = []
    for name in ("a", "b"):  # the same template text loaded from two places
        folder = tmp_path / f"templates-{name}"
        folder.mkdir()
        for file in ("tom.yaml", "tom_lexicon.yaml"):
            (folder / file).write_bytes((tom.parent / file).read_bytes())
        copies.append(generate(folder / "tom.yaml", n=1, seed=3, out=tmp_path / f"data-{name}", progress=False))
    first, second = copies
    assert (first.path / "manifest.json").read_text() != (second.path / "manifest.json").read_text()
    assert (first.path / "items.jsonl").read_bytes() == (second.path / "items.jsonl").read_bytes()
    assert first.content_hash == second.content_hash

    part = run_dataset(first, tiny_hf, tmp_path / "run", progress=False, limit=2)
    assert len(part.responses) == 2
    resumed = run_dataset(second, tiny_hf, tmp_path / "run", progress=False, limit=4)
    assert resumed.info["sessions"][-1]["resumed_from"] == 2 and len(resumed.responses) == 4
    # recorded relative to the run folder (they share a root): it points at the copy the run resumed on
    assert (tmp_path / "run" / resumed.info["dataset"]["path"]).resolve() == second.path.resolve()

    # other items are another dataset: the run refuses them
    other = generate(tom, n=1, seed=4, out=tmp_path / "data-other", progress=False)
    assert other.content_hash != first.content_hash
    with pytest.raises(RunError, match="other settings"):
        run_dataset(other, tiny_hf, tmp_path / "run", progress=False, limit=4)


class _BreaksAfter:
    """``model`` that raises an unexpected (non-proceval) error from its ``n``-th call on: a bug, not a fault."""

    def __init__(self, model: Any, n: int) -> None:
        self.model, self.n, self.calls = model, n, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def score(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls >= self.n:
            raise ZeroDivisionError("division by zero in a backend")
        return self.model.score(*args, **kwargs)


def test_a_run_that_dies_of_an_unexpected_error_says_failed(tiny_hf, tiny_choice_dataset, tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError):
        run_dataset(tiny_choice_dataset, _BreaksAfter(tiny_hf, 5), tmp_path / "run", progress=False)
    info = json.loads((tmp_path / "run" / RUN_FILE).read_text())
    assert info["status"] == "failed"
    assert info["sessions"][-1]["status"] == "failed"
    assert info["sessions"][-1]["error"] == "ZeroDivisionError: division by zero in a backend"
    # each choice item costs 2 calls (both option orders): the 2 items answered before the 5th call are kept
    assert info["counts"]["responses"] == 2
    resumed = run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "run", progress=False)
    assert resumed.complete and resumed.info["sessions"][-1]["resumed_from"] == 2


class _Recording(_BreaksAfter):
    """``model`` that keeps the messages of every scoring call."""

    def __init__(self, model: Any) -> None:
        super().__init__(model, n=10**9)
        self.prompts: list[list[Any]] = []

    def score(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
        self.prompts.append(list(messages))
        return super().score(messages, *args, **kwargs)


def test_a_few_shot_run_shows_worked_examples_of_other_scenarios(tiny_hf, tiny_choice_dataset,
                                                                  tmp_path: Path) -> None:
    model = _Recording(tiny_hf)
    run = run_dataset(tiny_choice_dataset, model, tmp_path / "run", strategy="few-shot", k_shots=2, progress=False)
    assert run.complete and run.info["strategy"] == "few-shot" and run.info["k_shots"] == 2
    assert len(run.responses) == 12 and len(model.prompts) == 24  # 12 items × 2 option orders
    story = re.compile(r"Story number (\d+) in condition (\w+)\.")
    for messages in model.prompts:
        roles = [m.role for m in messages]
        assert roles == ["user", "assistant", "user", "assistant", "user"]  # two worked examples, then the item
        (asked,) = story.findall(messages[-1].content)
        shown = [story.findall(m.content)[0] for m in messages[:-1] if m.role == "user"]
        # examples of the same condition from other scenarios, each answered
        assert all(condition == asked[1] and scenario != asked[0] for scenario, condition in shown)
        assert len(set(shown)) == 2
        # each example is answered correctly: the chosen label's option is "yes" in condition true, else "no"
        for question, reply in zip(messages[0:4:2], messages[1:4:2], strict=True):
            label = reply.content.removeprefix("Answer:").strip()
            (chosen,) = re.findall(rf"^{label}\. (\w+)$", question.content, flags=re.M)
            assert chosen == ("yes" if asked[1] == "true" else "no")
