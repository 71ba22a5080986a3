"""The SAMI loss against hand-computed values, the log-probability matrix against the hf backend's own scoring,
and a few optimiser steps on a fixed batch raise the diagonal's share."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from scipy.special import log_softmax

from proceval.train.sami.generate import Row, messages
from proceval.train.sami.loss import diagonal_share, identification, mi_lower_bound, sami_loss
from proceval.train.sami.trainer import collate, encode_row, load_trainable, score_batch


def test_the_loss_of_a_two_by_two_matrix_by_hand() -> None:
    m = torch.tensor([[-1.0, -3.0], [-2.0, -1.5]])
    # rows: constitution i picks its response; columns: response j picks its constitution
    rows = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-0.5))) / 2
    columns = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-1.5))) / 2
    assert float(sami_loss(m)) == pytest_approx((rows + columns) / 2)
    assert mi_lower_bound(m) == pytest_approx(math.log(2) - (rows + columns) / 2)
    assert identification(m).tolist() == [[True, True]]
    assert diagonal_share(torch.zeros(2, 2)) == pytest_approx(0.5)


def test_any_number_of_constitutions_and_queries_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    m = rng.normal(size=(3, 4, 4))
    expected = np.mean([-(np.trace(log_softmax(q, axis=1)) + np.trace(log_softmax(q, axis=0))) / 8 for q in m])
    assert float(sami_loss(torch.tensor(m))) == pytest_approx(float(expected))


def pytest_approx(x: float) -> object:
    import pytest

    return pytest.approx(x, rel=1e-5, abs=1e-6)


ROW = Row(query_id="q", query="Why is the sky blue?", constitutions=["a", "b"],
          systems=["Follow these principles:\n1. Be brief.", "Follow these principles:\n1. Be long."],
          responses=["Light scatters.", "Because air scatters blue light more than red light."])


def test_the_matrix_is_the_hf_backends_mean_logprob(tiny_model: Path) -> None:
    from proceval.models import load_model

    model, tokenizer = load_trainable(f"hf/{tiny_model}")
    with torch.no_grad():
        matrix = score_batch(model, collate(1)([encode_row(tokenizer, ROW)]))[0]
    backend = load_model(f"hf/{tiny_model}")
    for i, system in enumerate(ROW.systems):
        for j, response in enumerate(ROW.responses):
            expected = backend.response_logprobs(messages(system, ROW.query), response, end=True).mean
            assert float(matrix[i, j]) == pytest_approx(expected)


def test_a_few_steps_on_a_fixed_batch_raise_the_diagonal_share(tiny_model: Path) -> None:
    model, tokenizer = load_trainable(f"hf/{tiny_model}")
    batch = collate(1)([encode_row(tokenizer, ROW)])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        before = diagonal_share(score_batch(model, batch))
    for _ in range(12):
        optimizer.zero_grad()
        sami_loss(score_batch(model, batch)).backward()
        optimizer.step()
    with torch.no_grad():
        after = diagonal_share(score_batch(model, batch))
    assert after > before + 0.02, (before, after)  # 0.500 → 0.544 here
