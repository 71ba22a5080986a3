"""Fitting the binary models (Rasch, 1PL, 2PL, 3PL) by EM over a quadrature grid, and their standard errors
from the empirical cross-product information."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from proceval.ui import progress_bar


def _posterior(log_like: np.ndarray, log_prior: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised posterior weights over the grid per person, and the marginal log-likelihood."""
    joint = log_like + log_prior[None, :]
    top = joint.max(axis=1, keepdims=True)
    weights = np.exp(joint - top)
    total = weights.sum(axis=1, keepdims=True)
    weights /= total
    return weights, float((top[:, 0] + np.log(total[:, 0])).sum())


def _fit_binary(
    x: np.ndarray, model: str, nodes: np.ndarray, log_prior: np.ndarray, max_iter: int, tol: float,
    a_prior_sd: float | None, c_prior: tuple[float, float], progress: bool,
) -> dict[str, Any]:
    n_items = x.shape[1]
    mask = ~np.isnan(x)
    complete = bool(mask.all())
    right = np.where(mask, x, 0.0)
    wrong = mask.astype(float) - right
    # the iterations run their large products in float32 (0/1 data are exact; weights need no more);
    # the final pass that reports log-likelihood, abilities and standard errors is float64
    right32 = right.astype(np.float32)
    mask32 = mask.astype(np.float32)
    prec = 0.0 if a_prior_sd is None or model in ("rasch",) else 1.0 / a_prior_sd**2
    # starting values: intercepts from the logit of the proportion correct
    prop = np.clip(right.sum(0) / mask.sum(0), 0.02, 0.98)
    a = np.ones(n_items)
    d = special.logit(prop) * 1.2
    c = np.full(n_items, 0.2) if model == "3pl" else np.zeros(n_items)
    alpha, beta = c_prior

    def em_map(a: np.ndarray, d: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """One EM cycle: the E-step at (a, d, c) (whose marginal log-likelihood it returns) and the M-step."""
        s = special.expit(a[:, None] * nodes[None, :] + d[:, None])  # items × nodes
        p = np.clip(c[:, None] + (1 - c[:, None]) * s, 1e-10, 1 - 1e-10)
        lq = np.log1p(-p)
        logit = (np.log(p) - lq).astype(np.float32)
        if complete:
            log_like = (right32 @ logit).astype(float) + lq.sum(0)[None, :]
        else:
            log_like = (right32 @ logit).astype(float) + mask32 @ lq.astype(np.float32)
        weights, loglik = _posterior(log_like, log_prior)
        # flush negligible weights to zero: float32 subnormals would slow the products down a hundredfold
        weights32 = np.where(weights < 1e-30, 0.0, weights).astype(np.float32)
        # expected correct answers per item and node; (W'X)' is many times faster in OpenBLAS than X'W here
        r = (weights32.T @ right32).T.astype(float)
        n = np.broadcast_to(weights.sum(0), r.shape) if complete else (weights32.T @ mask32).T.astype(float)
        if model == "3pl":
            known = r * s / p  # expected correct answers that were not guesses
            c_new = ((r - known).sum(1) + alpha - 1) / ((n - known).sum(1) + alpha + beta - 2)
            c_new = np.clip(c_new, 1e-4, 0.9)
            r = known
        else:
            c_new = c
        a_new, d_new = _m_step_logistic(a, d, r, n, nodes, model, prec)
        return a_new, d_new, c_new, loglik

    def pack(a: np.ndarray, d: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.concatenate([a, d, c])

    def unpack(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return v[:n_items], v[n_items : 2 * n_items], np.clip(v[2 * n_items :], 0.0, 0.9)

    converged, iteration = False, 0
    current = pack(a, d, c)
    # SQUAREM (Varadhan & Roland 2008): two EM cycles, a squared extrapolation along their steps, then an EM
    # cycle from the extrapolated point; fall back to plain EM whenever the extrapolation lowers the likelihood
    with progress_bar(f"IRT {model} EM", total=None, unit="EM cycles", enabled=progress) as bar:
        while iteration < max_iter:
            before = iteration
            one = pack(*em_map(*unpack(current))[:3])
            *step, ll_one = em_map(*unpack(one))
            two = pack(*step)
            iteration += 2
            r_vec = one - current
            v_vec = two - one - r_vec
            v_norm = float(np.sqrt(v_vec @ v_vec))
            new = two
            if v_norm > 0:
                step_len = -max(1.0, float(np.sqrt(r_vec @ r_vec)) / v_norm)
                jump = current - 2 * step_len * r_vec + step_len**2 * v_vec
                *after, ll_jump = em_map(*unpack(jump))
                iteration += 1
                if np.isfinite(ll_jump) and ll_jump >= ll_one - 1e-8 * abs(ll_one):
                    new = pack(*after)
            delta = float(np.abs(new - two).max()) if new is not two else float(np.abs(two - one).max())
            current = new
            bar.advance(iteration - before)
            bar.status(f"largest change {delta:.2e}")
            if delta < tol:
                converged = True
                break
    a, d, c = unpack(current)
    # final E-step at the estimates: abilities, log-likelihood and scores for standard errors
    s = special.expit(a[:, None] * nodes[None, :] + d[:, None])
    p = np.clip(c[:, None] + (1 - c[:, None]) * s, 1e-10, 1 - 1e-10)
    log_like = right @ np.log(p) + wrong @ np.log1p(-p)
    weights, loglik = _posterior(log_like, log_prior)
    theta = weights @ nodes
    theta_se = np.sqrt(np.clip(weights @ nodes**2 - theta**2, 0, None))
    se_a, se_b, se_c, n_params = _binary_se(right, mask, weights, nodes, a, d, c, s, p, model, prec, c_prior)
    b = -d / a
    r = right.T @ weights
    n = mask.T.astype(float) @ weights
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.where(n > 1e-9, r / n, p)
    freq = n / np.clip(n.sum(1, keepdims=True), 1e-12, None)
    rmsd = np.sqrt((freq * (observed - p) ** 2).sum(1))
    return {
        "a": a, "b": b, "c": c if model == "3pl" else np.zeros(n_items),
        "se_a": se_a, "se_b": se_b, "se_c": se_c,
        "theta": theta, "theta_se": theta_se, "loglik": loglik, "n_params": n_params,
        "converged": converged, "n_iter": iteration, "item_fit": pd.DataFrame(), "_rmsd": rmsd,
    }


def _m_step_logistic(
    a: np.ndarray, d: np.ndarray, r: np.ndarray, n: np.ndarray, nodes: np.ndarray, model: str, prec: float,
    steps: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps on the expected complete-data log-likelihood Σ_q r log σ + (n − r) log(1 − σ) of every
    item at once (2×2 systems solved in closed form); concave, so a few steps per EM cycle suffice."""
    a, d = a.copy(), d.copy()
    for _ in range(steps):
        s = special.expit(a[:, None] * nodes[None, :] + d[:, None])
        resid = r - n * s
        w = n * s * (1 - s)
        g_d = resid.sum(1)
        h_dd = w.sum(1) + 1e-9
        if model == "rasch":
            d += np.clip(g_d / h_dd, -2, 2)
            continue
        g_a = resid @ nodes - prec * (a - 1)
        h_ad = w @ nodes
        h_aa = w @ nodes**2 + prec
        if model == "1pl":
            d += np.clip(g_d / h_dd, -2, 2)
            # common slope: the item intercepts profiled out (Schur complement)
            g = g_a.sum()  # the prior enters once per item, matching the standard errors
            h = (h_aa - h_ad**2 / h_dd).sum()
            a = a + np.clip(g / max(h, 1e-9), -1, 1)
            continue
        det = h_aa * h_dd - h_ad**2
        det = np.where(det > 1e-12, det, 1e-12)
        step_a = (h_dd * g_a - h_ad * g_d) / det
        step_d = (h_aa * g_d - h_ad * g_a) / det
        a = a + np.clip(step_a, -1, 1)
        d = d + np.clip(step_d, -2, 2)
    return a, d


def _binary_se(
    right: np.ndarray, mask: np.ndarray, weights: np.ndarray, nodes: np.ndarray, a: np.ndarray, d: np.ndarray,
    c: np.ndarray, s: np.ndarray, p: np.ndarray, model: str, prec: float, c_prior: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Standard errors from the cross-product of per-person marginal scores (plus the priors' curvature)."""
    n_items = a.size
    # d log P(x|θ)/d η = (x − p) g with g = (1 − c) s (1 − s) / (p (1 − p)); η = a θ + d
    g = (1 - c[:, None]) * s * (1 - s) / (p * (1 - p))
    xw = right  # x where answered, 0 elsewhere
    maskf = mask.astype(float)

    def score(factor: np.ndarray) -> np.ndarray:
        # Σ_q w_nq (x_nj − p_jq) factor_jq over answered cells
        return xw * (weights @ factor.T) - maskf * (weights @ (p * factor).T)

    blocks = [score(g)]  # intercepts d
    names = ["d"]
    if model == "1pl":
        blocks.append(score(g * nodes[None, :]).sum(1, keepdims=True))
        names.append("a_common")
    elif model in ("2pl", "3pl"):
        blocks.append(score(g * nodes[None, :]))
        names.append("a")
    if model == "3pl":
        blocks.append(score((1 - s) / (p * (1 - p))))
        names.append("c")
    scores = np.hstack(blocks)
    info = scores.T @ scores
    k = info.shape[0]
    diag = np.zeros(k)
    if model == "2pl" or model == "3pl":
        diag[n_items : 2 * n_items] = prec
    if model == "1pl":
        diag[n_items] = prec * n_items
    if model == "3pl":
        alpha, beta = c_prior
        diag[2 * n_items :] = (alpha - 1) / c**2 + (beta - 1) / (1 - c) ** 2
    info[np.diag_indices(k)] += diag
    cov = _invert(info)
    var_d = np.diag(cov)[:n_items]
    if model == "rasch":
        var_a = np.zeros(n_items)
        cov_ad = np.zeros(n_items)
    elif model == "1pl":
        var_a = np.full(n_items, cov[n_items, n_items])
        cov_ad = cov[:n_items, n_items]
    else:
        var_a = np.diag(cov)[n_items : 2 * n_items]
        cov_ad = np.diag(cov[:n_items, n_items : 2 * n_items])
    b = -d / a
    var_b = (var_d + b**2 * var_a + 2 * b * cov_ad) / a**2
    se_c = np.sqrt(np.clip(np.diag(cov)[2 * n_items :], 0, None)) if model == "3pl" else np.zeros(n_items)
    n_params = {"rasch": n_items, "1pl": n_items + 1, "2pl": 2 * n_items, "3pl": 3 * n_items}[model]
    return np.sqrt(np.clip(var_a, 0, None)), np.sqrt(np.clip(var_b, 0, None)), se_c, n_params


def _invert(info: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(info)
