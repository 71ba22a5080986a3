"""Every template mistake is caught at load, with the file, the line and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from proceval.errors import TemplateError
from proceval.templates import load_template, load_template_text

GOOD = textwrap.dedent("""\
    name: mini
    variables:
      who: {description: a name}
      thing: {description: an object}
    factors:
      seen: {levels: [yes, no]}
    derived:
      knows: "seen == 'yes'"
    graph:
      - seen -> knows
    story:
      - {name: s1, text: "{{ who }} has {{ thing }}."}
      - {name: s2, text: "{{ who }} saw it.", when: "knows"}
    questions:
      - name: q
        text: "Does {{ who }} know?"
        response:
          type: choice
          options: {y: "Yes", n: "No"}
          answer: "'y' if knows else 'n'"
    """)


def load(text: str) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        load_template_text(text, display="t.yaml")
    return info.value


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_good_template_loads_with_two_conditions() -> None:
    template = load_template_text(GOOD, display="t.yaml")
    assert [c.name for c in template.conditions] == ["yes", "no"]
    assert template.condition("yes").questions == [(0, "y")]
    assert template.condition("no").questions == [(0, "n")]
    assert template.condition("no").segments == [0]


def test_malformed_yaml_names_the_line() -> None:
    error = load("name: mini\nvariables: [unclosed\n")
    assert error.file == "t.yaml" and error.line == 3 and "malformed YAML" in error.message


def test_unknown_key_suggests_the_right_one() -> None:
    text = GOOD.replace("levels: [yes, no]", "levles: [yes, no]")
    error = load(text)
    assert error.line == line_of(text, "levles")
    assert "unknown key 'levles'" in error.message and "did you mean 'levels'" in str(error)


def test_undefined_variable_in_text() -> None:
    text = GOOD.replace("{{ who }} saw it.", "{{ whom }} saw it.")
    error = load(text)
    assert "'whom'" in error.message and error.field == "story.1.text"
    assert error.line == line_of(text, "whom")


def test_undefined_name_in_expression() -> None:
    error = load(GOOD.replace('when: "knows"', 'when: "knwos"'))
    assert "knwos" in error.message and error.field == "story.1.when"


def test_unreachable_segment() -> None:
    error = load(GOOD.replace('when: "knows"', "when: \"seen == 'maybe'\""))
    assert "shown in no condition" in error.message and "s2" in error.message


def test_condition_without_question() -> None:
    text = GOOD.replace('    text: "Does {{ who }} know?"', '    when: "knows"\n    text: "Does {{ who }} know?"')
    error = load(text)
    assert "condition 'no' asks no question" in error.message


def test_choice_without_answer_key() -> None:
    error = load(GOOD.replace("      answer: \"'y' if knows else 'n'\"\n", ""))
    assert "has no answer key" in error.message


def test_answer_naming_a_missing_option() -> None:
    text = GOOD.replace("'y' if knows else 'n'", "'y' if knows else 'maybe'")
    error = load(text)
    assert "'maybe'" in error.message and "names no option" in error.message
    assert error.line == line_of(text, "answer:")


def test_cycle_in_graph() -> None:
    text = GOOD.replace("  - seen -> knows\n", "  - who -> thing\n  - thing -> who\n")
    error = load(text)
    assert "cycle" in error.message and "thing" in error.message and "who" in error.message


def test_graph_edge_to_unknown_node() -> None:
    error = load(GOOD.replace("seen -> knows", "seen -> nowhere"))
    assert "'nowhere'" in error.message and error.field == "graph.0"


def test_duplicate_yaml_key() -> None:
    text = GOOD.replace("  thing: {description: an object}\n", "  thing: {description: an object}\n  who: {description: again}\n")
    error = load(text)
    assert "duplicate key 'who'" in error.message and error.line == 5


def test_duplicate_names_across_sections() -> None:
    error = load(GOOD.replace("  knows: \"seen == 'yes'\"", "  who: \"seen == 'yes'\""))
    assert "'who' is used both in variables and in derived" in error.message


def test_duplicate_segment_and_option_names() -> None:
    assert "duplicate story name" in load(GOOD.replace("name: s2", "name: s1")).message
    dup_options = GOOD.replace('options: {y: "Yes", n: "No"}', "options: [{key: y, text: A}, {key: y, text: B}]")
    assert "duplicate option key" in load(dup_options).message


def test_duplicate_levels() -> None:
    assert "duplicate level 'yes'" in load(GOOD.replace("[yes, no]", "[yes, yes]")).message


def test_exclude_with_unknown_level() -> None:
    text = GOOD.replace("derived:", "conditions:\n  exclude:\n    - {seen: maybe}\nderived:")
    assert "unknown level 'maybe'" in load(text).message


def test_rating_needs_a_scale_and_free_text_no_options() -> None:
    text = GOOD.replace("type: choice", "type: rating")
    assert "rating response has a scale" in load(text).message or "needs a scale" in load(text).message


def test_empty_file_and_non_mapping() -> None:
    assert "empty" in load("   \n").message
    assert "mapping" in load("- a\n- b\n").message


def test_missing_required_section() -> None:
    error = load("name: x\nvariables: {}\nstory: [{name: a, text: hi}]\n")
    assert error.field == "questions" and "missing" in error.message


def test_non_utf8_template_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(GOOD.encode("utf-8").replace(b"a name", b"caf\xe9"))
    with pytest.raises(TemplateError, match="not UTF-8"):
        load_template(path)


def test_unknown_template_lists_builtins() -> None:
    with pytest.raises(TemplateError) as info:
        load_template("nonexistent-template")
    assert "tom" in str(info.value)


HOOKED = textwrap.dedent("""\
    name: hooked
    variables:
      who: {description: a name}
      thing: {description: what the hook is told to answer}
    factors:
      seen: {levels: [yes, no]}
    python: {function: "hook.py:pick", provides: [key]}
    story:
      - {name: s1, text: "{{ who }} has it."}
    questions:
      - name: q
        text: "Which?"
        response:
          type: choice
          options: {y: "Yes", n: "No"}
          answer: "key"
    """)

HOOK = '''
def pick(variables, levels, derived):
    told = variables["thing"]
    if told == "a list":
        return ["y"]
    if told == "nothing":
        return {}
    return {"key": None if told == "None" else told}
'''


@pytest.mark.parametrize(("told", "message"), [
    ("e", "question 'q': the answer 'key' is 'e', which names no option (options: y, n)"),
    ("None", "question 'q': the answer 'key' is None, which names no option (options: y, n)"),
    ("a list", "returned ['y'], not a mapping of its provided names to values"),
    ("nothing", "returned no key (python.provides lists them)"),
])
def test_a_hooks_bad_answer_is_an_error_naming_template_hook_and_value(tmp_path: Path, told: str,
                                                                      message: str) -> None:
    from proceval.dataset import Scenario

    (tmp_path / "t.yaml").write_text(HOOKED)
    (tmp_path / "hook.py").write_text(HOOK)
    template = load_template(tmp_path / "t.yaml")
    good = list(template.render(Scenario.of("hooked", {"who": "Ann", "thing": "n"}, {})))
    assert [item.answer for item in good] == ["n", "n"]
    scenario = Scenario.of("hooked", {"who": "Ann", "thing": told}, {})
    with pytest.raises(TemplateError) as info:
        list(template.render(scenario))
    error = info.value
    assert error.message == (f"template 'hooked': python hook 'hook.py:pick' on scenario {scenario.id} in "
                             f"condition 'yes': {message}")
    assert error.file == str(tmp_path / "t.yaml") and error.field == "python.function"
