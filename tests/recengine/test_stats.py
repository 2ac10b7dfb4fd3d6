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
    assert result.n_users == 49 and result.metric == "NDCG@10"
    assert result.mean_difference == pytest.approx((a[keep] - b[keep]).mean())
    assert result.wilcoxon_p == pytest.approx(stats.wilcoxon(a[keep], b[keep]).pvalue)
    assert result.t_p == pytest.approx(stats.ttest_rel(a[keep], b[keep]).pvalue)
    assert result.wilcoxon_p < 1e-6 and result.t_p < 1e-6


def test_identical_models_are_not_different():
    values = np.array([0.1, 0.5, 0.9])
    result = paired_test([0, 1, 2], values, [0, 1, 2], values)
    assert result.mean_difference == 0 and result.wilcoxon_p == 1.0 and result.t_p == 1.0


def test_too_few_shared_users_is_an_error():
    with pytest.raises(ValueError, match="at least 2"):
        paired_test([0], [1.0], [0], [0.5])
