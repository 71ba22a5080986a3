"""Bootstrap intervals: seeded, near the analytic interval, with the stated coverage."""

from __future__ import annotations

import numpy as np
import pytest

from proceval.analysis.bootstrap import bootstrap_ci


def test_same_seed_same_interval_other_seed_differs() -> None:
    values = np.random.default_rng(0).random(50)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)


def test_close_to_normal_theory_for_a_mean() -> None:
    values = np.random.default_rng(1).normal(10, 2, 400)
    low, high = bootstrap_ci(values, n_boot=4000, seed=0)
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert low == pytest.approx(values.mean() - half, abs=0.1 * half)
    assert high == pytest.approx(values.mean() + half, abs=0.1 * half)


def test_coverage_of_a_known_proportion() -> None:
    rng = np.random.default_rng(2)
    hits = 0
    trials = 200
    for t in range(trials):
        sample = (rng.random(120) < 0.3).astype(float)
        low, high = bootstrap_ci(sample, n_boot=400, seed=t)
        hits += low <= 0.3 <= high
    assert 0.88 <= hits / trials <= 0.99


def test_cluster_resampling_widens_intervals_for_correlated_answers() -> None:
    rng = np.random.default_rng(3)
    people = np.repeat(np.arange(20), 10)
    ability = rng.random(20)[people]  # answers of one person share their ability
    values = (rng.random(people.size) < ability).astype(float)
    iid = bootstrap_ci(values, seed=0)
    clustered = bootstrap_ci(values, seed=0, clusters=people)
    assert clustered[1] - clustered[0] > 1.5 * (iid[1] - iid[0])


def test_nan_ignored_and_too_few_values() -> None:
    assert bootstrap_ci([1.0, float("nan"), 0.0, 1.0], seed=0) == bootstrap_ci([1.0, 0.0, 1.0], seed=0)
    low, high = bootstrap_ci([1.0])
    assert low != low and high != high


def test_independent_values_give_scipys_percentile_interval() -> None:
    from scipy.stats import bootstrap

    values = np.random.default_rng(2).random(60)
    expected = bootstrap((values,), np.mean, n_resamples=500, confidence_level=0.9, method="percentile",
                         random_state=np.random.default_rng(7)).confidence_interval
    assert bootstrap_ci(values, n_boot=500, level=0.9, seed=7) == pytest.approx((expected.low, expected.high))


def test_the_wilson_interval_matches_the_formula_and_is_exact_at_the_ends() -> None:
    from math import sqrt

    from proceval.analysis.bootstrap import wilson_ci

    z = 1.959963984540054  # the normal quantile of 0.975
    k, n = 53, 60
    p = k / n
    centre, half = (p + z * z / (2 * n)), z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = wilson_ci(k, n)
    assert abs(low - (centre - half) / (1 + z * z / n)) < 1e-12
    assert abs(high - (centre + half) / (1 + z * z / n)) < 1e-12
    assert wilson_ci(0, 200)[0] == 0.0 and wilson_ci(200, 200)[1] == 1.0  # no rounding dust at the ends
    assert abs(wilson_ci(0, 200)[1] - z * z / (200 + z * z)) < 1e-12
    assert wilson_ci(0, 0) == (0.0, 1.0)
