"""Property tests: the crossing of factors and the rendering of items, for arbitrary templates."""

from __future__ import annotations

import itertools
import math

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.dataset import Scenario
from proceval.ids import content_id
from proceval.templates import load_template_text

names = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)


@st.composite
def factor_sets(draw: st.DrawFn) -> dict[str, list[str]]:
    factor_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    return {
        f"f_{name}": draw(st.lists(names, min_size=1, max_size=4, unique=True)) for name in factor_names
    }


def template_for(factors: dict[str, list[str]], exclude: list[dict[str, str]]) -> str:
    spec = {
        "name": "prop",
        "variables": {"v": {"description": "a value"}},
        "factors": {f: {"levels": levels} for f, levels in factors.items()},
        "conditions": {"exclude": exclude},
        "story": [{"name": "s", "text": "{{ v }} " + " ".join("{{ " + f + " }}" for f in factors)}],
        "questions": [{"name": "q", "text": "Which?", "response": {
            "type": "choice", "options": {"a": "A", "b": "B"},
            "answer": f"'a' if {next(iter(factors))} == '{next(iter(factors.values()))[0]}' else 'b'",
        }}],
    }
    return yaml.safe_dump(spec, sort_keys=False)


@settings(max_examples=60, deadline=None)
@given(factors=factor_sets(), data=st.data())
def test_crossing_is_the_product_minus_exclusions(factors: dict[str, list[str]], data: st.DataObject) -> None:
    first = next(iter(factors))
    excluded_levels = data.draw(st.lists(st.sampled_from(factors[first]), unique=True))
    exclude = [{first: level} for level in excluded_levels]
    names_of_conditions = {tuple(c.levels.values()) for c in
                           load_template_text(template_for(factors, exclude)).conditions} if \
        len(excluded_levels) < len(factors[first]) else None
    if names_of_conditions is None:
        return  # everything excluded: covered by the explicit "default condition" behaviour
    expected = {combo for combo in itertools.product(*factors.values()) if combo[0] not in excluded_levels}
    assert names_of_conditions == expected
    remaining = len(factors[first]) - len(excluded_levels)
    assert len(expected) == remaining * math.prod(len(v) for v in list(factors.values())[1:])


@settings(max_examples=60, deadline=None)
@given(factors=factor_sets(), value=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s and s))
def test_rendering_is_deterministic_and_faithful(factors: dict[str, list[str]], value: str) -> None:
    template = load_template_text(template_for(factors, []))
    scenario = Scenario(id=content_id("prop", {"v": value}), template="prop", variables={"v": value})
    first, second = list(template.render(scenario)), list(template.render(scenario))
    assert [i.to_dict() for i in first] == [i.to_dict() for i in second]
    assert len(first) == len(template.conditions)
    assert len({i.id for i in first}) == len(first)
    for item in first:
        # the value is inserted verbatim (never interpreted as a template), only its first character
        # capitalised where the segment (a sentence) starts; each level appears in the text as written
        assert item.text.startswith(value[:1].upper() + value[1:])
        assert all(str(level) in item.text for level in item.condition.values())
        first_factor = next(iter(factors))
        assert item.answer == ("a" if item.condition[first_factor] == factors[first_factor][0] else "b")


@settings(max_examples=30, deadline=None)
@given(value=st.sampled_from(["{{ 7 * 7 }}", "{% for x in range(3) %}x{% endfor %}", "<script>alert(1)</script>"]))
def test_filled_values_are_data_not_templates(value: str) -> None:
    template = load_template_text(template_for({"f_a": ["x"]}, []))
    item = next(template.render(Scenario(id="s", template="prop", variables={"v": value})))
    assert item.text.startswith(value)
