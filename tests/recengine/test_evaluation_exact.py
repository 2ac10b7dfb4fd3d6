"""The fast full-ranking evaluation against a straightforward reference written here.

The grouped top-k, the one-pass reciprocal rank, the NaN check folded into the top-k
pass and the threaded row blocks must give exactly what sorting every row would: on
scores with ties (at the top-k cut and at the first hit), -inf excluded items, users
with few rankable items, and catalogues long enough (>= 2048 items) for the fast paths.
"""

import numpy as np
import pytest
import torch

from recengine import Interactions, evaluate
from recengine import topk as topk_module
from recengine.evaluation import FULL_DEFAULT
from recengine.sampling import Negatives

INF = np.inf


class FixedScores:
    """Stands in for a fitted model: returns a fixed table (a fresh copy, as score does)."""

    name = "fixed"

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float32)

    def score(self, users, items=None):
        if items is None:
            return self.table[users].copy()
        picked = np.take_along_axis(self.table[users], np.maximum(items, 0), axis=1)
        return np.where(items < 0, -INF, picked)


def _scores(rng, n_users, n_items):
    """Rows of five kinds: continuous; coarse (ties everywhere); rounded (ties among the
    best, rarely at the cut); a block of equal best scores (ties across the cut); mostly
    -inf (fewer rankable items than the cut)."""
    table = rng.normal(size=(n_users, n_items)).astype(np.float32)
    kind = np.arange(n_users) % 5
    table[kind == 1] = rng.integers(0, 6, size=((kind == 1).sum(), n_items))
    table[kind == 2] = np.round(table[kind == 2], 2)
    block = np.flatnonzero(kind == 3)[:, None]
    table[block, rng.integers(0, n_items, size=(len(block), 40))] = 9.0
    sparse = kind == 4
    table[sparse] = np.where(rng.random((sparse.sum(), n_items)) < 0.995, -INF, table[sparse])
    return table


def _data(rng, n_users, n_items, table):
    """Train and test parts; test items include some that are also in train (dropped) and
    some the model scores -inf (never a hit), and every user gets a few positives."""
    users, train_items, test_items = [], [], []
    for u in range(n_users):
        seen = rng.choice(n_items, size=rng.integers(1, 30), replace=False)
        finite = np.setdiff1d(np.flatnonzero(np.isfinite(table[u])), seen)
        held = rng.choice(finite, size=min(len(finite), rng.integers(1, 6)), replace=False)
        held = np.concatenate([held, seen[:1], rng.choice(n_items, size=1)])
        users.append(u)
        train_items.append(seen)
        test_items.append(held)
    common = {
        "user_ids": [f"u{u}" for u in range(n_users)],
        "item_ids": [f"i{i}" for i in range(n_items)],
    }

    def part(lists):
        return Interactions(
            **common,
            users=np.repeat(users, [len(x) for x in lists]),
            items=np.concatenate(lists),
        )

    return part(train_items), part(test_items)


def _reference(table, train, test, ks):
    """Per-user metrics by sorting every row, one user at a time."""
    seen, held = train.matrix().tolil().rows, test.matrix().tolil().rows
    popularity = np.bincount(train.matrix().indices, minlength=train.n_items)
    information = -np.log2((popularity + 1.0) / (train.n_users + 1.0))
    out = {f"{name}@{k}": [] for name in ("HR", "Recall", "Precision", "NDCG", "MAP") for k in ks}
    out.update({"MRR": [], **{f"Novelty@{k}": [] for k in ks}})
    lists, users = [], []
    for u in range(train.n_users):
        scores = table[u].astype(np.float64)
        scores[seen[u]] = -INF
        relevant = set(held[u]) - set(seen[u])
        if not relevant:
            continue
        users.append(u)
        order = np.argsort(-scores, kind="stable")  # ties: the lower index first
        rankable = np.isfinite(scores[order])
        hit = np.array([item in relevant for item in order]) & rankable
        listed = np.where(rankable[: max(ks)], order[: max(ks)], -1)
        lists.append(listed)
        for k in ks:
            top = hit[:k]
            n_hits = top.sum()
            ideal = sum(1 / np.log2(r + 2) for r in range(min(len(relevant), k)))
            out[f"HR@{k}"].append(float(top.any()))
            out[f"Recall@{k}"].append(n_hits / len(relevant))
            out[f"Precision@{k}"].append(n_hits / k)
            out[f"NDCG@{k}"].append(sum(1 / np.log2(r + 2) for r in np.flatnonzero(top)) / ideal)
            precision = np.cumsum(top) / np.arange(1, k + 1)
            out[f"MAP@{k}"].append((precision * top).sum() / min(len(relevant), k))
            shown = listed[:k][listed[:k] >= 0]
            out[f"Novelty@{k}"].append(information[shown].mean() if len(shown) else np.nan)
        first = np.flatnonzero(hit)
        out["MRR"].append(1.0 / (first[0] + 1) if len(first) else 0.0)
    lists = np.array(lists)
    coverage = {
        f"Coverage@{k}": len(np.unique(lists[:, :k][lists[:, :k] >= 0])) / train.n_items for k in ks
    }
    return np.array(users), {key: np.array(v) for key, v in out.items()}, coverage


@pytest.mark.parametrize(
    ("n_items", "ks", "batch_size"),
    [(3000, (5, 20), None), (4100, (1, 10, 50), 37), (300, (3, 20), None)],
)
def test_full_ranking_matches_sorting_every_row(n_items, ks, batch_size):
    rng = np.random.default_rng(n_items)
    n_users = 96
    table = _scores(rng, n_users, n_items)
    train, test = _data(rng, n_users, n_items, table)
    result = evaluate(FixedScores(table), train, test, ks=ks, batch_size=batch_size)
    users, expected, coverage = _reference(table, train, test, ks)
    np.testing.assert_array_equal(result.users, users)
    assert set(result.per_user) == set(expected)
    for key, values in expected.items():
        np.testing.assert_allclose(result.per_user[key], values, rtol=1e-12, err_msg=key)
    for key, value in coverage.items():
        assert result.metrics[key] == pytest.approx(value, rel=1e-12)
    assert {key.split("@")[0] for key in result.metrics} == set(FULL_DEFAULT)


def test_fast_top_k_takes_the_grouped_path_and_agrees_with_a_stable_sort():
    rng = np.random.default_rng(5)
    table = _scores(rng, 64, 5000)
    for k in (1, 7, 20, 100):
        assert topk_module._group_count(k, 5000) > 0  # the fast path is the one tested
        ranked, nan_rows = topk_module.top_k_checked(table, k)
        expected = np.argsort(-table, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(ranked, expected)
        assert not nan_rows.any()


def test_threads_and_batches_do_not_change_any_value():
    rng = np.random.default_rng(11)
    table = _scores(rng, 80, 2500)
    train, test = _data(rng, 80, 2500, table)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = evaluate(FixedScores(table), train, test, ks=(10,), batch_size=80)
        torch.set_num_threads(4)
        four = evaluate(FixedScores(table), train, test, ks=(10,), batch_size=64)
    finally:
        torch.set_num_threads(threads)
    assert one.metrics == four.metrics
    for key in one.per_user:
        np.testing.assert_array_equal(one.per_user[key], four.per_user[key])


@pytest.mark.parametrize("n_items", [3000, 40])
@pytest.mark.parametrize("where", ["unseen", "seen"])
def test_nan_scores_raise_naming_the_first_such_user(n_items, where):
    rng = np.random.default_rng(3)
    table = rng.normal(size=(50, n_items)).astype(np.float32)
    train, test = _data(rng, 50, n_items, table)
    seen = train.matrix().tolil().rows
    for user in (31, 17):  # two bad users: the error names the earlier one
        candidates = seen[user] if where == "seen" else np.setdiff1d(range(n_items), seen[user])
        table[user, candidates[0]] = np.nan
    # one batch of 50 users split into row blocks: u17 and u31 fall in different blocks
    with pytest.raises(ValueError, match=r"fixed produced NaN scores for user 'u17'"):
        evaluate(FixedScores(table), train, test, ks=(10,))


def test_sampled_protocol_nan_names_the_user():
    rng = np.random.default_rng(4)
    table = rng.normal(size=(12, 30)).astype(np.float32)
    train, test = _data(rng, 12, 30, table)
    negatives = Negatives.from_pairs(np.repeat(np.arange(12), 5), rng.integers(0, 30, 60))
    table[7] = np.nan  # every candidate of u7
    with pytest.raises(ValueError, match=r"NaN scores for user 'u7'"):
        evaluate(FixedScores(table), train, test, ks=(3,), negatives=negatives)
