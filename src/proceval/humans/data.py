"""Import human responses from a table whose columns do not match item ids.

A published human data file names participants, scenarios and condition factors in its own way (e.g.
OffTheRails: ``worker_id``, ``scenario_id``, ``causal_structure`` = 1 for "means", one column per question).
A small mapping says which column gives what; :func:`import_humans` finds, for every row and question, the
dataset item with that scenario, condition and question, and returns the long table of ``docs/formats.md``
(``participant``, ``item_id``, ``response``, optional ``rt_ms``, then kept columns).

Rows that match no item are never dropped: they stay in the long table with an empty ``item_id`` and the
reason in ``unmatched`` (so ``proceval analyze`` counts them as unknown items), and are listed in
:attr:`HumanImport.unmatched` with their line. The mapping lives in a YAML file beside the data
(``DATA.mapping.yaml``, found by :func:`find_mapping`) or is passed in directly::

    participant: worker_id
    scenario: {column: scenario_id, by: record, base: 0}   # record k+1 of the imported files is scenario k
    factors:
      structure: {column: causal_structure, values: {1: means, 0: side_effect}}
    questions: {permissibility: permissibility_rating, intention: intention_rating}   # one column per question
    keep: [split]

A choice answer may be recorded as the option's key, its text (compared after trimming, case-folding and
collapsing spaces), its letter label (``a``, ``b``, … in the item's option order) or, when ``answers.accept``
lists ``index``, its 1-based position; the long table holds the key. An answer that matches no option (a typo,
an answer from another item) keeps its text, is counted and listed with its file and line, and is never
mapped to a close option (the closest one is suggested in the reason).
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from proceval.dataset import Dataset, Item, Scenario
from proceval.errors import HumansError
from proceval.humans.mapping import (
    MAPPING_SUFFIX,
    AnswerMap,
    HumanMapping,
    ScenarioMap,
    cell_text,
    find_mapping,
    load_mapping,
)

LONG_COLUMNS = ["participant", "item_id", "response", "rt_ms"]

__all__ = ["LONG_COLUMNS", "HumanImport", "HumanMapping", "find_mapping", "import_humans", "load_mapping",
           "option_key", "reason_kind"]


@dataclass
class HumanImport:
    """The long table, the rows that matched no item (with reasons), and counts."""

    table: pd.DataFrame
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def write(self, out: str | os.PathLike[str]) -> Path:
        """Write the long table as CSV (``.csv``) or JSONL (``.jsonl``)."""
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".jsonl":
            self.table.to_json(path, orient="records", lines=True, force_ascii=False)
        else:
            self.table.to_csv(path, index=False)
        return path

    def summary(self) -> str:
        s = self.stats
        text = (f"{s['rows']} rows → {s['answers']} answers: {s['matched']} matched to items, "
                f"{s['unmatched']} unmatched, from {s['participants']} participants")
        forms = s.get("answers_given_as", {})
        if forms:
            text += "\n  choice answers given as " + ", ".join(f"option {form}: {n}" for form, n in forms.items())
        for reason, count in s.get("unmatched_reasons", {}).items():
            text += f"\n  {count} × {reason}"
        return text


def _scenario_keys(dataset: Dataset, spec: ScenarioMap) -> dict[str, list[Scenario]]:
    keys: dict[str, list[Scenario]] = {}
    for scenario in dataset.iter_scenarios():
        if spec.file and not fnmatch.fnmatch(str(scenario.source.get("file", "")), spec.file):
            continue
        if spec.by == "record":
            record = scenario.source.get("record")
            if record is None:
                continue
            key = str(int(record) - 1 + spec.base)
        elif spec.by == "id":
            key = scenario.id
        else:
            assert spec.variable is not None
            key = str(scenario.variables.get(spec.variable, "")).strip()
        keys.setdefault(key, []).append(scenario)
    return keys


def import_humans(
    data: str | os.PathLike[str] | pd.DataFrame,
    dataset: str | os.PathLike[str] | Dataset,
    mapping: str | os.PathLike[str] | dict[str, Any] | HumanMapping | None = None,
    *,
    participant: str | None = None,
) -> HumanImport:
    """Match every answer in ``data`` to an item of ``dataset`` through ``mapping``.

    ``mapping`` defaults to the file beside ``data`` (:func:`find_mapping`). Every answer becomes one row of
    the long table; answers that match no item keep an empty ``item_id`` and say why in ``unmatched``; a
    choice answer that names no option keeps its item and text and says why. ``participant`` names the one
    participant (or model) of a table that has no column for it.
    """
    ds = dataset if isinstance(dataset, Dataset) else Dataset.load(dataset)
    file = None if isinstance(data, pd.DataFrame) else Path(data)
    if mapping is None:
        found = find_mapping(file) if file is not None else None
        if found is None:
            raise HumansError("no mapping for this human data file", file=file,
                              hint=f"write one beside it as {Path(file or 'DATA').stem}{MAPPING_SUFFIX} "
                                   "(see docs/families.md)")
        mapping = found
    spec = load_mapping(mapping)
    table = data if isinstance(data, pd.DataFrame) else _read_table(Path(data), spec.separator)
    if participant is not None:
        spec = spec.model_copy(update={"participant": "\0participant"})
        table = table.assign(**{"\0participant": participant})
    if spec.participant is None:
        raise HumansError("the mapping names no participant column", file=file,
                          hint="add `participant: COLUMN` to the mapping (or name the model on import)")
    missing = [c for c in spec.used_columns() if c not in table.columns]
    if missing:
        raise HumansError(f"the mapping names column(s) {', '.join(dict.fromkeys(missing))} that the table lacks",
                          file=file, hint=f"the table's columns: {', '.join(map(str, table.columns))}")
    factors = list(ds.manifest.factors)
    unmapped = [f for f in factors if spec.factor_map(f) is None]
    levels = {f: set(ds.manifest.factors[f]) for f in factors}
    scenarios = _scenario_keys(ds, spec.scenario)
    index: dict[tuple[str, tuple[tuple[str, str | None], ...], str], Item] = {}
    for each in ds.iter_items():
        index[(each.scenario_id, tuple(sorted(each.condition.items())), each.question_name)] = each
    questions = {question for _, _, question in index}
    forms: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    unmatched: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    for number, record in enumerate(table.to_dict("records")):
        line = number + 2  # the header is line 1
        if spec.questions:
            answers = [(q, record[c]) for q, c in spec.questions.items()]
        else:
            assert spec.question is not None and spec.response is not None
            answers = [(spec.question.value(record), record[spec.response])]
        problem, scenario, condition = _locate(record, spec, factors, unmapped, levels, scenarios)
        for question, response in answers:
            reason = problem
            item_id = ""
            if reason is None and question not in questions:
                reason = f"question {question!r} is not a question of the dataset ({', '.join(sorted(questions))})"
            item = None
            if reason is None:
                assert scenario is not None
                item = index.get((scenario.id, condition, question))
                if item is None:
                    reason = (f"no item for scenario {spec.scenario.key(record)} in condition "
                              f"{dict(condition)} asking {question!r}")
                else:
                    item_id = item.id
            answer = cell_text(response)
            if reason is None and answer == "":
                reason = "empty response"
                item_id = ""
            if reason is None and item is not None and item.response_type == "choice":
                key, how = option_key(item, answer, spec.answers)
                if key is None:
                    reason = how  # the item is known; the answer stays as given and analyses count it invalid
                else:
                    answer = key
                    forms[how] += 1
            row = {"participant": cell_text(record[spec.participant]), "item_id": item_id, "response": answer,
                   "rt_ms": cell_text(record[spec.rt_ms]) if spec.rt_ms else "", "question_name": question,
                   "source_line": line}
            for column in spec.keep:
                row[column] = cell_text(record[column])
            row["unmatched"] = reason or ""
            rows.append(row)
            if reason:
                reasons[reason_kind(reason)] += 1
                unmatched.append({"file": str(file) if file else None, "line": line, "question": question,
                                  "response": cell_text(response), "reason": reason})
    long = pd.DataFrame.from_records(rows, columns=[*LONG_COLUMNS, "question_name", "source_line", *spec.keep,
                                                    "unmatched"])
    matched = long[long["unmatched"] == ""]
    stats = {
        "file": str(file) if file else None,
        "rows": len(table),
        "answers": len(long),
        "matched": len(matched),
        "answers_given_as": dict(forms.most_common()),
        "unmatched": len(unmatched),
        "unmatched_reasons": dict(reasons.most_common()),
        "participants": int(long["participant"].nunique()) if len(long) else 0,
        "items": int(matched["item_id"].nunique()) if len(matched) else 0,
        "dataset": str(ds.path),
    }
    return HumanImport(long, unmatched, stats)


def _locate(record: dict[str, Any], spec: HumanMapping, factors: list[str], unmapped: list[str],
            levels: dict[str, set[str]], scenarios: dict[str, list[Scenario]]
            ) -> tuple[str | None, Scenario | None, tuple[tuple[str, str | None], ...]]:
    """The scenario and condition a row names, or why it names none."""
    if unmapped:
        return f"the mapping gives no column for factor(s) {', '.join(unmapped)}", None, ()
    condition: dict[str, str | None] = {}
    for factor in factors:
        column_map = spec.factor_map(factor)
        assert column_map is not None
        level = column_map.value(record)
        if level not in levels[factor]:
            given = column_map.describe(record)
            if not given.endswith(f"={level!r}"):
                given += f" → {level!r}"
            return f"factor {factor}: {given} is no level ({', '.join(sorted(levels[factor]))})", None, ()
        condition[factor] = level
    key = spec.scenario.key(record)
    found = scenarios.get(key, [])
    if not found:
        return f"scenario {spec.scenario.column}={key!r} matches no scenario of the dataset", None, ()
    if len(found) > 1:
        files = sorted({str(s.source.get("file")) for s in found})
        return (f"scenario {spec.scenario.column}={key!r} matches {len(found)} scenarios (from {', '.join(files)}); "
                "narrow it with scenario.file"), None, ()
    return None, found[0], tuple(sorted(condition.items()))


def reason_kind(reason: str) -> str:
    """A reason without its row-specific values, for counting."""
    if reason.startswith("answer "):
        return "answer matches no option"
    return reason.split("=")[0].split(" in condition")[0]


def _fold(text: str) -> str:
    """Compared form of an answer or option: trimmed, case-folded, spaces collapsed, no final full stop."""
    return " ".join(text.casefold().split()).rstrip(".").strip()


def option_key(item: Item, answer: str, rule: AnswerMap | None = None) -> tuple[str | None, str]:
    """The key of the option ``answer`` names and how it named it (``key``, ``text``, ``label``, ``index``), or
    ``None`` and why not. A near miss is never mapped: the closest option is only suggested."""
    rule = rule or AnswerMap()
    options = item.options
    given = rule.values.get(answer, answer)
    folded = _fold(given)
    for form in rule.accept:
        for position, option in enumerate(options):
            if form == "key":
                hit = given == option["key"] or folded == _fold(option["key"])
            elif form == "text":
                hit = folded == _fold(option["text"])
            elif form == "label":
                hit = folded.strip("()") == chr(ord("a") + position)
            else:
                hit = folded == str(position + 1)
            if hit:
                return option["key"], form
    choices = {_fold(o["text"]): o["text"] for o in options} | {_fold(o["key"]): o["key"] for o in options}
    close = difflib.get_close_matches(folded, list(choices), n=1, cutoff=0.75)
    hint = f" (closest: {choices[close[0]]!r}; not mapped)" if close else ""
    listed = ", ".join(f"{o['key']}: {o['text'][:40]!r}" for o in options)
    return None, f"answer {answer[:80]!r} matches no option of item {item.id}{hint}; options: {listed}"


def _read_table(path: Path, separator: str) -> pd.DataFrame:
    if not path.is_file():
        raise HumansError("no such human data file", file=path)
    try:
        if path.suffix.lower() == ".jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise HumansError(f"unreadable human data: {exc}", file=path) from None
