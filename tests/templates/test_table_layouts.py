"""Zipped table layouts (one scenario from row i of several files), `extract`, and repair of fused rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.dataset import Scenario, SkippedRow
from proceval.errors import SourceError, TemplateError
from proceval.generate import generate
from proceval.scenarios.table import recover_fused_row, table_scenarios
from proceval.templates import load_template_text

ZIP_TEMPLATE = """
name: pairs
variables:
  name: {description: the person}
  a_text: {description: text of file a, constraints: {pattern: "^A "}}
  a_note: {description: note of file a}
  b_text: {description: text of file b, constraints: {pattern: "^B "}}
factors:
  side: {levels: [a, b]}
story:
  - {name: a, text: "{{ a_text }}", when: "side == 'a'"}
  - {name: b, text: "{{ b_text }}", when: "side == 'b'"}
questions:
  - name: q
    text: "Is {{ name }} right?"
    response: {type: choice, options: {agree: "Yes", disagree: "No"}, answer: "'agree'"}
table:
  separator: ";"
  recover: true
  files:
    - {match: "a_*", columns: [a_text, a_note]}
    - {match: "b_*", columns: [b_text, _tag]}
  extract:
    name: {source: a_text, pattern: "^A (\\\\w+)"}
"""


def write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def template():  # type: ignore[no-untyped-def]
    return load_template_text(ZIP_TEMPLATE)


def test_zip_combines_row_i_of_each_file_and_extracts(template, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = write(tmp_path / "a_1.csv", ["A Ann walks.;n1", "A Bob runs.;n2"])
    b = write(tmp_path / "b_1.csv", ["B Ann sits.;t1", "B Bob stands.;t2"])
    out = list(table_scenarios(template, [b, a]))  # order of --from does not matter across entries
    assert all(isinstance(o, Scenario) for o in out)
    first = out[0]
    assert isinstance(first, Scenario)
    assert first.variables == {"a_text": "A Ann walks.", "a_note": "n1", "b_text": "B Ann sits.", "name": "Ann"}
    assert first.source["record"] == 1 and first.source["row"] == {"tag": "t1"}
    assert [f["file"] for f in first.source["files"]] == ["a_1.csv", "b_1.csv"]
    items = list(template.render(first))
    assert [i.text for i in items] == ["A Ann walks.", "B Ann sits."]
    assert items[0].question == "Is Ann right?"


def test_zip_sets_pair_in_order_and_unequal_counts_are_an_error(template, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a1 = write(tmp_path / "a_1.csv", ["A Ann walks.;n1"])
    b1 = write(tmp_path / "b_1.csv", ["B Ann sits.;t1"])
    a2 = write(tmp_path / "a_2.csv", ["A Cy hops.;n3"])
    b2 = write(tmp_path / "b_2.csv", ["B Cy naps.;t3"])
    names = [o.variables["b_text"] for o in table_scenarios(template, [a1, b1, a2, b2]) if isinstance(o, Scenario)]
    assert names == ["B Ann sits.", "B Cy naps."]
    with pytest.raises(SourceError, match="same number of files"):
        list(table_scenarios(template, [a1, b1, a2]))
    other = write(tmp_path / "c.csv", ["x;y"])
    with pytest.raises(SourceError, match="matches none"):
        list(table_scenarios(template, [a1, other]))


def test_zip_row_without_partner_and_failed_check_name_the_file(template, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = write(tmp_path / "a_1.csv", ["A Ann walks.;n1", "A Bob runs.;n2", "A Cy hops.;n3"])
    b = write(tmp_path / "b_1.csv", ["B Ann sits.;t1", "X Bob stands.;t2"])
    out = list(table_scenarios(template, [a, b]))
    assert isinstance(out[0], Scenario)
    assert isinstance(out[1], SkippedRow) and "b_1.csv:2" in out[1].reason and "b_text" in out[1].reason
    assert isinstance(out[2], SkippedRow) and "no partner row in b_1.csv" in out[2].reason


def test_generate_reports_recovered_and_skipped_rows(template, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # row 2 of a: a line break was lost, so row 3's fields follow row 2's in one line; row 3 is also present
    a = write(tmp_path / "a_1.csv", ["A Ann walks.;n1", "A Bob runs.;Note two.A Bob runs.;Note two.", "A Cy;hops;x;y"])
    b = write(tmp_path / "b_1.csv", ["B Ann sits.;t1", "B Bob stands.;t2", "B Cy naps.;t3"])
    ds = generate(template, out=tmp_path / "ds", from_files=[a, b], progress=False)
    m = ds.manifest
    assert m.n_scenarios == 2 and m.n_items == 4
    assert [r.line for r in m.recovered] == [2]
    assert "copy of this row" in m.recovered[0].reason and "a_1.csv" in m.recovered[0].reason
    assert len(m.skipped) == 1 and m.skipped[0].line == 3 and "expected 2 fields, found 4" in m.skipped[0].reason
    with pytest.raises(SourceError, match="row skipped"):
        generate(template, out=tmp_path / "strict", from_files=[a, b], strict=True, progress=False)


def test_layout_validation() -> None:
    both = ZIP_TEMPLATE.replace("  recover: true\n", "  recover: true\n  columns: [a_text]\n")
    with pytest.raises(TemplateError, match="either `columns`"):
        load_template_text(both)
    bad_source = ZIP_TEMPLATE.replace("source: a_text", "source: nope")
    with pytest.raises(TemplateError, match="extract source 'nope'"):
        load_template_text(bad_source)
    no_group = ZIP_TEMPLATE.replace('pattern: "^A (\\\\w+)"', 'pattern: "^A \\\\w+"')
    with pytest.raises(TemplateError, match="capture group"):
        load_template_text(no_group)


def test_recover_leaves_unfused_and_ambiguous_rows_alone() -> None:
    row, why = recover_fused_row(["One.", "Two.", "Three."], 2)
    assert row is None and "no place" in why
    row, why = recover_fused_row(["One.Two.", "Three.Four.", "x"], 2)
    assert row is None and "ambiguous" in why
    row, why = recover_fused_row(["One.Two.", "x"], 3)  # a lost separator
    assert row == ["One.", "Two.", "x"] and "split there" in why


sentence = st.from_regex(r"[A-Z][a-z]{1,8}( [a-z]{1,8}){0,4}\.", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(sentence, min_size=3, max_size=8), st.lists(sentence, min_size=1, max_size=8), st.data())
def test_recover_removes_exactly_the_fused_in_block(row: list[str], foreign: list[str], data: st.DataObject) -> None:
    """A row with another row's fields written in after a lost line break comes back exactly."""
    n = len(row)
    at = data.draw(st.integers(0, n - 1))
    cut = data.draw(st.integers(1, len(foreign)))
    block = foreign[:cut]
    # the foreign text starts right after row[at] (no space), then the row continues in a new field
    fused = [*row[:at], row[at] + block[0], *block[1:], *row[at + 1:]]
    if len(fused) == n:  # a single foreign field fused with no extra separator: nothing to remove
        return
    repaired, why = recover_fused_row(fused, n)
    assert repaired is not None, why
    # the fused field keeps its own text; the foreign fields are gone
    assert repaired == row, why


def test_zipped_docs_example(tmp_path: Path) -> None:
    from tests.test_docs_examples import docs_yaml_example

    template = load_template_text(docs_yaml_example("zipped"), display="docs/templates.md")
    plain = write(tmp_path / "plain_1.csv", ["Ann helps.;Tag one.", "Bob waits.;Tag two.Cy runs.;Tag three.", "Cy runs.;Tag three."])
    twist = write(tmp_path / "twist_1.csv", ["Ann helps, late.;t1", "Bob waits, angry.;t2", "Cy runs away.;t3"])
    ds = generate(template, out=tmp_path / "ds", from_files=[plain, twist], progress=False)
    assert ds.manifest.n_scenarios == 3 and ds.manifest.n_items == 6  # row 2 repaired: "two.Cy" lost a line break
    assert [r.line for r in ds.manifest.recovered] == [2]
    assert {i.question for i in ds.items} == {f"How good is what {n} did?" for n in ("Ann", "Bob", "Cy")}
