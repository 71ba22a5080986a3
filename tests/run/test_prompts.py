"""Prompt building: strategies, option orders, answer prefix, few-shot pools, user overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from proceval.errors import RunError
from proceval.solvers.prompts import PromptBuilder
from tests.conftest import choice_item


def _items():
    return [choice_item(s, {"belief": lv}, answer="a" if lv == "true" else "b", options=("yes", "no"))
            for s in range(6) for lv in ("true", "false")]


def test_zero_shot_lists_options_in_the_given_order() -> None:
    item = _items()[0]
    prompt = PromptBuilder().build(item, ["b", "a"], system="Be brief.")
    assert [m.role for m in prompt.messages] == ["system", "user"]
    user = prompt.messages[-1].content
    assert item.text in user and item.question in user
    assert user.index("A. no") < user.index("B. yes")
    assert prompt.assistant_prefix == "Answer:" and prompt.continuations == [" A", " B"]
    text_prompt = PromptBuilder(option_format="text").build(item, ["b", "a"])
    assert text_prompt.continuations == [" no", " yes"]


def test_few_shot_examples_come_from_other_scenarios_of_the_same_condition() -> None:
    items = _items()
    builder = PromptBuilder("few-shot", k_shots=3, seed=7, examples=items)
    for item in items:
        examples = builder.examples_for(item)
        assert len(examples) == 3
        assert all(e.scenario_id != item.scenario_id for e in examples)
        assert all(e.condition_name == item.condition_name for e in examples)
        prompt = builder.build(item, ["a", "b"])
        assert [m.role for m in prompt.messages] == ["user", "assistant"] * 3 + ["user"]
        for example, answer in zip(examples, prompt.messages[1::2], strict=False):
            # the worked answer is the correct option's letter in the example's own order
            user = prompt.messages[prompt.messages.index(answer) - 1].content
            letter = answer.content.removeprefix("Answer: ")
            correct_text = example.option_text(example.answer)
            assert f"{letter}. {correct_text}" in user
    again = PromptBuilder("few-shot", k_shots=3, seed=7, examples=items)
    assert [e.id for e in again.examples_for(items[0])] == [e.id for e in builder.examples_for(items[0])]


def test_cot_asks_for_reasoning_then_an_answer_line() -> None:
    prompt = PromptBuilder("cot").build(_items()[0], ["a", "b"])
    assert "step by step" in prompt.messages[-1].content and "Answer:" in prompt.messages[-1].content


def test_user_prompt_directory_overrides_templates(tmp_path: Path) -> None:
    (tmp_path / "item.j2").write_text("Q: {{ question }}\n{% for o in options %}({{ o.label }}) {{ o.text }}\n{% endfor %}")
    (tmp_path / "answer.j2").write_text("My choice is {{ answer }}")
    prompt = PromptBuilder(prompt_dir=tmp_path).build(_items()[0], ["a", "b"])
    assert prompt.messages[-1].content.startswith("Q: Which is it?\n(A) yes")
    assert prompt.assistant_prefix == "My choice is" and prompt.continuations == [" A", " B"]


def test_bad_strategy_format_and_template_are_errors(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="strategy"):
        PromptBuilder("tree-of-thought")
    with pytest.raises(RunError, match="option format"):
        PromptBuilder(option_format="emoji")
    with pytest.raises(RunError, match="no such prompt directory"):
        PromptBuilder(prompt_dir=tmp_path / "missing")
    (tmp_path / "item.j2").write_text("{{ undefined_thing }}")
    with pytest.raises(RunError, match="prompt template failed"):
        PromptBuilder(prompt_dir=tmp_path).build(_items()[0], ["a", "b"])
