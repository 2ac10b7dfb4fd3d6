"""Exact top-k and rank kernels for (users x items) score blocks on the CPU.

Both break ties by the lower item index, as every metric does. Both avoid the costly
ways of reading a long row: a full top-k selection per row (torch.topk), or one
comparison of the whole block per question asked of it.
"""

from __future__ import annotations

import numpy as np
import torch


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def _exact_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Reference top-k with lowest-index tie-breaking (numpy; used for rows with ties)."""
    n_rows = len(scores)
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    above = scores > kth
    equal = scores == kth
    room = k - above.sum(axis=1, keepdims=True)
    keep = above | (equal & (np.cumsum(equal, axis=1) <= room))
    return np.nonzero(keep)[1].reshape(n_rows, k)


def _top_k_direct(scores: np.ndarray, k: int) -> np.ndarray:
    """top_k over whole rows: torch.topk picks k + 1 candidates; only rows where the k-th
    and (k+1)-th scores tie (so the tie may cross the cut) are redone exactly."""
    n_rows, n_items = scores.shape
    if k <= 0 or n_rows == 0:
        return np.zeros((n_rows, max(k, 0)), dtype=np.int64)
    values, chosen = torch.topk(_tensor(scores), min(k + 1, n_items), dim=1)
    chosen = chosen[:, :k].numpy().astype(np.int64, copy=True)
    if k < n_items:
        values = values.numpy()
        rows = np.flatnonzero(values[:, k - 1] == values[:, k])
    else:
        rows = np.arange(n_rows)  # everything is chosen: only the order can differ
    if len(rows):
        chosen[rows] = _exact_top_k(scores[rows], k) if k < n_items else np.arange(n_items)
    chosen_scores = np.take_along_axis(scores, chosen, axis=1)
    order = np.lexsort((chosen, -chosen_scores), axis=1)
    return np.take_along_axis(chosen, order, axis=1)


_GROUPED_MIN_ITEMS = 2048  # below this a plain torch.topk over the row is as fast


def _group_count(k: int, n_items: int) -> int:
    """Column groups for the grouped top-k (0: rank whole rows). About sqrt(k n) balances
    the selection among the G group maxima against the k n / G candidates gathered."""
    if n_items < _GROUPED_MIN_ITEMS or k <= 0:
        return 0
    groups = 1 << int(round(np.log2(np.sqrt(k * n_items))))
    return groups if 4 * (k + 1) <= groups <= n_items // 2 else 0


_GROUPED_ROWS = 64  # rows ranked together: their scores stay in cache between passes


def _top_k_grouped(scores: np.ndarray, k: int, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """top_k_checked for a C-contiguous block of rows, by the grouped method (see there)."""
    n_rows, n_items = scores.shape
    per = n_items // groups
    body = groups * per
    maxima = scores[:, :body].reshape(n_rows, per, groups).max(axis=1)
    tail = scores[:, body:]  # the columns past the last full group: always candidates
    nan_rows = np.isnan(maxima).any(axis=1) | np.isnan(tail).any(axis=1)
    threshold = np.partition(maxima, groups - k, axis=1)[:, groups - k]
    chosen = maxima >= threshold[:, None]
    # k groups reach the threshold unless group maxima tie there (or NaN)
    whole = nan_rows | (np.count_nonzero(chosen, axis=1) != k)
    chosen[whole] = False
    chosen[whole, :k] = True  # placeholders: these rows are ranked whole below
    chosen = (np.flatnonzero(chosen) % groups).reshape(n_rows, k)
    # flat indices of column g + G * i (i < per) of each chosen group g; with g ascending,
    # (i, g) order is column order, so a stable sort below sends ties to the lower index.
    # np.take on the flat block is several times faster than fancy indexing; the indices
    # are in range, so "clip" (which skips the bounds check) changes nothing.
    start = chosen + (np.arange(n_rows) * n_items)[:, None]
    flat = start[:, None, :] + (np.arange(per) * groups)[None, :, None]
    candidates = np.take(scores.reshape(-1), flat, mode="clip")
    keep = candidates >= threshold[:, None, None]  # at least k per row, usually a few more
    keep[whole] = False
    keep[whole, 0] = True  # k placeholders
    picked = np.flatnonzero(keep)  # flat positions are cheaper than (row, i, g) triples
    rows = picked // (per * k)
    values = candidates.reshape(-1)[picked]
    columns = flat.reshape(-1)[picked] - rows * n_items
    if tail.shape[1]:  # after the body's columns, so after them among equal scores too
        extra = tail >= threshold[:, None]
        extra[whole] = False
        tail_rows, at = np.nonzero(extra)
        rows = np.concatenate([rows, tail_rows])
        values = np.concatenate([values, tail[tail_rows, at]])
        columns = np.concatenate([columns, at + body])
    order = np.lexsort((-values, rows))
    rows, columns = rows[order], columns[order]
    counts = np.bincount(rows, minlength=n_rows)
    position = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    ranked = columns[position < k].reshape(n_rows, k)
    redo = np.flatnonzero(whole)
    if len(redo):
        ranked[redo] = _top_k_direct(scores[redo], k)
    return ranked, nan_rows


def top_k_checked(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """top_k, and (n_users,) bool: the rows holding a NaN score.

    Long rows are split into G interleaved column groups (column c in group c % G). One
    streaming max over the groups (NaN propagates, so it is also the NaN check) gives T,
    the k-th largest group maximum. At least k scores are >= T, so the k-th best score is
    >= T and every score of the top k lies in the k groups whose maximum is >= T, or in
    the few columns past the last full group. Only those candidates that are >= T (about
    k of them) are sorted, by score and then column. Rows where more than k group maxima
    reach T (ties, -inf padding) or that hold a NaN are ranked whole by torch.topk. The
    row is read once, instead of by a full selection that costs several times more.
    """
    scores = np.asarray(scores)
    n_rows, n_items = scores.shape
    k = min(int(k), n_items)
    # floats only: the selection sorts on negated scores, which unsigned integers lack
    groups = _group_count(k, n_items) if n_rows and scores.dtype.kind == "f" else 0
    if not groups:
        return _top_k_direct(scores, k), np.isnan(scores).any(axis=1)
    scores = np.ascontiguousarray(scores)
    ranked = np.empty((n_rows, k), dtype=np.int64)
    nan_rows = np.empty(n_rows, dtype=bool)
    for start in range(0, n_rows, _GROUPED_ROWS):
        block = slice(start, start + _GROUPED_ROWS)
        ranked[block], nan_rows[block] = _top_k_grouped(scores[block], k, groups)
    return ranked, nan_rows


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(n_users, min(k, n_items)) int64 item indices by descending score.

    Ties are broken by the lower item index so results are deterministic.
    """
    return top_k_checked(scores, k)[0]


ROW_PASS_MIN_ITEMS = 2048  # rows at least this long are ranked one at a time


def ranks_by_row(
    scores: np.ndarray, rows: np.ndarray, items: np.ndarray, best: np.ndarray
) -> np.ndarray:
    """1-based rank of item ``items[n]`` (score ``best[n]``) in row ``rows[n]``: the scores
    above it, plus the equal ones at a lower index. One pass over each row (>= before the
    item, > after it) that stays in cache, against two over a (rows x items) block."""
    position = np.empty(len(rows), dtype=np.float64)
    for n in range(len(rows)):
        row, item, value = scores[rows[n]], items[n], best[n]
        ahead = np.count_nonzero(row[:item] >= value) + np.count_nonzero(row[item + 1 :] > value)
        position[n] = ahead + 1
    return position
