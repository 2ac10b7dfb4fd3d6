import numpy as np
import pytest

from recengine import Interactions, evaluate


class FixedScores:
    """Stands in for a fitted model: returns hand-chosen scores."""

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float32)

    def score(self, users, items=None):
        if items is None:
            return self.table[users]
        picked = np.take_along_axis(self.table[users], np.maximum(items, 0), axis=1)
        return np.where(items < 0, -np.inf, picked)


def _part(users, items):
    return Interactions(
        user_ids=["u0", "u1"], item_ids=[f"i{n}" for n in range(5)], users=users, items=items
    )


def test_evaluate_hand_computed():
    train = _part([0, 1], [0, 1])
    valid = _part([0], [4])
    test = _part([0, 0, 1], [2, 3, 4])
    model = FixedScores([[0.9, 0.1, 0.5, 0.7, 0.3], [0.2, 0.8, 0.6, 0.4, 0.5]])
    # u0: items 0 (train) and 4 (valid) excluded; ranking 3 (.7), 2 (.5), 1 (.1); relevant {2, 3}
    #   Recall@1 = 1/2, NDCG@1 = 1 (ideal over min(2, 1) = 1), Recall@2 = 1, NDCG@2 = 1,
    #   AUC: .7 and .5 both beat .1 -> 1
    # u1: item 1 excluded; ranking 2 (.6), 4 (.5), 3 (.4), 0 (.2); relevant {4}
    #   Recall@1 = 0, NDCG@1 = 0, Recall@2 = 1, NDCG@2 = 1/log2(3) = 0.6309298,
    #   AUC: .5 vs .6, .4, .2 -> 2/3
    calls = []
    result = evaluate(
        model,
        train,
        test,
        ks=(1, 2),
        exclude=[valid],
        metrics=("AUC", "Recall", "NDCG", "HR"),
        batch_size=1,
        callback=lambda fraction, message, **details: calls.append(fraction),
    )
    expected = {
        "AUC": (1 + 2 / 3) / 2,
        "Recall@1": 0.25,
        "NDCG@1": 0.5,
        "HR@1": 0.5,
        "Recall@2": 1.0,
        "NDCG@2": (1 + 0.6309298) / 2,
        "HR@2": 1.0,
    }
    assert set(result.metrics) == set(expected)
    for key, value in expected.items():
        assert result.metrics[key] == pytest.approx(value, rel=1e-6), key
    assert result.n_users == 2 and result.users.tolist() == [0, 1]
    np.testing.assert_allclose(result.per_user["AUC"], [1.0, 2 / 3])
    assert calls == [0.5, 1.0]


def test_evaluate_without_exclude_counts_valid_item_as_negative():
    train = _part([0, 1], [0, 1])
    test = _part([0], [2])
    model = FixedScores([[0.9, 0.1, 0.5, 0.7, 0.3], [0.0] * 5])
    # u0 only (u1 has no test row); candidates 1..4, ranking 3 (.7), 2 (.5), 4, 1
    result = evaluate(model, train, test, ks=(1, 10), metrics=("AUC", "Recall", "NDCG"))
    assert result.n_users == 1
    assert result.metrics["Recall@1"] == 0.0 and result.metrics["Recall@10"] == 1.0
    assert result.metrics["NDCG@10"] == pytest.approx(1 / np.log2(3))
    assert result.metrics["AUC"] == pytest.approx(2 / 3)  # beats .3 and .1, loses to .7


def test_sampled_protocol_hand_computed():
    from recengine.sampling import Negatives

    train = _part([0, 1], [0, 1])
    test = _part([0, 1], [2, 4])
    model = FixedScores([[0.9, 0.1, 0.5, 0.7, 0.3], [0.2, 0.8, 0.6, 0.4, 0.5]])
    # u0: positive 2 (.5) vs negatives 0 (.9, a training item: kept as given) and 1 (.1)
    #   -> rank 2: HR@1 0, HR@2 1, NDCG@2 1/log2(3), MRR 1/2, AUC 1/2
    # u1: positive 4 (.5) vs negatives 3 (.4) and 0 (.2) -> rank 1, AUC 1
    negatives = Negatives(users=[0, 1], items=[[0, 1], [3, 0]])
    result = evaluate(model, train, test, ks=(1, 2), negatives=negatives)
    assert result.protocol == "sampled" and result.n_users == 2
    assert result.metrics["HR@1"] == pytest.approx(0.5)
    assert result.metrics["HR@2"] == pytest.approx(1.0)
    assert result.metrics["NDCG@2"] == pytest.approx((1 / np.log2(3) + 1) / 2)
    assert result.metrics["MRR"] == pytest.approx((0.5 + 1) / 2)
    assert result.metrics["AUC"] == pytest.approx((0.5 + 1) / 2)
    np.testing.assert_allclose(result.per_user["MRR"], [0.5, 1.0])
    # coverage counts the catalogue items that reached a top-1 list: 0 (u0) and 4 (u1)
    assert result.metrics["Coverage@1"] == pytest.approx(2 / 5)


def test_sampled_protocol_needs_negatives_for_every_test_user():
    from recengine.sampling import Negatives

    train = _part([0, 1], [0, 1])
    test = _part([0, 1], [2, 4])
    model = FixedScores(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="1 test users have no negatives.*'u1'"):
        evaluate(model, train, test, negatives=Negatives(users=[0], items=[[3]]))


def test_full_ranking_metric_set_and_all_keys():
    train = _part([0, 1], [0, 1])
    test = _part([0, 0, 1], [2, 3, 4])
    model = FixedScores([[0.9, 0.1, 0.5, 0.7, 0.3], [0.2, 0.8, 0.6, 0.4, 0.5]])
    result = evaluate(model, train, test, ks=(2,))
    assert list(result.metrics) == [
        "HR@2",
        "Recall@2",
        "Precision@2",
        "NDCG@2",
        "MRR",
        "MAP@2",
        "Coverage@2",
        "Novelty@2",
    ]
    # u0 ranks 3 (.7), 2 (.5) first: both relevant; u1 ranks 2, 4: hit at 2
    assert result.metrics["Precision@2"] == pytest.approx((1.0 + 0.5) / 2)
    assert result.metrics["MAP@2"] == pytest.approx((1.0 + 0.5 / 1) / 2)
    assert result.metrics["MRR"] == pytest.approx((1.0 + 0.5) / 2)
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate(model, train, test, metrics=("Bogus",))


def test_fold_in_users_are_scored_from_their_profile():
    class ProfileScores(FixedScores):
        def score_profiles(self, profiles):
            return np.stack(
                [
                    np.bincount(p, minlength=5).astype(np.float32) + 0.01 * np.arange(5)
                    for p in profiles
                ]
            )

    train = _part([1], [1])
    fold_in = _part([0], [3])
    test = _part([0], [4])
    model = ProfileScores(np.zeros((2, 5)))
    # u0's profile {3} is excluded; remaining scores rise with the index: 4 ranks first
    result = evaluate(model, train, test, ks=(1,), fold_in=fold_in, metrics=("HR",))
    assert result.metrics["HR@1"] == 1.0


def test_sampled_ties_do_not_favour_the_held_out_item():
    """A model that scores everything 0 must not get a hit just because the positive
    comes first in the candidate list: ties go to the lower item index, as in full
    ranking, so a positive with a high index loses them."""
    from recengine.sampling import Negatives

    train = _part([0], [0])
    test = _part([0, 1], [4, 1])
    flat = FixedScores(np.zeros((2, 5)))
    negatives = Negatives(users=[0, 1], items=[[1, 2], [3, 4]])
    result = evaluate(flat, train, test, ks=(1,), negatives=negatives, metrics=("HR", "MRR", "AUC"))
    # u0: positive 4 ties with 1 and 2 -> ranked last; u1: positive 1 ties with 3, 4 -> first
    np.testing.assert_allclose(result.per_user["HR@1"], [0.0, 1.0])
    np.testing.assert_allclose(result.per_user["MRR"], [1 / 3, 1.0])
    np.testing.assert_allclose(result.per_user["AUC"], [0.5, 0.5])  # ties count half
