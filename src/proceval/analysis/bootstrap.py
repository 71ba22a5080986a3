"""Seeded percentile bootstrap confidence intervals: ``scipy.stats.bootstrap`` for independent values, and
resampling whole clusters (participants) where scipy has no such option; and the Wilson interval of a
proportion, for counts of successes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Statistic = Callable[[np.ndarray], float]

_CHUNK = 4_000_000  # resampled values held in memory at once


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    clusters: Sequence[object] | np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values`` (NaNs are ignored).

    With ``clusters`` (one label per value), whole clusters are resampled, e.g. participants, so that
    answers of one person are not treated as independent. The same ``seed`` gives the same interval.
    Returns ``(nan, nan)`` for fewer than two values.
    """
    data = np.asarray(values, dtype=float)
    keep = ~np.isnan(data)
    data = data[keep]
    if data.size < 2:
        return float("nan"), float("nan")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    rng = np.random.default_rng(seed)
    alpha = (1 - level) / 2
    if clusters is not None:
        labels = np.asarray(clusters, dtype=object)[keep]
        _, codes = np.unique(labels.astype(str), return_inverse=True)
        sums = np.bincount(codes, weights=data)
        counts = np.bincount(codes).astype(float)
        k = sums.size
        if k < 2:
            return float("nan"), float("nan")
        draws = rng.integers(0, k, size=(n_boot, k))
        stats = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    else:  # independent values: scipy's bootstrap, in batches that bound the memory of the resamples
        from scipy.stats import bootstrap

        result = bootstrap((data,), np.mean, n_resamples=n_boot, confidence_level=level, method="percentile",
                           random_state=rng, vectorized=True, batch=max(1, _CHUNK // data.size))
        return float(result.confidence_interval.low), float(result.confidence_interval.high)
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return float(low), float(high)


def wilson_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``successes`` out of ``n`` (statsmodels), with its bounds exactly 0 at no success
    and 1 at all successes (the formula leaves rounding dust such as 1.7e-18 there); (0, 1) when ``n`` is 0."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return 0.0, 1.0
    low, high = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    return (0.0 if successes == 0 else float(low)), (1.0 if successes == n else float(high))

