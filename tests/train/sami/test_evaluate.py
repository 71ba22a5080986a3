"""Evaluation: identification and the MI bound from known matrices, proxies by version, counterbalanced judging
(a judge that always says "A" scores exactly 0.5), (the whole evaluation runs in test_study.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from proceval.models import GenerateConfig, Generation, Message
from proceval.train.sami.constitutions import PrinciplesFile, make_constitutions
from proceval.train.sami.evaluate import (
    information,
    judge_win_rates,
    parse_verdict,
    proxy_table,
)
from proceval.train.sami.generate import Row

CONSTITUTIONS = make_constitutions(PrinciplesFile.model_validate({"principles": [
    {"name": "brevity", "positive": "Be brief.", "negative": "Be long.", "proxy": "words"}]}))


def _row(q: str, brief: str, long: str) -> Row:
    return Row(query_id=q, query=q, constitutions=["a", "b"], systems=["s+", "s-"], responses=[brief, long])


def test_information_from_known_matrices() -> None:
    certain = np.array([[0.0, -50.0], [-50.0, 0.0]])
    swapped = np.array([[-50.0, 0.0], [0.0, -50.0]])
    info = information(np.stack([certain, certain, swapped]))
    assert info["identification"]["mean"] == pytest.approx(2 / 3)
    assert info["mi_lower_bound"]["mean"] == pytest.approx((2 * math.log(2) + (math.log(2) - 50)) / 3, abs=1e-6)


def test_proxies_by_model_and_version() -> None:
    rows = {"base": [_row("q1", "one two", "one two three"), _row("q2", "a", "a b c d e")]}
    table = proxy_table(rows, CONSTITUTIONS)
    assert table.set_index("version")["mean"].to_dict() == {"+": 1.5, "-": 4.0}


class Judge:
    """Answers by rule: always "A", or the letter of the shorter response."""

    spec = "rule/judge"

    def __init__(self, rule: str) -> None:
        self.rule = rule

    def generate(self, messages: list[Message], config: GenerateConfig | None = None) -> Generation:
        text = messages[0].content
        a = text.split("Response A:\n")[1].split("\n\nResponse B:")[0]
        b = text.split("Response B:\n")[1].split("\n\nWhich")[0]
        reply = {"A": "A", "shorter": "A" if len(a) < len(b) else "B", "none": "I cannot say."}[self.rule]
        return Generation(text=reply, prompt_tokens=1, completion_tokens=1, finish_reason="stop")


def test_judging_is_counterbalanced_and_unparseable_counts_half() -> None:
    trained = [_row("q1", "ok", "short"), _row("q2", "fine", "brief")]
    base = [_row("q1", "a much longer answer", "a much longer answer"), _row("q2", "x y z w", "tiny")]
    always_a = judge_win_rates(Judge("A"), trained, base, CONSTITUTIONS)
    assert always_a["overall"]["mean"] == 0.5 and always_a["counts"]["judged"] == 8
    shorter = judge_win_rates(Judge("shorter"), trained, base, CONSTITUTIONS)
    assert shorter["overall"]["mean"] == pytest.approx(3 / 4)  # trained is shorter in 3 of 4 comparisons
    none = judge_win_rates(Judge("none"), trained, base, CONSTITUTIONS)
    assert none["overall"]["mean"] == 0.5 and none["counts"]["unparseable"] == 8
    assert parse_verdict("B, because") == "B" and parse_verdict("Both are fine") is None
