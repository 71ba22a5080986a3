"""Fitting an IRT model to a response matrix: screening items and persons that cannot be estimated, choosing
the estimator for the model, item fit statistics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from proceval.analysis.irt.binary import _fit_binary
from proceval.analysis.irt.grm import _fit_grm
from proceval.analysis.irt.matrix import (
    ResponseMatrix,
    _check_kind,
)
from proceval.analysis.irt.model import BINARY_MODELS, MODELS, IrtFit
from proceval.errors import AnalysisError


def _screen(
    values: np.ndarray, persons: list[str], items: list[str], min_responses: int
) -> tuple[np.ndarray, list[int], list[int], dict[str, str], dict[str, str]]:
    """Drop persons without answers and items that carry no information, until nothing changes."""
    keep_p = np.arange(values.shape[0])
    keep_i = np.arange(values.shape[1])
    ex_items: dict[str, str] = {}
    ex_persons: dict[str, str] = {}
    while True:
        sub = values[np.ix_(keep_p, keep_i)]
        answered = ~np.isnan(sub)
        n_per_person = answered.sum(axis=1)
        drop_p = n_per_person == 0
        for row in np.flatnonzero(drop_p):
            ex_persons[persons[keep_p[row]]] = (
                "no answers" if np.isnan(values[keep_p[row]]).all() else "answered only excluded items"
            )
        n_per_item = answered.sum(axis=0)
        with np.errstate(invalid="ignore"):
            low = np.nanmin(np.where(answered, sub, np.inf), axis=0)
            high = np.nanmax(np.where(answered, sub, -np.inf), axis=0)
        drop_i = np.zeros(len(keep_i), dtype=bool)
        for k in range(len(keep_i)):
            name = items[keep_i[k]]
            if n_per_item[k] < min_responses:
                drop_i[k] = True
                ex_items[name] = f"only {int(n_per_item[k])} answer(s) (fewer than {min_responses})"
            elif low[k] == high[k]:
                drop_i[k] = True
                what = {1.0: "everyone answered correctly", 0.0: "everyone answered incorrectly"}
                ex_items[name] = what.get(float(low[k]), f"everyone gave the same answer ({low[k]:g})")
        if not drop_p.any() and not drop_i.any():
            return sub, list(keep_p), list(keep_i), ex_items, ex_persons
        keep_p = keep_p[~drop_p]
        keep_i = keep_i[~drop_i]
        if len(keep_p) == 0 or len(keep_i) == 0:
            return values[np.ix_(keep_p, keep_i)], list(keep_p), list(keep_i), ex_items, ex_persons


def fit_irt(
    data: ResponseMatrix | np.ndarray,
    model: str = "2pl",
    *,
    n_quad: int = 41,
    theta_range: float = 5.0,
    max_iter: int = 1000,
    tol: float = 1e-4,
    a_prior_sd: float | None = 3.0,
    c_prior: tuple[float, float] = (5.0, 17.0),
    min_responses: int = 2,
    item_fit_groups: int = 10,
    progress: bool = False,
    blas_threads: int | None = 1,
) -> IrtFit:
    """Fit ``model`` (rasch, 1pl, 2pl, 3pl or grm) to a persons × items matrix by MML-EM.

    ``a_prior_sd`` puts a weak normal prior N(1, sd²) on discriminations (``None`` for none) so that items
    with nearly perfect separation keep finite estimates; ``c_prior`` is the Beta prior on 3PL guessing.
    Iteration stops when no parameter moves more than ``tol``; a fit that reaches ``max_iter`` first says so
    in ``converged`` and ``warnings``. ``blas_threads`` caps BLAS threads during the fit (``None``: no cap):
    the products are thin (one column per grid point), so extra threads mostly wait on each other, and on a
    busy two-core machine one thread is several times faster.
    """
    with _blas_limit(blas_threads):
        return _fit_irt(data, model, n_quad=n_quad, theta_range=theta_range, max_iter=max_iter, tol=tol,
                        a_prior_sd=a_prior_sd, c_prior=c_prior, min_responses=min_responses,
                        item_fit_groups=item_fit_groups, progress=progress)


def _blas_limit(threads: int | None) -> Any:
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _fit_irt(
    data: ResponseMatrix | np.ndarray,
    model: str,
    *,
    n_quad: int,
    theta_range: float,
    max_iter: int,
    tol: float,
    a_prior_sd: float | None,
    c_prior: tuple[float, float],
    min_responses: int,
    item_fit_groups: int,
    progress: bool,
) -> IrtFit:
    model = model.lower()
    if model not in MODELS:
        raise AnalysisError(f"unknown IRT model {model!r}", hint=f"choose one of {', '.join(MODELS)}")
    if isinstance(data, ResponseMatrix):
        matrix = data
    else:
        array = np.asarray(data, dtype=float)
        if array.ndim != 2:
            raise AnalysisError("a response matrix must be two-dimensional (persons × items)")
        matrix = ResponseMatrix(
            array, [f"p{i}" for i in range(array.shape[0])], [f"i{j}" for j in range(array.shape[1])],
            "binary" if model in BINARY_MODELS else "ordinal",
        )
    _check_kind(matrix.values, "binary" if model in BINARY_MODELS else "ordinal", matrix.source)
    values, keep_p, keep_i, ex_items, ex_persons = _screen(
        matrix.values, matrix.persons, matrix.items, min_responses
    )
    persons = [matrix.persons[k] for k in keep_p]
    items = [matrix.items[k] for k in keep_i]
    if len(items) < 2 or len(persons) < 2:
        raise AnalysisError(
            f"too little variation to fit an IRT model: {len(items)} usable item(s), {len(persons)} respondent(s) "
            f"({len(ex_items)} item(s) excluded, {len(ex_persons)} respondent(s) excluded)",
            hint="IRT needs items that some respondents get right and others wrong",
        )
    nodes = np.linspace(-theta_range, theta_range, n_quad)
    log_prior = stats.norm.logpdf(nodes)
    log_prior -= special.logsumexp(log_prior)
    if model == "grm":
        result = _fit_grm(values, nodes, log_prior, max_iter, tol, a_prior_sd, progress)
    else:
        result = _fit_binary(values, model, nodes, log_prior, max_iter, tol, a_prior_sd, c_prior, progress)
    answered = ~np.isnan(values)
    result.update(
        items=items, persons=persons, excluded_items=ex_items, excluded_persons=ex_persons,
        n_obs=int(answered.sum()), n_answers=answered.sum(axis=0),
        proportion=np.nanmean(values, axis=0),
    )
    rmsd = result.pop("_rmsd")
    fit = IrtFit(model=model, **result)
    fit.item_fit = _item_fit(fit, values, item_fit_groups, rmsd)
    if not fit.converged:
        fit.warnings.append(f"EM did not converge in {max_iter} iterations (tolerance {tol})")
    return fit


# --------------------------------------------------------------------------------------------------------------
# Item fit


def _item_fit(fit: IrtFit, x: np.ndarray, groups: int, rmsd: np.ndarray) -> pd.DataFrame:
    """RMSD between posterior-expected and model curves, and a Yen-Q1-style χ² over ability groups."""
    frame = pd.DataFrame({"item_id": fit.items, "rmsd": rmsd})
    if fit.model == "grm" or fit.n_persons < 2 * groups:
        return frame
    mask = ~np.isnan(x)
    cuts = np.quantile(fit.theta, np.linspace(0, 1, groups + 1)[1:-1])
    group = np.searchsorted(cuts, fit.theta, side="right")
    member = np.zeros((fit.n_persons, groups))
    member[np.arange(fit.n_persons), group] = 1.0
    expected_p = fit.icc(fit.theta).T  # persons × items
    maskf = mask.astype(float)
    n_g = member.T @ maskf
    obs = member.T @ np.where(mask, x, 0.0)
    exp = member.T @ (maskf * expected_p)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = exp / n_g
        o = obs / n_g
        terms = np.where(n_g > 0, n_g * (o - e) ** 2 / np.clip(e * (1 - e), 1e-9, None), 0.0)
    chi2 = terms.sum(0)
    n_free = {"rasch": 1, "1pl": 1, "2pl": 2, "3pl": 3}[fit.model]
    df = np.clip((n_g > 0).sum(0) - n_free, 1, None)
    frame["q1_chi2"] = chi2
    frame["q1_df"] = df
    frame["q1_p"] = stats.chi2.sf(chi2, df)
    return frame
