"""Ranking metrics, vectorised over a batch of users.

Convention for every per-user function: ``scores`` is (n_users, n_items) float with
items that must not be ranked (already seen, sold, ...) set to ``-inf``; ``relevant``
is a (n_users, n_items) bool mask of held-out positives. Each returns one value per
user, shape (n_users,); users for whom the metric is undefined (no relevant item that
can be ranked) get NaN so callers can ``np.nanmean``.

A relevant item whose score is -inf is never counted as a hit: excluded items are not
recommendable, even if -inf items pad a short top-k list. Ties are broken by the lower
item index everywhere (top-k, ranks), so every metric is deterministic.

Top-k lists and ranks come from recengine.topk (exact, one streaming pass per row);
AUC's pairwise pass runs in torch. Inputs and outputs stay numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import rankdata

from .topk import ROW_PASS_MIN_ITEMS, ranks_by_row, top_k

RANK_METRICS = ("HR", "Recall", "Precision", "NDCG", "MAP")


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def _per_user(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def hits_at(scores: np.ndarray, relevant: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(ranked items (n, K), hits (n, K) bool) for K = min(k, n_items): is the item at
    each rank relevant and rankable."""
    ranked = top_k(scores, k)
    hit = np.take_along_axis(np.asarray(relevant, dtype=bool), ranked, axis=1)
    return ranked, hit & np.isfinite(np.take_along_axis(scores, ranked, axis=1))


def metrics_from_hits(
    hits: np.ndarray, n_relevant: np.ndarray, ks: Sequence[int]
) -> dict[str, np.ndarray]:
    """HR, Recall, Precision, NDCG and MAP at every k from a (n, >= max k) hit table.

    n_relevant: (n,) rankable relevant items per user (the denominators).
    """
    n_relevant = np.asarray(n_relevant)
    width = hits.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, width + 2))
    ideal_by_count = np.concatenate(([0.0], np.cumsum(discounts)))
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, width + 1)
    result = {}
    for k in ks:
        top = hits[:, : min(k, width)]
        n_hits = top.sum(axis=1).astype(np.float64)
        defined = (n_relevant > 0).astype(np.float64)
        result[f"HR@{k}"] = _per_user(top.any(axis=1).astype(np.float64), defined)
        result[f"Recall@{k}"] = _per_user(n_hits, n_relevant)
        # Precision divides by k even when fewer than k items could be ranked.
        result[f"Precision@{k}"] = _per_user(n_hits / k, defined)
        # binary-relevance DCG over the ideal DCG of min(|relevant|, k) hits
        ideal = ideal_by_count[np.minimum(n_relevant, top.shape[1])]
        result[f"NDCG@{k}"] = _per_user((top * discounts[: top.shape[1]]).sum(axis=1), ideal)
        # AP@k: mean of precision at each hit rank, over min(|relevant|, k)
        ap = (precision_at_rank[:, : top.shape[1]] * top).sum(axis=1)
        result[f"MAP@{k}"] = _per_user(ap, np.minimum(n_relevant, k).astype(np.float64))
    return result


def ranking_metrics(
    scores: np.ndarray, relevant: np.ndarray, ks: Sequence[int]
) -> dict[str, np.ndarray]:
    """{HR, Recall, Precision, NDCG, MAP}@k -> (n_users,) for every k, ranking once."""
    relevant = np.asarray(relevant, dtype=bool)
    _, hits = hits_at(scores, relevant, max(ks))
    return metrics_from_hits(hits, relevant.sum(axis=1), ks)


def recall_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(n_users,) hits in the top k divided by the number of relevant items."""
    return ranking_metrics(scores, relevant, [k])[f"Recall@{k}"]


def hit_rate_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(n_users,) 1.0 if any relevant item is in the top k, else 0.0."""
    return ranking_metrics(scores, relevant, [k])[f"HR@{k}"]


def precision_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(n_users,) hits in the top k divided by k."""
    return ranking_metrics(scores, relevant, [k])[f"Precision@{k}"]


def ndcg_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(n_users,) binary-relevance NDCG: DCG / ideal DCG over min(|relevant|, k) hits.

    Gain 1 at rank r (1-based) is discounted by 1 / log2(r + 1).
    """
    return ranking_metrics(scores, relevant, [k])[f"NDCG@{k}"]


def map_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(n_users,) average precision at k: sum of precision@r at each hit rank r <= k,
    divided by min(|relevant|, k)."""
    return ranking_metrics(scores, relevant, [k])[f"MAP@{k}"]


def reciprocal_rank(
    scores: np.ndarray,
    relevant: np.ndarray,
    known_first_hit: np.ndarray | None = None,
) -> np.ndarray:
    """(n_users,) 1 / rank of the first relevant item in the full ranking (MRR per user).

    0 when every relevant item is unrankable (-inf), NaN when there is no relevant item.
    known_first_hit: (n_users,) 1-based rank of the first hit where a top-k pass already
    found it, 0 where it did not; only the other rows are ranked here.
    """
    rows, cols = np.nonzero(np.asarray(relevant, dtype=bool))
    return reciprocal_rank_of_pairs(scores, rows, cols, known_first_hit)


def reciprocal_rank_of_pairs(
    scores: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    known_first_hit: np.ndarray | None = None,
) -> np.ndarray:
    """reciprocal_rank with the relevant items given as (row, column) pairs, which spares
    a pass over a dense (users x items) mask."""
    scores = np.asarray(scores)
    n_rows = len(scores)
    defined = np.bincount(rows, minlength=n_rows) > 0
    rank = np.zeros(n_rows, dtype=np.float64)
    if known_first_hit is not None:
        rank[:] = known_first_hit
    wanted = (rank == 0) & defined
    pick = wanted[rows]
    rows, cols = rows[pick], cols[pick]
    values = scores[rows, cols]
    keep = np.isfinite(values)
    rows, cols, values = rows[keep], cols[keep], values[keep]
    if len(rows):
        # per row: the best relevant score, lowest index among equals
        order = np.lexsort((cols, -values, rows))
        first = order[np.concatenate(([True], rows[order][1:] != rows[order][:-1]))]
        found, best_item, best = rows[first], cols[first], values[first]
        if scores.shape[1] >= ROW_PASS_MIN_ITEMS:
            rank[found] = ranks_by_row(scores, found, best_item, best)
        else:
            block = scores[found]
            best = best[:, None]
            above = np.count_nonzero(block > best, axis=1)
            ties = np.count_nonzero(block >= best, axis=1) - above
            position = above.astype(np.float64) + 1
            for r in np.flatnonzero(ties > 1):  # equal scores ahead of it by index
                position[r] += np.count_nonzero(block[r, : best_item[r]] == best[r, 0])
            rank[found] = position
    reciprocal = np.where(rank > 0, 1.0 / np.maximum(rank, 1), 0.0)
    return np.where(defined, reciprocal, np.nan)


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
    table, negative_mask = _tensor(scores), _tensor(negatives)
    for start in range(0, len(rows), step):
        r = torch.from_numpy(rows[start : start + step])
        c = torch.from_numpy(cols[start : start + step])
        positive = table[r, c][:, None]
        row_scores, row_negatives = table[r], negative_mask[r]
        above = ((positive > row_scores) & row_negatives).sum(dim=1)
        tied = ((positive == row_scores) & row_negatives).sum(dim=1)
        np.add.at(wins, r.numpy(), (above + 0.5 * tied).numpy())
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


def coverage(recommended: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list.

    recommended: (n_users, k) item indices, -1 for padding.
    """
    items = np.asarray(recommended).ravel()
    return float(len(np.unique(items[items >= 0])) / n_items) if n_items else float("nan")


def self_information(popularity: np.ndarray, n_users: int) -> np.ndarray:
    """(n_items,) -log2 p(i), p(i) = (users who had i + 1) / (n_users + 1).

    The +1 keeps a never-seen (cold-start) item finite: the most novel, not infinite.
    """
    probability = (np.asarray(popularity, dtype=np.float64) + 1.0) / (n_users + 1.0)
    return -np.log2(probability)


def novelty(recommended: np.ndarray, information: np.ndarray) -> np.ndarray:
    """(n_users,) mean self-information of each user's recommended items (NaN if none).

    recommended: (n_users, k) item indices, -1 for padding; information: from
    ``self_information``.
    """
    recommended = np.asarray(recommended)
    valid = recommended >= 0
    values = np.where(valid, information[np.maximum(recommended, 0)], 0.0)
    return _per_user(values.sum(axis=1), valid.sum(axis=1).astype(np.float64))
