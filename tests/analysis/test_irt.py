"""IRT estimation: parameter recovery on simulated data, agreement with girth, bad input, matrix readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from proceval.analysis.irt import ResponseMatrix, fit_irt, load_matrices, read_matrix_csv
from proceval.errors import AnalysisError
from tests.conftest import choice_item, write_dataset


def simulate_binary(n_items: int, n_persons: int, *, seed: int, missing: float = 0.0, guessing: bool = False,
                    equal_slopes: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = np.ones(n_items) if equal_slopes else rng.lognormal(0.0, 0.3, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    c = rng.uniform(0.1, 0.3, n_items) if guessing else np.zeros(n_items)
    theta = rng.normal(0.0, 1.0, n_persons)
    p = c + (1 - c) / (1 + np.exp(-a * (theta[:, None] - b)))
    x = (rng.random(p.shape) < p).astype(float)
    if missing:
        x[rng.random(x.shape) < missing] = np.nan
    return {"x": x, "a": a, "b": b, "c": c, "theta": theta}


def simulate_ratings(n_items: int, n_persons: int, n_points: int, *, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.3, n_items)
    thresholds = np.sort(rng.normal(0.0, 1.0, (n_items, n_points - 1)), axis=1)
    theta = rng.normal(0.0, 1.0, n_persons)
    star = 1 / (1 + np.exp(-a[None, :, None] * (theta[:, None, None] - thresholds[None])))
    x = (rng.random((n_persons, n_items, 1)) < star).sum(axis=2).astype(float) + 1  # scale points 1..K
    return {"x": x, "a": a, "thresholds": thresholds, "theta": theta}


def corr(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1])


@pytest.mark.parametrize(("n_items", "n_persons", "missing", "min_r", "min_r_a"), [
    (50, 1000, 0.0, 0.99, 0.9),   # the acceptance size
    (50, 1000, 0.3, 0.98, 0.85),  # 30% of answers missing at random
    (20, 300, 0.1, 0.95, 0.6),    # a small study: slopes are noisy at this size
])
def test_2pl_recovers_known_parameters(n_items: int, n_persons: int, missing: float, min_r: float,
                                       min_r_a: float) -> None:
    sim = simulate_binary(n_items, n_persons, seed=n_items + n_persons, missing=missing)
    fit = fit_irt(sim["x"], "2pl")
    assert fit.converged
    assert corr(fit.b, sim["b"]) >= min_r
    assert corr(fit.a, sim["a"]) >= min_r_a
    assert corr(fit.theta, sim["theta"]) >= 0.85
    # standard errors are calibrated: standardised errors have a spread near one
    z = (fit.b - sim["b"]) / fit.se_b
    assert 0.6 < np.std(z) < 1.5
    assert np.all(fit.theta_se > 0) and np.all(fit.theta_se < 1)


def test_rasch_and_1pl_recover_difficulty_and_the_common_slope() -> None:
    sim = simulate_binary(30, 1500, seed=3, equal_slopes=True)
    rasch = fit_irt(sim["x"], "rasch")
    onepl = fit_irt(sim["x"], "1pl")
    assert corr(rasch.b, sim["b"]) > 0.99
    assert corr(onepl.b, sim["b"]) > 0.99
    assert np.allclose(rasch.a, 1.0)
    assert np.ptp(onepl.a) == 0 and abs(onepl.a[0] - 1.0) < 0.1  # one shared discrimination
    assert rasch.n_params == 30 and onepl.n_params == 31
    # nested models: the 2PL fits at least as well but pays for 29 more parameters in BIC
    twopl = fit_irt(sim["x"], "2pl")
    assert twopl.loglik >= onepl.loglik - 1e-6
    assert twopl.bic > onepl.bic


def test_3pl_recovers_difficulty_and_guessing_floor() -> None:
    sim = simulate_binary(25, 3000, seed=5, guessing=True)
    fit = fit_irt(sim["x"], "3pl", tol=1e-3)
    assert corr(fit.b, sim["b"]) > 0.95
    assert abs(np.mean(fit.c) - np.mean(sim["c"])) < 0.06
    assert np.all((fit.c > 0) & (fit.c < 0.9))
    assert np.all(fit.se_c > 0)


def test_agrees_with_girth_2pl_mml_on_the_same_data() -> None:
    girth = pytest.importorskip("girth")
    sim = simulate_binary(20, 500, seed=11)
    theirs = girth.twopl_mml(sim["x"].T.astype(int))  # girth wants items × persons
    ours = fit_irt(sim["x"], "2pl", a_prior_sd=None)
    assert np.max(np.abs(ours.b - theirs["Difficulty"])) < 0.03
    assert np.max(np.abs(ours.a - theirs["Discrimination"])) < 0.03
    assert corr(ours.b, theirs["Difficulty"]) > 0.999


def test_graded_response_model_recovers_thresholds_with_missing_ratings() -> None:
    sim = simulate_ratings(8, 1200, 5, seed=7)
    x = sim["x"].copy()
    x[np.random.default_rng(0).random(x.shape) < 0.1] = np.nan
    fit = fit_irt(x, "grm")
    assert len(fit.items) == 8
    full = [j for j in range(8) if len(fit.categories[j]) == 5]  # items where every scale point was used
    assert len(full) >= 6
    estimated = np.concatenate([fit.thresholds[j] for j in full])
    assert corr(estimated, sim["thresholds"][full].ravel()) > 0.98
    assert corr(fit.a, sim["a"]) > 0.8
    assert corr(fit.theta, sim["theta"]) > 0.7  # 8 items: reliability near 0.65
    assert all(np.all(np.diff(t) > 0) for t in fit.thresholds)  # ordered by construction
    assert all(np.all(se > 0) for se in fit.threshold_se)
    assert fit.categories[full[0]] == [1.0, 2.0, 3.0, 4.0, 5.0]
    info = fit.item_information(np.linspace(-3, 3, 7))
    assert info.shape == (8, 7) and np.all(info > 0)


def test_grm_on_published_offtherails_permissibility_ratings() -> None:
    """Real ratings (1–5) by 115 people; items are the 8 design cells (each person's first rating in each)."""
    import pandas as pd

    from tests.conftest import DATA

    path = DATA / "offtherails" / "human_exp2_ratings.csv"
    table = pd.read_csv(path)
    table["item"] = (table["causal_structure"].astype(str) + table["evitability"].astype(str)
                     + table["action"].astype(str))
    wide = table.pivot_table(index="worker_id", columns="item", values="permissibility_rating", aggfunc="first")
    matrix = ResponseMatrix(wide.to_numpy(float), [str(p) for p in wide.index], list(wide.columns), "ordinal")
    fit = fit_irt(matrix, "grm")
    assert fit.n_persons > 100
    assert np.all(np.isfinite(fit.a)) and np.all(np.isfinite(np.concatenate(fit.thresholds)))
    # every item is either estimated or excluded with a reason
    assert len(fit.items) + len(fit.excluded_items) == matrix.n_items
    # persons who rate everything as permissible get higher θ (the trait is "permissibility")
    means = np.nanmean(matrix.values, axis=1)
    keep = [matrix.persons.index(p) for p in fit.persons]
    assert corr(fit.theta, means[keep]) > 0.8


def test_item_everyone_got_right_is_excluded_and_reported_not_nan() -> None:
    sim = simulate_binary(10, 400, seed=1)
    x = sim["x"]
    x[:, 3] = 1.0
    x[:, 7] = 0.0
    matrix = ResponseMatrix(x, [f"p{i}" for i in range(400)], [f"q{j}" for j in range(10)])
    fit = fit_irt(matrix, "2pl")
    assert "q3" not in fit.items and "q7" not in fit.items
    assert fit.excluded_items == {"q3": "everyone answered correctly", "q7": "everyone answered incorrectly"}
    assert np.all(np.isfinite(fit.b)) and np.all(np.isfinite(fit.se_b))
    assert fit.summary()["excluded_items"]["q3"] == "everyone answered correctly"


def test_respondent_with_no_answers_is_excluded_and_reported() -> None:
    sim = simulate_binary(10, 300, seed=2)
    x = sim["x"]
    x[5, :] = np.nan
    matrix = ResponseMatrix(x, [f"p{i}" for i in range(300)], [f"q{j}" for j in range(10)])
    fit = fit_irt(matrix, "2pl")
    assert "p5" not in fit.persons
    assert fit.excluded_persons == {"p5": "no answers"}
    assert len(fit.theta) == 299 and np.all(np.isfinite(fit.theta))


def test_non_binary_values_in_a_binary_model_are_an_error() -> None:
    x = np.array([[0, 1, 2], [1, 0, 1], [0, 0, 1]], dtype=float)
    with pytest.raises(AnalysisError, match="non-binary value 2"):
        fit_irt(x, "2pl")
    with pytest.raises(AnalysisError, match="unknown IRT model"):
        fit_irt(x, "4pl")


def test_nothing_estimable_is_an_error_that_says_why() -> None:
    with pytest.raises(AnalysisError, match="too little variation"):
        fit_irt(np.ones((20, 5)), "2pl")


def test_information_curves_match_the_2pl_formula() -> None:
    sim = simulate_binary(15, 800, seed=4)
    fit = fit_irt(sim["x"], "2pl")
    grid = np.linspace(-3, 3, 61)
    info = fit.item_information(grid)
    assert np.allclose(fit.test_information(grid), info.sum(axis=0))
    at_b = fit.item_information(fit.b[0], items=[fit.items[0]])[0, 0]
    assert at_b == pytest.approx(fit.a[0] ** 2 / 4, rel=1e-9)  # a² p(1 − p) with p = ½ at θ = b
    curve = fit.icc(grid)
    assert np.all(np.diff(curve, axis=1) * np.sign(fit.a)[:, None] >= 0)


def test_item_fit_flags_an_item_that_does_not_follow_the_model() -> None:
    sim = simulate_binary(20, 2000, seed=9)
    x = sim["x"]
    # item 0 answered correctly by the middle of the ability range only (non-monotone: violates the 2PL)
    x[:, 0] = (np.abs(sim["theta"]) < 0.7).astype(float)
    fit = fit_irt(x, "2pl")
    frame = fit.items_frame().set_index("item_id")
    assert frame.loc["i0", "q1_p"] < 1e-6
    assert frame.loc["i0", "rmsd"] > frame.drop("i0")["rmsd"].max()
    assert fit.summary()["items_misfitting_q1_p_lt_0.01"] >= 1


def test_fits_are_deterministic() -> None:
    sim = simulate_binary(12, 300, seed=8, missing=0.2)
    one, two = fit_irt(sim["x"], "2pl"), fit_irt(sim["x"], "2pl")
    assert np.array_equal(one.b, two.b) and np.array_equal(one.theta, two.theta)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 6)),
                  elements=st.sampled_from([0.0, 1.0, np.nan])))
def test_matrix_csv_round_trip(tmp_path_factory: pytest.TempPathFactory, values: np.ndarray) -> None:
    path = tmp_path_factory.mktemp("csv") / "m.csv"
    items = [f"item {j}" for j in range(values.shape[1])]
    lines = ["person," + ",".join(items)]
    for i, row in enumerate(values):
        lines.append(f"p{i}," + ",".join("" if np.isnan(v) else f"{v:g}" for v in row))
    path.write_text("\n".join(lines) + "\n")
    matrix = read_matrix_csv(path)
    assert matrix.items == items and matrix.persons == [f"p{i}" for i in range(values.shape[0])]
    assert np.array_equal(np.isnan(matrix.values), np.isnan(values))
    assert np.array_equal(np.nan_to_num(matrix.values, nan=-1), np.nan_to_num(values, nan=-1))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_rasch_ability_increases_with_the_number_correct(seed: int) -> None:
    sim = simulate_binary(8, 60, seed=seed, equal_slopes=True)
    try:
        fit = fit_irt(sim["x"], "rasch")
    except AnalysisError:
        return  # a degenerate draw (too little variation) is refused, which is what it should do
    matrix = sim["x"][[int(p[1:]) for p in fit.persons]][:, [int(i[1:]) for i in fit.items]]
    scores = matrix.sum(axis=1)
    order = np.argsort(scores, kind="stable")
    assert np.all(np.diff(fit.theta[order]) >= -1e-9)  # complete data: the sum score is sufficient


def test_bad_matrix_csv_cells_name_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("person,q1,q2\na,1,0\nb,1,yes\n")
    with pytest.raises(AnalysisError) as info:
        read_matrix_csv(path)
    assert "m.csv:3" in str(info.value) and "q2" in str(info.value)
    path.write_text("person,q1,q2\na,1,0\nb,1,2\n")
    assert read_matrix_csv(path).kind == "ordinal"
    with pytest.raises(AnalysisError) as info:
        read_matrix_csv(path, kind="binary")
    assert "m.csv:3" in str(info.value) and "q2" in str(info.value)


def _write_run(root: Path, dataset_path: Path, content_hash: str, rows: list[dict]) -> Path:
    root.mkdir(parents=True)
    (root / "run.json").write_text(json.dumps({"dataset": {"path": str(dataset_path),
                                                           "content_hash": content_hash}}))
    with (root / "responses.jsonl").open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return root


def test_matrices_from_a_persona_run_and_a_human_table(tmp_path: Path) -> None:
    items = [choice_item(s, {"level": "x"}, answer="a") for s in range(4)]
    dataset = write_dataset(tmp_path / "data", items)
    rows = []
    for persona in ("p1", "p2", "p3"):
        for k, item in enumerate(items):
            status = "error" if (persona, k) == ("p3", 0) else "ok"
            correct = None if status == "error" else (k + int(persona[1])) % 2 == 0
            rows.append({"item_id": item.id, "subject": f"local/m#persona={persona}", "subject_kind": "persona",
                         "choice": "a" if correct else "b", "correct": correct, "status": status})
    run = _write_run(tmp_path / "run", dataset.path, dataset.content_hash, rows)
    humans = tmp_path / "humans.csv"
    humans.write_text("participant,item_id,response\n" + "".join(
        f"h{h},{item.id},{'a' if (h + k) % 3 else 'b'}\n" for h in range(3) for k, item in enumerate(items)
    ) + f"h9,{items[0].id},zzz\n")
    matrices = load_matrices([run, humans])
    sim, hum = matrices["run"], matrices["humans"]
    assert sim.persons == ["p1", "p2", "p3"] and sim.items == [i.id for i in items]
    assert np.isnan(sim.values[2, 0]) and sim.values[0, 1] == 1.0
    assert {"reason": "status error", "count": 1} in sim.skipped
    assert hum.values[0, 0] == 0.0 and hum.values[1, 0] == 1.0
    assert {"reason": "status invalid", "count": 1} in hum.skipped  # the unparseable human answer is counted


def test_python_example_in_docs_runs() -> None:
    import re

    from tests.conftest import REPO

    text = (REPO / "docs" / "irt.md").read_text(encoding="utf-8")
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if b.startswith("# docs-example: irt")]
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/irt.md", "exec"), namespace)
    fit = namespace["fit"]
    assert fit.excluded_items == {"q0": "everyone answered correctly"}  # type: ignore[attr-defined]
    assert np.corrcoef(fit.b, np.linspace(-2, 2, 20)[1:])[0, 1] > 0.9  # type: ignore[attr-defined]


def test_matrix_csv_example_in_docs_reads(tmp_path: Path) -> None:
    import re

    from tests.conftest import REPO

    text = (REPO / "docs" / "irt.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```csv\n(.*?)```", text, flags=re.S)
    path = tmp_path / "m.csv"
    path.write_text(block)
    matrix = read_matrix_csv(path)
    assert matrix.persons == ["ana", "ben"] and matrix.items == ["q1", "q2", "q3"] and matrix.n_missing == 1
