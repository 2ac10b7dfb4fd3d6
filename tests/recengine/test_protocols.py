import numpy as np
import pytest

from recengine import Interactions, create_model
from recengine.protocols import can_fold_in, evaluate_one_of_a_kind, evaluate_profile_cut
from recengine.splits import purchase_time_split


class Scores:
    """A profile model whose score for item i is the sum of table[j, i] over the profile's
    items j: fully predictable. It records every profile it was asked to score."""

    name = "fixed"

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float64)
        self.profiles = []

    def score_profiles(self, profiles):
        self.profiles.extend([sorted(int(i) for i in p) for p in profiles])
        return np.stack(
            [
                self.table[list(p)].sum(axis=0) if len(p) else np.zeros(self.table.shape[1])
                for p in profiles
            ]
        )


def _log(users, items, times, n_items=6, kinds=None):
    names = None if kinds is None else sorted(set(kinds))
    return Interactions(
        user_ids=["a", "b"],
        item_ids=[f"i{n}" for n in range(n_items)],
        users=users,
        items=items,
        timestamps=times,
        kinds=None if kinds is None else [names.index(k) for k in kinds],
        kind_names=names,
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
    assert cut.metrics["MRR"] == 1.0 and cut.metrics["HR@1"] == 1.0 and cut.metrics["AUC"] == 1.0
    whole = evaluate_profile_cut(Scores(table), train, test, ks=(1, 2), profile_limit=10)
    # with item 0 in the profile, item 3 (10) outranks item 5 (1): rank 2
    assert whole.metrics["MRR"] == 0.5 and whole.metrics["Recall@1"] == 0.0
    assert whole.metrics["Precision@2"] == 0.5
    assert whole.metrics["NDCG@2"] == pytest.approx(1 / np.log2(3))
    assert whole.keys().tolist() == [[0, 5, 4]]  # the row is the event (user, work, time)


def test_one_of_a_kind_ranks_only_what_is_in_stock():
    # time 1: a buys 0; time 2: b buys 1; time 3: a buys 2 (the event evaluated);
    # item 3 listed only at time 5; items 4, 5 listed at 0 and in stock.
    history = _log([0, 1, 0], [0, 1, 2], [1, 2, 3])
    events = history.select([2])
    listed = np.array([0, 0, 0, 5, 0, 0], dtype=float)
    table = np.zeros((6, 6))
    table[0] = [0, 9, 1, 9, 2, 0]  # a's profile {0} likes 1 (sold) and 3 (not listed) most
    result = evaluate_one_of_a_kind(Scores(table), events, history, listed_at=listed, ks=(1, 2))
    # in stock at time 3: 2, 4, 5 (0 is a's own, 1 sold at 2, 3 not listed): 4 (2) > 2 (1)
    assert result.n_users == 1 and result.diagnostics["mean_candidates"] == 3
    assert result.metrics["MRR"] == 0.5 and result.metrics["AUC"] == 0.5
    assert result.note.startswith("every earlier event")
    assert result.keys().tolist() == [[0, 2, 3]]


def test_a_like_is_not_a_sale_and_the_target_s_own_like_leaves_the_profile():
    """b likes 1 at time 2 (1 stays for sale); a liked 2 at 1 and buys it at 4. Under the
    old rule (a work's first event of any kind is its sale) work 1 left the stock at 2
    and a's like of 2 stayed in the profile that "predicts" 2."""
    kinds = ["like", "like", "purchase", "purchase"]
    history = _log([0, 1, 0, 0], [2, 1, 3, 2], [1, 2, 3, 4], kinds=kinds)
    events = history.select([3])  # a buys 2 at 4
    table = np.eye(6) * 5  # a work suggests itself most
    table[3, 1] = 1  # work 3 suggests 1 a little
    model = Scores(table)
    result = evaluate_one_of_a_kind(model, events, history, ks=(1,))
    assert model.profiles[-1:] == [[3]]  # a's purchase of 3; a's own like of 2 left out
    # candidates at 4: 0, 1 (only liked by b, still for sale), 2, 4, 5 (3 was sold at 3)
    assert result.diagnostics["mean_candidates"] == 5
    # work 1 (score 1) first, then 0 and the target tie at 0 (lower index first): rank 3
    assert result.metrics["MRR"] == pytest.approx(1 / 3)
    # profiles of purchases only: the like of 2 is not even looked at
    only = evaluate_one_of_a_kind(
        Scores(table), events, history, profile_kinds=("purchase",), ks=(1,)
    )
    assert only.n_users == 1 and only.note.startswith("earlier purchase")


def test_a_user_ranked_at_several_purchases_with_a_sale_in_between():
    """a buys 0 (1), then 2 (3) and 4 (5); b buys 5 at 4, between a's two ranked events:
    5 is a candidate at 3 and not at 5. Each event is its own row."""
    kinds = ["purchase"] * 4
    history = _log([0, 0, 1, 0], [0, 2, 5, 4], [1, 3, 4, 5], kinds=kinds)
    events = history.select([1, 3])
    table = np.zeros((6, 6))
    table[0, 5] = 3  # a's first work suggests 5 most
    result = evaluate_one_of_a_kind(Scores(table), events, history, ks=(1,))
    assert result.keys().tolist() == [[0, 2, 3], [0, 4, 5]]
    # at 3: candidates 1, 2, 3, 4, 5 -> 5 (3) first, 2 tied at 0 after 1: rank 3
    # at 5: profile {0, 2}; 5 sold at 4 -> 1, 3, 4 tie at 0: 4 comes third
    assert result.per_user["MRR"].tolist() == pytest.approx([1 / 3, 1 / 3])
    # AUC counts a tie as half: 5 above, 1, 3, 4 tied (1.5 / 4); then all three tied
    assert result.per_user["AUC"].tolist() == pytest.approx([0.375, 0.5])
    assert result.diagnostics["mean_candidates"] == 4  # 5 works at 3, 3 works at 5


def test_first_purchases_are_skipped_and_user_models_are_flagged():
    data = _log([0, 0, 1], [0, 1, 2], [1, 2, 3])
    model = create_model("bpr", epochs=1, factors=4).fit(data)
    assert not can_fold_in(model) and can_fold_in(create_model("popularity").fit(data))
    history = _log([0, 0, 1, 1, 0], [0, 1, 2, 3, 4], [1, 2, 3, 4, 5])
    result = evaluate_one_of_a_kind(model, history.select([3, 4]), history, ks=(1,))
    assert result.note == "user vector" and result.n_users == 2
    only_first = evaluate_one_of_a_kind(model, history.select([2]), history, ks=(1,))
    assert only_first.n_users == 0 and only_first.diagnostics["skipped_no_profile"] == 1


def test_popularity_counts_only_events_before_the_ranked_one():
    """Fitted on the split's train part, popularity knows nothing of the held-out window."""
    kinds = ["like", "purchase", "like", "purchase", "purchase", "like"]
    data = _log([0, 1, 1, 0, 0, 1], [3, 0, 4, 1, 2, 2], [1, 2, 3, 4, 6, 7], kinds=kinds)
    split = purchase_time_split(data, test_share=0.34, valid_share=0.0)
    assert split.test.items.tolist() == [2] and split.test.kind_of_rows().tolist() == ["purchase"]
    assert 2 not in split.train.items.tolist()  # b's like of 2 at 7 is after the purchase
    popularity = create_model("popularity").fit(split.train)
    assert popularity.score_profiles([[0]])[0, 2] == 0


def test_purchase_time_split_ranks_purchases_and_trains_on_everything_before():
    kinds = ["like", "purchase", "view", "like", "purchase", "purchase"]
    data = _log([0, 0, 1, 1, 1, 0], [1, 1, 2, 3, 3, 4], [1, 2, 3, 4, 5, 6], kinds=kinds)
    split = purchase_time_split(data, test_share=0.34, valid_share=0.34)
    assert split.test.items.tolist() == [4] and split.valid.items.tolist() == [3]
    # training: every event before the validation window, likes and views included
    assert split.train.items.tolist() == [1, 1, 2, 3]
    assert split.history is data
