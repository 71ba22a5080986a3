"""A fitted IRT model (:class:`IrtFit`): item and person parameters with standard errors, item
characteristic curves, information functions, fit indices, and the tables written from them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

BINARY_MODELS = ("rasch", "1pl", "2pl", "3pl")
ORDINAL_MODELS = ("grm",)
MODELS = BINARY_MODELS + ORDINAL_MODELS
# --------------------------------------------------------------------------------------------------------------
# Fitting


@dataclass
class IrtFit:
    """A fitted IRT model: item and person parameters with standard errors, fit statistics, exclusions.

    Item arrays follow ``items`` (the estimated items); ``a``/``b``/``c`` are discrimination, difficulty
    (location) and guessing. For the GRM ``b`` is the mean of the item's ``thresholds`` and ``c`` is zero.
    """

    model: str
    items: list[str]
    persons: list[str]
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    se_a: np.ndarray
    se_b: np.ndarray
    se_c: np.ndarray
    theta: np.ndarray
    theta_se: np.ndarray
    loglik: float
    n_params: int
    n_obs: int
    converged: bool
    n_iter: int
    item_fit: pd.DataFrame
    thresholds: list[np.ndarray] = field(default_factory=list)
    threshold_se: list[np.ndarray] = field(default_factory=list)
    categories: list[list[float]] = field(default_factory=list)
    excluded_items: dict[str, str] = field(default_factory=dict)
    excluded_persons: dict[str, str] = field(default_factory=dict)
    proportion: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_answers: np.ndarray = field(default_factory=lambda: np.zeros(0))
    warnings: list[str] = field(default_factory=list)

    @property
    def n_persons(self) -> int:
        return len(self.persons)

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.n_params

    @property
    def bic(self) -> float:
        return -2 * self.loglik + self.n_params * math.log(max(self.n_persons, 1))

    def icc(self, theta: np.ndarray | float, items: Sequence[str] | None = None) -> np.ndarray:
        """Probability of a correct answer (binary) or expected score (GRM, in category units from 0)
        at ``theta``: an (items × len(theta)) array."""
        grid = np.atleast_1d(np.asarray(theta, dtype=float))
        idx = self._indices(items)
        if self.model == "grm":
            out = np.zeros((len(idx), grid.size))
            for row, j in enumerate(idx):
                star = self._grm_cumulative(j, grid)
                out[row] = star.sum(axis=0)
            return out
        p = special.expit(self.a[idx, None] * (grid[None, :] - self.b[idx, None]))
        return self.c[idx, None] + (1 - self.c[idx, None]) * p

    def item_information(self, theta: np.ndarray | float, items: Sequence[str] | None = None) -> np.ndarray:
        """Fisher information of each item at ``theta`` (items × len(theta))."""
        grid = np.atleast_1d(np.asarray(theta, dtype=float))
        idx = self._indices(items)
        if self.model == "grm":
            out = np.zeros((len(idx), grid.size))
            for row, j in enumerate(idx):
                star = self._grm_cumulative(j, grid)
                full = np.vstack([np.ones_like(grid), star, np.zeros_like(grid)])
                w = full * (1 - full)
                probs = np.clip(full[:-1] - full[1:], 1e-12, None)
                deriv = self.a[j] * (w[:-1] - w[1:])
                out[row] = (deriv**2 / probs).sum(axis=0)
            return out
        a, b, c = self.a[idx, None], self.b[idx, None], self.c[idx, None]
        s = special.expit(a * (grid[None, :] - b))
        p = c + (1 - c) * s
        return a**2 * ((p - c) / (1 - c)) ** 2 * (1 - p) / np.clip(p, 1e-12, None)

    def test_information(self, theta: np.ndarray | float) -> np.ndarray:
        return self.item_information(theta).sum(axis=0)

    def _grm_cumulative(self, j: int, grid: np.ndarray) -> np.ndarray:
        """P(score ≥ k) of GRM item ``j`` for each threshold k (rows) at each ``grid`` point (columns)."""
        return np.asarray(special.expit(self.a[j] * (grid[None, :] - self.thresholds[j][:, None])))

    def _indices(self, items: Sequence[str] | None) -> list[int]:
        if items is None:
            return list(range(len(self.items)))
        index = {item: j for j, item in enumerate(self.items)}
        return [index[item] for item in items]

    def items_frame(self) -> pd.DataFrame:
        """One row per estimated item: parameters, standard errors, accuracy, answers and item fit."""
        frame = pd.DataFrame({
            "item_id": self.items,
            "a": self.a, "se_a": self.se_a,
            "b": self.b, "se_b": self.se_b,
        })
        if self.model == "3pl":
            frame["c"], frame["se_c"] = self.c, self.se_c
        if self.model == "grm":
            frame["thresholds"] = [" ".join(f"{t:.4f}" for t in th) for th in self.thresholds]
            frame["threshold_se"] = [" ".join(f"{t:.4f}" for t in se) for se in self.threshold_se]
            frame["categories"] = [" ".join(f"{v:g}" for v in cats) for cats in self.categories]
            frame["mean_response"] = self.proportion
        else:
            frame["p_correct"] = self.proportion
        frame["n_answers"] = self.n_answers.astype(int)
        return frame.merge(self.item_fit, on="item_id", how="left")

    def persons_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"person": self.persons, "theta": self.theta, "se": self.theta_se})

    def summary(self) -> dict[str, Any]:
        """Plain-JSON headline numbers: sizes, log-likelihood, AIC/BIC, convergence, exclusions."""
        fit = self.item_fit
        misfit = int((fit["q1_p"] < 0.01).sum()) if "q1_p" in fit and len(fit) else 0
        return {
            "model": self.model,
            "n_items": len(self.items),
            "n_persons": self.n_persons,
            "n_observations": self.n_obs,
            "n_params": self.n_params,
            "loglik": round(self.loglik, 4),
            "aic": round(self.aic, 4),
            "bic": round(self.bic, 4),
            "converged": self.converged,
            "iterations": self.n_iter,
            "mean_theta_se": _round(float(np.mean(self.theta_se))) if self.n_persons else None,
            "items_misfitting_q1_p_lt_0.01": misfit,
            "max_item_rmsd": _round(float(fit["rmsd"].max())) if len(fit) else None,
            "excluded_items": dict(self.excluded_items),
            "excluded_persons": dict(self.excluded_persons),
            "warnings": list(self.warnings),
        }


def _round(x: float, digits: int = 4) -> float | None:
    return None if not np.isfinite(x) else round(x, digits)
