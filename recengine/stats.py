"""Paired significance tests between two models evaluated on the same users."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass
class PairedTest:
    """Model a against model b on one metric, over the users both were evaluated on."""

    metric: str
    n_users: int
    mean_a: float
    mean_b: float
    mean_difference: float  # a - b
    wilcoxon_statistic: float
    wilcoxon_p: float
    t_statistic: float
    t_p: float

    def as_dict(self) -> dict:
        return asdict(self)


def paired_test(
    users_a: np.ndarray,
    values_a: np.ndarray,
    users_b: np.ndarray,
    values_b: np.ndarray,
    metric: str = "",
) -> PairedTest:
    """Wilcoxon signed-rank and paired t-test of per-user values (two-sided).

    Users are matched by index; users missing from either side or with a NaN value are
    left out. With no non-zero difference the Wilcoxon p-value is 1 (nothing to rank).
    """
    users_a, users_b = np.asarray(users_a), np.asarray(users_b)
    common, in_a, in_b = np.intersect1d(users_a, users_b, return_indices=True)
    a = np.asarray(values_a, dtype=np.float64)[in_a]
    b = np.asarray(values_b, dtype=np.float64)[in_b]
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < 2:
        raise ValueError(f"a paired test needs at least 2 shared users, got {len(a)}")
    difference = a - b
    if np.any(difference != 0):
        wilcoxon = stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")
        w_stat, w_p = float(wilcoxon.statistic), float(wilcoxon.pvalue)
    else:
        w_stat, w_p = 0.0, 1.0
    if np.std(difference) > 0:
        t = stats.ttest_rel(a, b)
        t_stat, t_p = float(t.statistic), float(t.pvalue)
    else:
        t_stat, t_p = 0.0, 1.0 if np.all(difference == 0) else 0.0
    return PairedTest(
        metric=metric,
        n_users=int(len(a)),
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        mean_difference=float(difference.mean()),
        wilcoxon_statistic=w_stat,
        wilcoxon_p=w_p,
        t_statistic=t_stat,
        t_p=t_p,
    )
