"""Ranking metrics, vectorised over a batch of users.

Convention for every function: ``scores`` is (n_users, n_items) float with items
that must not be ranked (already seen, sold, ...) set to ``-inf``; ``relevant``
is a (n_users, n_items) bool mask of held-out positives. Each function returns
one value per user, shape (n_users,); users for whom the metric is undefined
(no relevant item) get NaN so callers can ``np.nanmean``.

A relevant item whose score is -inf is never counted as a hit: excluded items
are not recommendable, even if -inf items pad a short top-k list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(n_users, min(k, n_items)) int64 item indices by descending score.

    Ties are broken by the lower item index so results are deterministic.
    O(n_items) per row (partition, not a full sort).
    """
    scores = np.asarray(scores)
    n_rows, n_items = scores.shape
    k = min(int(k), n_items)
    if k <= 0:
        return np.zeros((n_rows, 0), dtype=np.int64)
    if k < n_items:
        # kth largest value per row; take everything above it, then the
        # lowest-index items equal to it until the row has exactly k.
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
        above = scores > kth
        equal = scores == kth
        room = k - above.sum(axis=1, keepdims=True)
        keep = above | (equal & (np.cumsum(equal, axis=1) <= room))
        chosen = np.nonzero(keep)[1].reshape(n_rows, k)
    else:
        chosen = np.broadcast_to(np.arange(n_items), (n_rows, n_items))
    chosen_scores = np.take_along_axis(scores, chosen, axis=1)
    # Stable sort on -score keeps the ascending index order among ties.
    order = np.argsort(-chosen_scores, axis=1, kind="stable")
    return np.take_along_axis(chosen, order, axis=1).astype(np.int64)


def _hits(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(n_users, min(k, n_items)) bool: is the item at each rank relevant and rankable."""
    ranked = top_k(scores, k)
    hit = np.take_along_axis(np.asarray(relevant, dtype=bool), ranked, axis=1)
    return hit & np.isfinite(np.take_along_axis(scores, ranked, axis=1))


def _per_user(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def ranking_metrics(
    scores: np.ndarray, relevant: np.ndarray, ks: Sequence[int]
) -> dict[str, np.ndarray]:
    """{"Recall@k", "NDCG@k", "HR@k"} -> (n_users,) for every k, ranking once for max(ks)."""
    relevant = np.asarray(relevant, dtype=bool)
    hits = _hits(scores, relevant, max(ks))
    n_relevant = relevant.sum(axis=1)
    discounts = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    ideal_by_count = np.concatenate(([0.0], np.cumsum(discounts)))
    result = {}
    for k in ks:
        top = hits[:, :k]
        result[f"Recall@{k}"] = _per_user(top.sum(axis=1).astype(np.float64), n_relevant)
        # binary-relevance DCG over ideal DCG of min(|relevant|, k) hits
        ideal = ideal_by_count[np.minimum(n_relevant, top.shape[1])]
        result[f"NDCG@{k}"] = _per_user((top * discounts[: top.shape[1]]).sum(axis=1), ideal)
        result[f"HR@{k}"] = _per_user(
            top.any(axis=1).astype(np.float64), (n_relevant > 0).astype(np.float64)
        )
    return result


def recall_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(n_users,) hits in the top k divided by the number of relevant items."""
    return ranking_metrics(scores, relevant, [k])[f"Recall@{k}"]


def hit_rate_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(n_users,) 1.0 if any relevant item is in the top k, else 0.0."""
    return ranking_metrics(scores, relevant, [k])[f"HR@{k}"]


def ndcg_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(n_users,) binary-relevance NDCG: DCG / ideal DCG over min(|relevant|, k) hits.

    Gain 1 at rank r (1-based) is discounted by 1 / log2(r + 1).
    """
    return ranking_metrics(scores, relevant, [k])[f"NDCG@{k}"]


def auc(
    scores: np.ndarray, positives: np.ndarray, candidates: np.ndarray | None = None
) -> np.ndarray:
    """(n_users,) fraction of (positive, negative) pairs with the positive scored higher.

    ``candidates`` (n_users, n_items) bool marks the items taking part (positives
    and negatives); by default every item with a finite score. Negatives are
    candidates that are not positives. Ties count 0.5. NaN when a user has no
    positive or no negative candidate.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if candidates is None:
        candidates = np.isfinite(scores)
    candidates = np.asarray(candidates, dtype=bool)
    positives = np.asarray(positives, dtype=bool) & candidates
    # Candidates scored -inf are lifted to the lowest finite value so they stay
    # distinguishable from the -inf we give non-candidates below.
    scores = np.maximum(scores, np.finfo(np.float64).min)
    n_pos = positives.sum(axis=1)
    n_neg = candidates.sum(axis=1) - n_pos
    # Held-out sets are usually tiny (leave-last-out: one item), where comparing
    # each positive with the row is far cheaper than ranking every row.
    if n_pos.sum() <= _PAIRWISE_MAX_POSITIVES * len(scores):
        wins = _pairwise_wins(scores, positives, candidates & ~positives)
    else:
        wins = _rank_sum_wins(scores, positives, candidates)
    return _per_user(wins, (n_pos * n_neg).astype(np.float64))


_PAIRWISE_MAX_POSITIVES = 16  # mean positives per user below which pairwise wins
_PAIRWISE_BLOCK = 1 << 22  # compared entries per block, bounds memory


def _pairwise_wins(scores: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """(n_users,) correctly ordered (positive, negative) pairs, ties 0.5; direct comparison."""
    rows, cols = np.nonzero(positives)
    wins = np.zeros(len(scores))
    step = max(1, _PAIRWISE_BLOCK // max(scores.shape[1], 1))
    for start in range(0, len(rows), step):
        r, c = rows[start : start + step], cols[start : start + step]
        positive = scores[r, c][:, None]
        row_scores, row_negatives = scores[r], negatives[r]
        above = ((positive > row_scores) & row_negatives).sum(axis=1)
        tied = ((positive == row_scores) & row_negatives).sum(axis=1)
        np.add.at(wins, r, above + 0.5 * tied)
    return wins


def _rank_sum_wins(scores: np.ndarray, positives: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(n_users,) the same count via the rank-sum (Mann-Whitney U) identity.

    With average ranks among the candidates, wins = sum of positive ranks - P(P+1)/2.
    Non-candidates sit at -inf below every candidate, shifting candidate ranks
    by a constant that is subtracted again.
    """
    ranks = rankdata(np.where(candidates, scores, -np.inf), method="average", axis=1)
    n_outside = (~candidates).sum(axis=1)
    n_pos = positives.sum(axis=1)
    rank_sum = np.where(positives, ranks, 0.0).sum(axis=1) - n_pos * n_outside
    return rank_sum - n_pos * (n_pos + 1) / 2.0
