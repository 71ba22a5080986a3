"""Fitting the graded response model (ordered ratings) by EM over a quadrature grid."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from proceval.analysis.irt.binary import _invert, _posterior
from proceval.ui import progress_bar

# --------------------------------------------------------------------------------------------------------------
# Graded response model


def _grm_probs(a: float, d: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Category probabilities (K × Q) and the cumulative curves with the 1/0 ends ((K+1) × Q)."""
    star = special.expit(a * nodes[None, :] + d[:, None])
    full = np.vstack([np.ones_like(nodes), star, np.zeros_like(nodes)])
    return np.clip(full[:-1] - full[1:], 1e-12, None), full


def _grm_unpack(params: np.ndarray) -> tuple[float, np.ndarray]:
    """(a, d_1 > d_2 > ...) from (a, d_1, log gaps): the ordering holds by construction."""
    a = params[0]
    d = params[1] - np.concatenate([[0.0], np.cumsum(np.exp(params[2:]))])
    return a, d


def _grm_item_objective(
    params: np.ndarray, counts: np.ndarray, nodes: np.ndarray, prec: float
) -> tuple[float, np.ndarray]:
    a, d = _grm_unpack(params)
    probs, full = _grm_probs(a, d, nodes)
    ratio = counts / probs  # K × Q
    value = -(counts * np.log(probs)).sum() + 0.5 * prec * (a - 1) ** 2
    w = full * (1 - full)  # (K+1) × Q, zero at the ends
    # d ℓ / d d_k = Σ_q w_k (r_{k}/P_{k} − r_{k−1}/P_{k−1}) for cumulative index k = 1..K−1 (category k, k−1)
    inner = w[1:-1] * (ratio[1:] - ratio[:-1])  # (K−1) × Q
    grad_d = inner.sum(1)
    grad_a = (inner * nodes[None, :]).sum() - prec * (a - 1)
    grad = np.empty_like(params)
    grad[0] = -grad_a
    grad[1] = -grad_d.sum()
    gaps = np.exp(params[2:])
    # d_k = d_1 − Σ_{m ≤ k} gap_m: ∂/∂log gap_m = −gap_m Σ_{k ≥ m} ∂/∂d_k
    tail = np.cumsum(grad_d[::-1])[::-1][1:]
    grad[2:] = gaps * tail  # sign: −(−gap · tail)
    return float(value), grad


def _fit_grm(
    x: np.ndarray, nodes: np.ndarray, log_prior: np.ndarray, max_iter: int, tol: float,
    a_prior_sd: float | None, progress: bool,
) -> dict[str, Any]:
    n_persons, n_items = x.shape
    prec = 0.0 if a_prior_sd is None else 1.0 / a_prior_sd**2
    categories: list[list[float]] = []
    codes = np.full(x.shape, -1, dtype=int)
    offsets = [0]
    for j in range(n_items):
        observed = np.unique(x[~np.isnan(x[:, j]), j])
        categories.append([float(v) for v in observed])
        lookup = {v: k for k, v in enumerate(observed)}
        col = x[:, j]
        codes[:, j] = [lookup[v] if v == v else -1 for v in col]
        offsets.append(offsets[-1] + len(observed))
    total = offsets[-1]
    # one-hot design: persons × (all categories of all items)
    onehot = np.zeros((n_persons, total))
    rows, cols = np.nonzero(codes >= 0)
    onehot[rows, np.array(offsets[:-1])[cols] + codes[rows, cols]] = 1.0
    params: list[np.ndarray] = []
    for j in range(n_items):
        k = len(categories[j])
        counts = np.bincount(codes[codes[:, j] >= 0, j], minlength=k).astype(float) + 0.5
        cum = np.cumsum(counts[::-1])[::-1][1:] / counts.sum()  # P(X ≥ k), k = 1..K−1
        d0 = special.logit(np.clip(cum, 0.01, 0.99)) * 1.2
        gaps = np.log(np.clip(-np.diff(d0), 0.05, None))
        params.append(np.concatenate([[1.0, d0[0]], gaps]))
    converged, iteration = False, 0

    def log_table() -> np.ndarray:
        table = np.empty((total, nodes.size))
        for j in range(n_items):
            a, d = _grm_unpack(params[j])
            table[offsets[j] : offsets[j + 1]] = np.log(_grm_probs(a, d, nodes)[0])
        return table

    previous = -np.inf
    with progress_bar("IRT grm EM", total=None, unit="EM cycles", enabled=progress) as bar:
        for cycle in range(1, max_iter + 1):
            iteration = cycle
            weights, current = _posterior(onehot @ log_table(), log_prior)
            if abs(current - previous) < 1e-9 * abs(current):  # flat likelihood: parameters barely matter
                converged = True
                break
            previous = current
            expected = onehot.T @ weights  # categories × nodes
            delta = 0.0
            for j in range(n_items):
                counts = expected[offsets[j] : offsets[j + 1]]
                res = optimize.minimize(
                    _grm_item_objective, params[j], args=(counts, nodes, prec), jac=True,
                    method="BFGS", options={"maxiter": 20, "gtol": 1e-6},
                )
                new = res.x
                old_a, old_d = _grm_unpack(params[j])
                new_a, new_d = _grm_unpack(new)
                delta = max(delta, abs(new_a - old_a), float(np.abs(new_d - old_d).max()))
                params[j] = new
            bar.advance()
            bar.status(f"largest change {delta:.2e}")
            if delta < tol:
                converged = True
                break
    weights, loglik = _posterior(onehot @ log_table(), log_prior)
    theta = weights @ nodes
    theta_se = np.sqrt(np.clip(weights @ nodes**2 - theta**2, 0, None))
    # standard errors: per-person marginal scores for (a, d_1..d_{K−1}) of every item
    blocks = []
    for j in range(n_items):
        a, d = _grm_unpack(params[j])
        probs, full = _grm_probs(a, d, nodes)
        w = full * (1 - full)
        answered = codes[:, j] >= 0
        code = np.where(answered, codes[:, j], 0)
        k = len(categories[j])
        # ∂ log P_x / ∂ d_m = (w_m [m = x] − w_m [m = x + 1]) / P_x, m = 1..K−1 (cumulative index)
        block = np.zeros((n_persons, k))
        for m in range(1, k):
            factor = np.zeros((k, nodes.size))
            factor[m] = w[m] / probs[m]  # category x = m: +w_m / P_m
            factor[m - 1] = -w[m] / probs[m - 1]  # category x = m − 1: −w_m / P_{m−1}
            block[:, m] = np.einsum("nq,nq->n", weights, factor[code])
        slope = ((w[:-1] - w[1:]) / probs) * nodes[None, :]
        block[:, 0] = np.einsum("nq,nq->n", weights, slope[code])
        block[~answered] = 0.0
        blocks.append(block)
    scores = np.hstack(blocks)
    info = scores.T @ scores
    info[np.diag_indices(info.shape[0])] += np.concatenate(
        [np.r_[prec, np.zeros(len(c) - 1)] for c in categories]
    )
    cov = _invert(info)
    a_all, b_all, se_a, se_b, thresholds, threshold_se, rmsd = [], [], [], [], [], [], []
    expected = onehot.T @ weights
    for j in range(n_items):
        a, d = _grm_unpack(params[j])
        start = offsets[j]
        block = cov[start : offsets[j + 1], start : offsets[j + 1]]
        var_a, var_d, cov_ad = block[0, 0], np.diag(block)[1:], block[0, 1:]
        th = -d / a
        th_se = np.sqrt(np.clip((var_d + th**2 * var_a + 2 * th * cov_ad) / a**2, 0, None))
        # location = mean threshold; its variance through the gradient of mean(−d/a)
        grad = np.concatenate([[np.mean(d) / a**2], -np.ones(d.size) / (a * d.size)])
        loc_se = math.sqrt(max(float(grad @ block @ grad), 0.0))
        a_all.append(a)
        b_all.append(float(th.mean()))
        se_a.append(math.sqrt(max(var_a, 0.0)))
        se_b.append(loc_se)
        thresholds.append(th)
        threshold_se.append(th_se)
        counts = expected[start : offsets[j + 1]]
        probs, _ = _grm_probs(a, d, nodes)
        n_q = counts.sum(0)
        observed = np.where(n_q > 1e-9, counts / np.clip(n_q, 1e-12, None), probs)
        freq = n_q / max(n_q.sum(), 1e-12)
        rmsd.append(float(np.sqrt((freq * ((observed - probs) ** 2).sum(0)).sum())))
    n_params = sum(len(c) for c in categories)
    return {
        "a": np.array(a_all), "b": np.array(b_all), "c": np.zeros(n_items),
        "se_a": np.array(se_a), "se_b": np.array(se_b), "se_c": np.zeros(n_items),
        "theta": theta, "theta_se": theta_se, "loglik": loglik, "n_params": n_params,
        "converged": converged, "n_iter": iteration, "item_fit": pd.DataFrame(),
        "thresholds": thresholds, "threshold_se": threshold_se, "categories": categories,
        "_rmsd": np.array(rmsd),
    }
