"""Persona tables → persona prompts: templates, sampling, human twins, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.errors import RunError
from proceval.solvers.personas import Persona, load_personas


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_default_template_lists_the_attributes(tmp_path: Path) -> None:
    table = write(tmp_path / "p.csv", "id,age,home_country,education\nA,34,Chile,college\nB,71,,primary\n")
    personas = load_personas(table)
    assert [p.id for p in personas] == ["A", "B"]
    assert personas[0].attributes == {"age": "34", "home_country": "Chile", "education": "college"}
    assert "- age: 34" in personas[0].prompt and "- home country: Chile" in personas[0].prompt
    assert "home country" not in personas[1].prompt  # empty attributes are left out of the default prompt
    assert personas[0].source == {"file": str(table), "line": 2, "kind": "persona table"}


def test_user_template_from_text_and_from_a_file(tmp_path: Path) -> None:
    table = write(tmp_path / "p.csv", "persona,age,job title\nx,40,nurse\n")
    text = "You are {{ age }} years old and work as a {{ attributes['job title'] }} ({{ id }})."
    (persona,) = load_personas(table, template=text)
    assert persona.prompt == "You are 40 years old and work as a nurse (x)."
    template_file = write(tmp_path / "persona.j2", text)
    assert load_personas(table, template=template_file)[0].prompt == persona.prompt
    assert load_personas(table, template=str(template_file))[0].prompt == persona.prompt


def test_a_template_naming_a_missing_column_says_which_columns_exist(tmp_path: Path) -> None:
    table = write(tmp_path / "p.csv", "id,age\n1,30\n")
    with pytest.raises(RunError) as info:
        load_personas(table, template="You are {{ gender }}.")
    message = str(info.value)
    assert "'gender' is undefined" in message and "p.csv:2" in message and "columns are: age" in message


def test_template_syntax_error_and_missing_template_file(tmp_path: Path) -> None:
    table = write(tmp_path / "p.csv", "id,age\n1,30\n")
    with pytest.raises(RunError, match="syntax error"):
        load_personas(table, template="{% for x in %}")
    with pytest.raises(RunError, match="no such persona template file"):
        load_personas(table, template="personas.j2")


def test_sampling_is_seeded_and_keeps_table_order(tmp_path: Path) -> None:
    table = write(tmp_path / "p.csv", "id,age\n" + "".join(f"p{i},{20 + i}\n" for i in range(50)))
    one = [p.id for p in load_personas(table, n=10, seed=3)]
    assert one == [p.id for p in load_personas(table, n=10, seed=3)]
    assert one != [p.id for p in load_personas(table, n=10, seed=4)]
    assert one == sorted(one, key=lambda pid: int(pid[1:]))
    with pytest.raises(RunError, match="asked for 51 personas"):
        load_personas(table, n=51)


def test_personas_drawn_from_the_human_table_are_twins(tmp_path: Path) -> None:
    table = write(tmp_path / "humans.csv", (
        "participant,item_id,response,rt_ms,age,list\n"
        "h1,i3,a,900,25,L1\n"
        "h1,i1,b,800,25,L2\n"
        "h2,i1,a,700,60,L1\n"
        "h2,i2,a,650,60,L1\n"
    ))
    personas = load_personas(table)
    assert [p.id for p in personas] == ["h1", "h2"]
    assert personas[0].item_order == ["i3", "i1"]  # the human's own order
    # age is a trait; list varies within h1 so it is per-answer data for everyone; response/rt_ms never count
    assert personas[0].attributes == {"age": "25"} and personas[1].attributes == {"age": "60"}
    assert personas[0].source["kind"] == "human table"


def test_bad_tables_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(RunError, match=r"p\.csv:3"):
        load_personas(write(tmp_path / "p.csv", "id,age\na,1\na,2\n"))  # duplicate id
    with pytest.raises(RunError, match=r"q\.csv:2"):
        load_personas(write(tmp_path / "q.csv", "id,age\na,1,extra\n"))
    with pytest.raises(RunError, match="no column 'who'"):
        load_personas(write(tmp_path / "r.csv", "id,age\na,1\n"), id_column="who")
    with pytest.raises(RunError, match="no such persona table"):
        load_personas(tmp_path / "missing.csv")


def test_rows_without_an_id_column_are_numbered(tmp_path: Path) -> None:
    personas = load_personas(write(tmp_path / "p.csv", "age,country\n30,Peru\n40,Fiji\n"))
    assert [p.id for p in personas] == ["1", "2"]
    assert isinstance(personas[0], Persona)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters=',"\n\r'),
                        min_size=1, max_size=20).map(str.strip).filter(bool), min_size=1, max_size=8, unique=True))
def test_any_attribute_text_reaches_the_prompt_verbatim(tmp_path_factory: pytest.TempPathFactory,
                                                        values: list[str]) -> None:
    path = tmp_path_factory.mktemp("p") / "p.csv"
    path.write_text("id,bio\n" + "".join(f"r{i},{v}\n" for i, v in enumerate(values)), encoding="utf-8")
    personas = load_personas(path, template="Bio: {{ bio }}")
    assert [p.prompt for p in personas] == [f"Bio: {v}" for v in values]


def test_personas_example_in_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from tests.conftest import REPO

    text = (REPO / "docs" / "irt.md").read_text(encoding="utf-8")
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
               if b.startswith("# docs-example: personas")]
    write(tmp_path / "personas.csv", "id,age,country\na,30,Peru\nb,41,Fiji\nc,55,Oman\n")
    write(tmp_path / "humans.csv", "participant,item_id,response,age\nh1,i2,a,30\nh1,i1,b,30\n")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/irt.md", "exec"), namespace)
    personas = namespace["personas"]
    assert len(personas) == 2  # type: ignore[arg-type]
    assert personas[0].prompt.startswith("You are ") and "live in" in personas[0].prompt  # type: ignore[index]
    assert namespace["twins"][0].item_order == ["i2", "i1"]  # type: ignore[index]
