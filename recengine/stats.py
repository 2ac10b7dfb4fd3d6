"""Paired significance tests between two models evaluated on the same events.

A result's unit is an event (user, work, time) where a protocol ranks each event (the
one-of-a-kind protocol, leave-last-out) and a user where it ranks a user's held-out set
(full ranking of several items): either way the keys say which, and the two sides are
joined on them. A key that appears twice on one side is an error, never silently merged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass
class PairedTest:
    """Model a against model b on one metric, over the events both were evaluated on."""

    metric: str
    n_pairs: int
    mean_a: float
    mean_b: float
    mean_difference: float  # a - b
    wilcoxon_statistic: float
    wilcoxon_p: float
    t_statistic: float
    t_p: float

    def as_dict(self) -> dict:
        return asdict(self)


def _key_rows(keys, n: int, side: str) -> list[tuple]:
    """One hashable key per value: keys is (n,) (user ids) or (n, m) (user, item, time)."""
    array = np.asarray(keys)
    if len(array) != n:
        raise ValueError(f"side {side} has {len(array)} keys for {n} values")
    rows = [tuple(row) for row in array.reshape(n, -1).tolist()]
    if len(set(rows)) != len(rows):
        seen: set = set()
        twice = next(r for r in rows if r in seen or seen.add(r))
        raise ValueError(
            f"side {side} has the key {twice} twice: pair by event (user, work, time), not by user"
        )
    return rows


def match(keys_a, keys_b, n_a: int, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions in a, positions in b) of the keys both sides have, in a's order."""
    rows_a, rows_b = _key_rows(keys_a, n_a, "a"), _key_rows(keys_b, n_b, "b")
    position_b = {key: n for n, key in enumerate(rows_b)}
    in_a = [n for n, key in enumerate(rows_a) if key in position_b]
    in_b = [position_b[rows_a[n]] for n in in_a]
    return np.asarray(in_a, dtype=np.int64), np.asarray(in_b, dtype=np.int64)


def paired_test(
    keys_a: np.ndarray,
    values_a: np.ndarray,
    keys_b: np.ndarray,
    values_b: np.ndarray,
    metric: str = "",
) -> PairedTest:
    """Wilcoxon signed-rank and paired t-test of matched values (two-sided).

    keys: (n,) or (n, m) identities of the values (``EvaluationResult.keys()``: user,
    work, time); values are matched on them, and a key missing from either side or a NaN
    value is left out. With no non-zero difference the Wilcoxon p-value is 1.
    """
    values_a = np.asarray(values_a, dtype=np.float64)
    values_b = np.asarray(values_b, dtype=np.float64)
    in_a, in_b = match(keys_a, keys_b, len(values_a), len(values_b))
    a, b = values_a[in_a], values_b[in_b]
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < 2:
        raise ValueError(f"a paired test needs at least 2 shared events, got {len(a)}")
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
        n_pairs=int(len(a)),
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        mean_difference=float(difference.mean()),
        wilcoxon_statistic=w_stat,
        wilcoxon_p=w_p,
        t_statistic=t_stat,
        t_p=t_p,
    )
