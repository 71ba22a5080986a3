"""Importing human answers from a table in its own layout, through a mapping."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from proceval.analysis.data import load_responses
from proceval.dataset import Scenario
from proceval.errors import HumansError
from proceval.humans.data import find_mapping, import_humans, load_mapping
from tests.conftest import choice_item, write_dataset

MAPPING = {
    "participant": "who",
    "scenario": {"column": "story", "by": "record", "base": 0},
    "factors": {"belief": {"column": "b", "values": {1: "true", 0: "false"}}},
    "questions": {"q": "answer"},
    "keep": ["batch"],
}


@pytest.fixture
def dataset(tmp_path: Path):  # type: ignore[no-untyped-def]
    items = [choice_item(s, {"belief": level}) for s in range(3) for level in ("true", "false")]
    scenarios = [Scenario(id=items[2 * s].scenario_id, template="toy", variables={"x": str(s)},
                          source={"kind": "table", "file": "rows.csv", "line": s + 1, "record": s + 1})
                 for s in range(3)]
    return write_dataset(tmp_path / "ds", items, scenarios, factors={"belief": ["true", "false"]})


def test_rows_map_to_items_and_unmatched_rows_are_kept(dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = pd.DataFrame({
        "who": ["p1", "p1", "p2", "p2", "p3"],
        "story": ["0", "2", "1", "7", "1"],       # scenario 7 does not exist
        "b": ["1", "0", "0", "1", "2"],            # 2 is no level of belief
        "answer": ["a", "b", "a", "a", "b"],
        "batch": ["x", "x", "y", "y", "z"],
    })
    result = import_humans(table, dataset, MAPPING)
    long = result.table
    assert list(long.columns[:4]) == ["participant", "item_id", "response", "rt_ms"]
    assert len(long) == 5 and list(long["batch"]) == ["x", "x", "y", "y", "z"]
    items = dataset.item_map()
    first = items[long.loc[0, "item_id"]]
    assert first.condition == {"belief": "true"} and first.scenario_id == dataset.scenarios[0].id
    assert items[long.loc[1, "item_id"]].scenario_id == dataset.scenarios[2].id
    assert items[long.loc[1, "item_id"]].condition == {"belief": "false"}
    # unmatched rows: kept with an empty item id and the reason, and listed by line
    assert list(long["item_id"] == "") == [False, False, False, True, True]
    assert [u["line"] for u in result.unmatched] == [5, 6]
    assert "story='7' matches no scenario" in result.unmatched[0]["reason"]
    assert "b='2' is no level" in result.unmatched[1]["reason"]
    assert result.stats["matched"] == 3 and result.stats["unmatched"] == 2
    assert "2 unmatched" in result.summary()


def test_long_layout_and_mapping_file_beside_the_data(dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "answers.csv"
    data.write_text("who,story,b,which,value,ms\np1,0,1,Q1,a,1200\np1,1,0,Q9,b,900\n", encoding="utf-8")
    (tmp_path / "answers.mapping.yaml").write_text(
        "participant: who\nscenario: {column: story, by: record, base: 0}\n"
        "factors: {belief: {column: b, values: {1: 'true', 0: 'false'}}}\n"
        "question: {column: which, values: {Q1: q}}\nresponse: value\nrt_ms: ms\n", encoding="utf-8")
    assert find_mapping(data) == tmp_path / "answers.mapping.yaml"
    result = import_humans(data, dataset)
    assert list(result.table["rt_ms"]) == ["1200", "900"]
    assert result.table.loc[0, "item_id"] != "" and result.table.loc[1, "item_id"] == ""
    assert "question 'Q9' is not a question" in result.unmatched[0]["reason"]
    # the analysis loader converts through the mapping and counts the unmatched row as an unknown item
    responses = load_responses([], dataset=dataset.path, humans=data)
    assert responses.human_stats["used"] == 1 and responses.human_stats["unknown_items"] == 1


def test_mapping_errors_name_the_problem(dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(HumansError, match="either `questions`"):
        load_mapping({**MAPPING, "response": "answer"})
    with pytest.raises(HumansError, match=r"column.*nope"):
        import_humans(pd.DataFrame({"who": [], "story": [], "b": [], "answer": []}), dataset,
                      {**MAPPING, "keep": ["nope"]})
    lonely = tmp_path / "lonely.csv"
    lonely.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(HumansError, match="no mapping"):
        import_humans(lonely, dataset)
    unmapped = import_humans(pd.DataFrame({"who": ["p"], "story": ["0"], "answer": ["a"]}), dataset,
                             {**MAPPING, "factors": {}, "keep": []})
    assert "gives no column for factor(s) belief" in unmapped.unmatched[0]["reason"]


def test_cli_import_humans_writes_long_table_and_report(dataset, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from proceval.cli.main import main

    data = tmp_path / "answers.csv"
    data.write_text("who,story,b,answer,batch\np1,0,1,a,x\np2,5,1,b,y\n", encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("participant: who\nscenario: {column: story, by: record, base: 0}\n"
                       "factors: {belief: {column: b, values: {1: 'true', 0: 'false'}}}\n"
                       "questions: {q: answer}\n", encoding="utf-8")
    out = tmp_path / "long.csv"
    assert main(["import-humans", str(data), "--dataset", str(dataset.path), "--mapping", str(mapping),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1 matched" in printed and "1 unmatched" in printed and "answers.csv:3" in printed
    long = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(long["participant"]) == ["p1", "p2"] and long.loc[1, "item_id"] == ""
    assert (tmp_path / "long.unmatched.json").is_file()
    assert main(["import-humans", str(tmp_path / "nope.csv"), "--dataset", str(dataset.path), "--mapping",
                 str(mapping), "--out", str(out)]) == 2


def test_python_example_in_families_docs(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from tests.conftest import REPO

    text = (REPO / "docs" / "families.md").read_text(encoding="utf-8")
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    monkeypatch.chdir(REPO)
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/families.md", "exec"), namespace)
    means = namespace["means"].set_index("structure")["mean"].round(2).to_dict()  # type: ignore[attr-defined]
    assert means == {"means": 4.04, "side_effect": 4.11}
    assert namespace["imported"].stats["unmatched"] == 0  # type: ignore[attr-defined]


def test_property_coded_rows_come_back_as_their_items(tmp_path: Path) -> None:
    """Any set of answers written in a foreign coding (shuffled, repeated, with unknown rows) maps back exactly."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    items = [choice_item(s, {"belief": level}) for s in range(4) for level in ("true", "false")]
    scenarios = [Scenario(id=items[2 * s].scenario_id, template="toy", variables={"x": str(s)},
                          source={"kind": "table", "file": "rows.csv", "line": s + 1, "record": s + 1})
                 for s in range(4)]
    ds = write_dataset(tmp_path / "ds", items, scenarios, factors={"belief": ["true", "false"]})
    code = {"true": "1", "false": "0"}
    by_key = {(items[i].scenario_id, items[i].condition["belief"]): items[i].id for i in range(len(items))}
    sid = [s.id for s in scenarios]

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["true", "false"]), st.sampled_from(["a", "b"])),
                    min_size=1, max_size=30))
    def check(answers: list[tuple[int, str, str]]) -> None:
        table = pd.DataFrame({"who": [f"p{i % 3}" for i in range(len(answers))],
                              "story": [str(s) for s, _, _ in answers],
                              "b": [code[level] for _, level, _ in answers],
                              "answer": [a for _, _, a in answers], "batch": ["x"] * len(answers)})
        result = import_humans(table, ds, MAPPING)
        expected = [by_key[(sid[s], level)] if s < 4 else "" for s, level, _ in answers]
        assert list(result.table["item_id"]) == expected
        assert list(result.table["response"]) == [a for _, _, a in answers]
        assert result.stats["unmatched"] == sum(1 for s, _, _ in answers if s >= 4)

    check()


TEXT_OPTIONS = ("Snowfall", "Fog on the trail")


@pytest.fixture
def text_dataset(tmp_path: Path):  # type: ignore[no-untyped-def]
    items = [choice_item(s, {"belief": level}, answer="snow") for s in range(2) for level in ("true", "false")]
    for item in items:  # keys that differ from the letter labels
        item.response = {"type": "choice", "options": [{"key": "snow", "text": TEXT_OPTIONS[0]},
                                                        {"key": "fog", "text": TEXT_OPTIONS[1]}]}
    scenarios = [Scenario(id=items[2 * s].scenario_id, template="toy", variables={"x": str(s)},
                          source={"kind": "table", "file": "rows.csv", "line": s + 1, "record": s + 1})
                 for s in range(2)]
    return write_dataset(tmp_path / "text", items, scenarios, factors={"belief": ["true", "false"]})


def test_answers_given_as_option_text_label_or_index_map_to_keys(text_dataset, tmp_path: Path,
                                                                  capsys) -> None:  # type: ignore[no-untyped-def]
    from proceval.cli.main import main

    data = tmp_path / "texts.csv"
    rows = [("p1", "0", "1", "Snowfall"),            # the text → a
            ("p1", "0", "0", "  fog ON the  trail. "),  # trimmed, case-folded, spaces collapsed, final stop → b
            ("p2", "1", "1", "B"),                    # the letter label → fog
            ("p2", "1", "0", "snow"),                 # the key itself
            ("p3", "0", "1", "Snowfal"),              # typo: unmatched, never mapped to the close option
            ("p3", "1", "0", "Rain"),                 # no option at all
            ("p3", "0", "0", "2")]                    # an index, not accepted unless the mapping says so
    data.write_text("who,story,b,answer\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    mapping = {"participant": "who", "scenario": {"column": "story", "by": "record", "base": 0},
               "factors": {"belief": {"column": "b", "values": {1: "true", 0: "false"}}},
               "questions": {"q": "answer"}}
    result = import_humans(data, text_dataset, mapping)
    assert list(result.table["response"]) == ["snow", "fog", "fog", "snow", "Snowfal", "Rain", "2"]
    assert list(result.table["item_id"] != "") == [True] * 7  # the item is known even when the answer is not
    assert result.stats["matched"] == 4 and result.stats["unmatched"] == 3
    assert result.stats["answers_given_as"] == {"text": 2, "label": 1, "key": 1}
    assert result.stats["unmatched_reasons"] == {"answer matches no option": 3}
    assert [(Path(u["file"]).name, u["line"]) for u in result.unmatched] == [("texts.csv", 6), ("texts.csv", 7),
                                                                             ("texts.csv", 8)]
    assert "closest: 'Snowfall'; not mapped" in result.unmatched[0]["reason"]
    assert "closest" not in result.unmatched[1]["reason"]
    # with the mapping's say-so, 1-based positions are options too
    indexed = import_humans(data, text_dataset, {**mapping, "answers": {"accept": ["key", "text", "label", "index"]}})
    assert list(indexed.table["response"])[6] == "fog" and indexed.stats["unmatched"] == 2

    # the terminal shows the counts and every unmatched answer by file and line
    yaml_mapping = tmp_path / "texts.mapping.yaml"
    yaml_mapping.write_text("participant: who\nscenario: {column: story, by: record, base: 0}\n"
                            "factors: {belief: {column: b, values: {1: 'true', 0: 'false'}}}\n"
                            "questions: {q: answer}\n", encoding="utf-8")
    assert main(["import-humans", str(data), "--dataset", str(text_dataset.path), "--out",
                 str(tmp_path / "long.csv")]) == 0
    printed = capsys.readouterr().out
    assert "4 matched to items, 3 unmatched" in printed and "3 × answer matches no option" in printed
    assert "texts.csv:6" in printed and "texts.csv:7" in printed and "texts.csv:8" in printed

    # analyze says how many answers it could not use, and why
    assert main(["analyze", "--dataset", str(text_dataset.path), "--humans", str(data), "--out",
                 str(tmp_path / "report"), "--n-boot", "50"]) == 0
    printed = capsys.readouterr().out
    assert "human answers not used: 3 of 7" in printed and "3 × answer matches no option" in printed
    stats = load_responses([], dataset=text_dataset.path, humans=data).human_stats
    assert stats["used"] == 7 and stats["invalid"] == 3 and stats["unusable"] == {"answer matches no option": 3}


def test_a_factor_from_two_columns_or_from_a_published_key(dataset) -> None:  # type: ignore[no-untyped-def]
    table = pd.DataFrame({"who": ["p1", "p2", "p3"], "story": ["0", "1", "2"], "answer": ["a", "b", "a"],
                          "truth": ["is", "is", "is"], "value": ["true", "false", "maybe"],
                          "key": ["toy/true_q_0", "toy/false_q_1", "toy/none_q_2"]})
    joined = {**MAPPING, "keep": [], "factors": {"belief": {"column": ["truth", "value"], "join": " ",
                                                            "values": {"is true": "true", "is false": "false"}}}}
    result = import_humans(table, dataset, joined)
    items = dataset.item_map()
    assert [items[i].condition["belief"] for i in result.table["item_id"][:2]] == ["true", "false"]
    assert "truth+value='is maybe' is no level" in result.unmatched[0]["reason"]
    keyed = {**MAPPING, "keep": [], "factors": {"belief": {"column": "key", "pattern": "^[^/]+/([a-z]+)_"}}}
    result = import_humans(table, dataset, keyed)
    assert [items[i].condition["belief"] for i in result.table["item_id"][:2]] == ["true", "false"]
    assert "key='toy/none_q_2' → 'none' is no level" in result.unmatched[0]["reason"]
    with pytest.raises(HumansError, match="needs a group"):
        load_mapping({**MAPPING, "factors": {"belief": {"column": "key", "pattern": "^[a-z]+"}}})


def test_published_answers_to_agreement_example_in_families_docs(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import re

    from proceval.analysis.agreement import HUMAN_BASELINE
    from tests.conftest import REPO

    text = (REPO / "docs" / "families.md").read_text(encoding="utf-8")
    (code,) = [block for block in re.findall(r"```python\n(.*?)```", text, flags=re.S)
               if "import_model_answers" in block]
    monkeypatch.chdir(REPO)
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/families.md", "exec"), namespace)
    humans, models = namespace["humans"], namespace["models"]
    assert humans.stats["answers"] == 8 * 320 and humans.stats["unmatched"] == 0  # type: ignore[attr-defined]
    # the emotion options' keys are their texts, so those answers count as keys
    assert humans.stats["answers_given_as"] == {"text": 8 * 240, "key": 8 * 80}  # type: ignore[attr-defined]
    assert models.counts["ok"] == 2 * 320 and models.counts["invalid"] == 0  # type: ignore[attr-defined]
    table = namespace["table"]
    assert set(table["inference"]) == {"emotion", "outcome", "appraisal", "belief"}  # type: ignore[index]
    assert set(table["subject"]) == {HUMAN_BASELINE, "model-a", "model-b"}  # type: ignore[index]
    assert set(table["definition"]) == {"leave_one_out", "loo_per_participant"}  # type: ignore[index]
    assert table["agreement"].between(0, 1).all()  # type: ignore[index]
    assert "2560 matched to items, 0 unmatched" in capsys.readouterr().out


def test_property_option_text_in_any_case_and_spacing_maps_to_its_key_and_nothing_else_does() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from proceval.humans.data import option_key

    words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé", min_size=2, max_size=8)
    texts = st.lists(st.lists(words, min_size=1, max_size=4).map(" ".join), min_size=2, max_size=4, unique=True)

    @settings(max_examples=60, deadline=None)
    @given(texts, st.data())
    def check(option_texts: list[str], data: st.DataObject) -> None:
        item = choice_item(0, {"belief": "true"})
        item.response = {"type": "choice", "options": [{"key": f"k{j}", "text": t}
                                                       for j, t in enumerate(option_texts)]}
        j = data.draw(st.integers(0, len(option_texts) - 1))
        variant = "  ".join(w.upper() if data.draw(st.booleans()) else w for w in option_texts[j].split(" "))
        assert option_key(item, f" {variant}. ")[0] == f"k{j}"
        other = data.draw(st.text(alphabet="xyz0 ", min_size=3, max_size=12))
        folded = " ".join(other.casefold().split()).rstrip(".")
        if folded not in {t.casefold() for t in option_texts} | {f"k{i}" for i in range(len(option_texts))}:
            key, why = option_key(item, other)
            assert key is None and "matches no option" in why

    check()


def test_a_long_table_with_option_texts_is_read_by_analyze_too(text_dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    items = text_dataset.items
    long = tmp_path / "long.csv"
    long.write_text("participant,item_id,response\n"
                    f"p1,{items[0].id},snowfall\np1,{items[1].id},Fog on the trail\np1,{items[2].id},Sleet\n",
                    encoding="utf-8")
    data = load_responses([], dataset=text_dataset.path, humans=long)
    assert list(data.frame["choice"])[:2] == ["snow", "fog"] and data.frame["choice"].isna().tolist()[2]
    assert data.human_stats["invalid"] == 1 and data.human_stats["unusable"] == {"response is not an option": 1}
