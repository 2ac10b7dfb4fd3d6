"""GF-CF and BSPM against their formulas written out with dense matrices."""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp

from recengine import create_model, evaluate, load_model
from recengine.data import Interactions

from .toys import clustered


def _random_data(seed=0, n_users=30, n_items=25):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < 0.2
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = True  # nobody empty
    users, items = np.nonzero(dense)
    data = Interactions(
        user_ids=[str(u) for u in range(n_users)],
        item_ids=[str(i) for i in range(n_items)],
        users=users,
        items=items,
    )
    return data, dense.astype(np.float64)


def _dense_filters(dense: np.ndarray, k: int):
    """P~ and the ideal low-pass filter from their definitions, in float64."""
    user_degree, item_degree = dense.sum(1), dense.sum(0)
    du = np.where(user_degree > 0, user_degree, 1) ** -0.5 * (user_degree > 0)
    di = np.where(item_degree > 0, item_degree, 1) ** -0.5 * (item_degree > 0)
    normalised = du[:, None] * dense * di[None, :]
    linear = normalised.T @ normalised
    _, _, vt = np.linalg.svd(normalised)
    top = vt[:k]
    unscale = np.divide(1.0, di, out=np.zeros_like(di), where=di > 0)
    ideal = np.diag(di) @ top.T @ top @ np.diag(unscale)
    return linear, ideal


def test_gfcf_scores_are_the_papers_formula():
    data, dense = _random_data()
    model = create_model("gfcf", factors=6, ideal_weight=0.3).fit(data)
    linear, ideal = _dense_filters(dense, 6)
    expected = dense @ (linear + 0.3 * ideal)
    np.testing.assert_allclose(model.score(np.arange(30)), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("solver", ["euler", "rk4"])
@pytest.mark.parametrize("final_sharpening", [True, False])
def test_bspm_sharpening_solves_the_reverse_heat_equation(solver, final_sharpening):
    data, dense = _random_data(seed=1)
    time_, steps, beta = 1.5, 3, 0.2
    model = create_model(
        "bspm",
        factors=5,
        ideal_weight=beta,
        sharpen_time=time_,
        sharpen_steps=steps,
        solver=solver,
        final_sharpening=final_sharpening,
    ).fit(data)
    linear, ideal = _dense_filters(dense, 5)
    tau = time_ / steps
    if solver == "euler":
        one_step = np.eye(len(linear)) - tau * linear
    else:  # RK4 on a linear system is its exponential's fourth-order Taylor polynomial
        a = -tau * linear
        one_step = np.eye(len(linear)) + a + a @ a / 2 + a @ a @ a / 6 + a @ a @ a @ a / 24
    propagate = np.linalg.matrix_power(one_step, steps)
    blurred, low_pass = dense @ linear, beta * dense @ ideal
    if final_sharpening:
        expected = (blurred + low_pass) @ propagate
    else:
        expected = blurred @ propagate + low_pass
    np.testing.assert_allclose(model.score(np.arange(30)), expected, rtol=1e-4, atol=1e-5)
    # With many small steps the solution approaches the exact exponential.
    if solver == "rk4" and final_sharpening:
        exact = (blurred + low_pass) @ scipy.linalg.expm(-time_ * linear)
        np.testing.assert_allclose(model.score(np.arange(30)), exact, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("name", ["gfcf", "bspm"])
def test_saved_filters_score_identically_and_new_visitors_need_no_refit(name, tmp_path):
    data = clustered()
    model = create_model(name, factors=4).fit(data)
    loaded = load_model(model.save(tmp_path / name))
    users = np.arange(data.n_users)
    np.testing.assert_allclose(loaded.score(users), model.score(users), rtol=1e-6)
    seen = sp.csr_matrix(data.matrix())
    profiles = [seen.indices[seen.indptr[u] : seen.indptr[u + 1]] for u in users[:5]]
    np.testing.assert_allclose(model.score_profiles(profiles), model.score(users[:5]), rtol=1e-6)


def test_a_graph_filter_ranks_each_group_s_own_half_first():
    # Two groups of users, each on its own half of the catalogue: held-out items of the
    # user's half must rank far above chance.
    data = clustered(n_users=60, n_items=40, per_user=8, seed=3)
    rng = np.random.default_rng(0)
    test_rows = np.zeros(len(data), dtype=bool)
    for user in range(data.n_users):
        rows = np.flatnonzero(data.users == user)
        test_rows[rng.choice(rows, 2, replace=False)] = True
    train, test = data.select(~test_rows), data.select(test_rows)
    for name in ("gfcf", "bspm"):
        model = create_model(name, factors=4).fit(train)
        recall = evaluate(model, train, test, ks=(10,), metrics=("Recall",)).metrics["Recall@10"]
        assert recall > 0.6, (name, recall)  # chance is 10 of 32 unseen items: about 0.31


def test_bspm_refuses_an_unknown_solver():
    with pytest.raises(ValueError, match="solver"):
        create_model("bspm", solver="dopri5")
