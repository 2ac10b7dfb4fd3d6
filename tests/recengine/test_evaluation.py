import numpy as np
import pytest

from recengine import Interactions, evaluate


class FixedScores:
    """Stands in for a fitted model: returns hand-chosen scores."""

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float32)

    def score(self, users, items=None):
        return self.table[users]


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
        batch_size=1,
        callback=lambda fraction, message: calls.append(fraction),
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
    result = evaluate(model, train, test, ks=(1, 10))
    assert result.n_users == 1
    assert result.metrics["Recall@1"] == 0.0 and result.metrics["Recall@10"] == 1.0
    assert result.metrics["NDCG@10"] == pytest.approx(1 / np.log2(3))
    assert result.metrics["AUC"] == pytest.approx(2 / 3)  # beats .3 and .1, loses to .7
