import numpy as np
import pytest

from recengine import Interactions, create_model
from recengine.protocols import can_fold_in, evaluate_one_of_a_kind, evaluate_profile_cut


class Scores:
    """A profile model whose score for item i is the number of profile items i's
    features equal, plus a small index tie-break: fully predictable."""

    name = "fixed"

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float64)
        self.profiles = []

    def score_profiles(self, profiles):
        self.profiles.extend([list(p) for p in profiles])
        return np.stack(
            [
                self.table[list(p)].sum(axis=0) if len(p) else np.zeros(self.table.shape[1])
                for p in profiles
            ]
        )


def _log(users, items, times, n_items=6):
    return Interactions(
        user_ids=["a", "b"],
        item_ids=[f"i{n}" for n in range(n_items)],
        users=users,
        items=items,
        timestamps=times,
    )


def test_profile_cut_uses_the_last_training_items_only():
    # user a bought 0, 1, 2 (in that order) then 5 in test
    train = _log([0, 0, 0], [0, 1, 2], [1, 2, 3])
    test = _log([0], [5], [4])
    table = np.zeros((6, 6))
    table[0, 3] = 10  # item 0 strongly suggests item 3
    table[2, 5] = 1  # item 2 mildly suggests item 5
    model = Scores(table)
    cut = evaluate_profile_cut(model, train, test, ks=(1, 2), profile_limit=2)
    assert model.profiles[-1] == [1, 2] and cut.note == "last 2 training items"
    # profile {1, 2}: item 5 scores 1, items 3 and 4 score 0 -> rank 1
    assert cut.metrics["RR"] == 1.0 and cut.metrics["R@1"] == 1.0 and cut.metrics["AUC"] == 1.0
    whole = evaluate_profile_cut(Scores(table), train, test, ks=(1, 2), profile_limit=10)
    # with item 0 in the profile, item 3 (10) outranks item 5 (1): rank 2
    assert whole.metrics["RR"] == 0.5 and whole.metrics["R@1"] == 0.0
    assert whole.metrics["P@2"] == 0.5 and whole.metrics["nDCG@2"] == pytest.approx(1 / np.log2(3))


def test_one_of_a_kind_ranks_only_what_is_in_stock():
    # time 1: a buys 0; time 2: b buys 1; time 3: a buys 2 (the event evaluated);
    # item 3 listed only at time 5; items 4, 5 listed at 0 and in stock.
    train = _log([0, 1], [0, 1], [1, 2])
    events = _log([0], [2], [3])
    listed = np.array([0, 0, 0, 5, 0, 0], dtype=float)
    table = np.zeros((6, 6))
    table[0] = [0, 9, 1, 9, 2, 0]  # a's profile {0} likes 1 (sold) and 3 (not listed) most
    result = evaluate_one_of_a_kind(Scores(table), train, events, listed_at=listed, ks=(1, 2))
    # in stock at time 3: 2, 4, 5 (0 is a's own, 1 sold at 2, 3 not listed): 4 (2) > 2 (1)
    assert result.n_users == 1 and result.metrics["in_stock"] == 3
    assert result.metrics["RR"] == 0.5 and result.metrics["AUC"] == 0.5
    assert result.note == "all earlier purchases"


def test_first_purchases_are_skipped_and_user_models_are_flagged():
    data = _log([0, 0, 1], [0, 1, 2], [1, 2, 3])
    model = create_model("bpr", epochs=1, factors=4).fit(data)
    assert not can_fold_in(model) and can_fold_in(create_model("popularity").fit(data))
    events = _log([1, 0], [3, 4], [4, 5])
    result = evaluate_one_of_a_kind(model, data, events, ks=(1,))
    assert result.note == "user vector" and result.n_users == 2
    # b's first purchase (at 3) is history; their event at 4 has that profile
    only_first = evaluate_one_of_a_kind(model, _log([0], [0], [1]), _log([1], [2], [2]), ks=(1,))
    assert only_first.n_users == 0
