import numpy as np
import pytest
from scipy import stats

from recengine.stats import paired_test


def test_paired_test_matches_scipy_on_shared_users():
    rng = np.random.default_rng(0)
    a = rng.random(50)
    b = a - 0.05 + rng.normal(0, 0.02, 50)
    # b is listed in another order and has an extra user and a NaN
    users_b = np.concatenate([np.arange(50)[::-1], [99]])
    values_b = np.concatenate([b[::-1], [0.3]])
    values_b[0] = np.nan  # user 49 drops out
    result = paired_test(np.arange(50), a, users_b, values_b, metric="NDCG@10")
    keep = np.arange(49)
    assert result.n_pairs == 49 and result.metric == "NDCG@10"
    assert result.mean_difference == pytest.approx((a[keep] - b[keep]).mean())
    assert result.wilcoxon_p == pytest.approx(stats.wilcoxon(a[keep], b[keep]).pvalue)
    assert result.t_p == pytest.approx(stats.ttest_rel(a[keep], b[keep]).pvalue)
    assert result.wilcoxon_p < 1e-6 and result.t_p < 1e-6


def test_events_of_a_repeated_user_are_each_paired():
    """A user with several ranked events counts once per event: pairing on users (the
    old intersect1d on user indices) kept one event per user and threw the rest away."""
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(10), 4)  # 10 users, 4 events each
    items = np.arange(40)
    times = np.tile(np.arange(4.0), 10)
    keys = np.column_stack([users, items, times])
    a = rng.random(40)
    b = a - 0.1 + rng.normal(0, 0.01, 40)
    order = rng.permutation(40)  # b lists the same events in another order
    result = paired_test(keys, a, keys[order], b[order], metric="AUC")
    assert result.n_pairs == 40
    assert result.t_p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    # the same values keyed by user alone are refused, not silently merged
    with pytest.raises(ValueError, match="twice"):
        paired_test(users, a, users, b)


def test_only_the_events_both_sides_ranked_are_paired():
    keys_a = np.array([[0, 1, 5.0], [0, 2, 6.0], [1, 3, 7.0]])
    keys_b = np.array([[1, 3, 7.0], [0, 2, 6.0], [2, 9, 8.0]])  # (0, 1, 5) missing
    result = paired_test(keys_a, [0.1, 0.5, 0.9], keys_b, [0.7, 0.2, 0.4])
    assert result.n_pairs == 2
    assert result.mean_a == pytest.approx(0.7) and result.mean_b == pytest.approx(0.45)


def test_identical_models_are_not_different():
    values = np.array([0.1, 0.5, 0.9])
    result = paired_test([0, 1, 2], values, [0, 1, 2], values)
    assert result.mean_difference == 0 and result.wilcoxon_p == 1.0 and result.t_p == 1.0


def test_too_few_shared_users_is_an_error():
    with pytest.raises(ValueError, match="at least 2"):
        paired_test([0], [1.0], [0], [0.5])
