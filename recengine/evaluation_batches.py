"""The per-batch work of recengine.evaluation: rank a batch of users' scores and
compute every metric from one top-k pass and, for MRR, one pass over the rows whose
first hit is not in the top k.

Full ranking scores a batch of users at once (about 30 MiB of scores) and splits its
rows into blocks ranked side by side by threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial

import numpy as np
import scipy.sparse as sp
import torch

from . import metrics as m
from .data import Interactions
from .topk import top_k_checked


def rows_of(matrix: sp.csr_matrix, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row positions, item indices) of the nonzeros of ``matrix[users]``."""
    sub = matrix[users]
    return np.repeat(np.arange(len(users)), np.diff(sub.indptr)), sub.indices


def batch_values(
    scores: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    names: tuple[str, ...],
    ks: Sequence[int],
    nan_error: Callable[[int], ValueError],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-user metrics of one batch, and the ranked columns (-1 where not rankable).

    The relevant items are (row, column) pairs: a dense mask of a full-ranking batch
    would cost a pass over every item for every user, twice. A row holding a NaN raises
    ``nan_error(row)``; the top-k pass finds those rows, so the check costs no extra pass.
    """
    n_rows, n_columns = scores.shape
    ranked, nan_rows = top_k_checked(scores, max(ks))
    if nan_rows.any():
        raise nan_error(int(np.flatnonzero(nan_rows)[0]))
    # (row, column) keys of the relevant pairs, looked up by binary search
    keys = np.sort(rows * n_columns + cols)
    wanted = np.arange(n_rows)[:, None] * n_columns + ranked
    found = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    hits = keys[found] == wanted if len(keys) else np.zeros(ranked.shape, dtype=bool)
    finite = np.isfinite(np.take_along_axis(scores, ranked, axis=1))
    hits &= finite
    n_relevant = np.bincount(rows, minlength=n_rows)
    values = m.metrics_from_hits(hits, n_relevant, ks)
    if "MRR" in names:
        first_hit = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
        values["MRR"] = m.reciprocal_rank_of_pairs(scores, rows, cols, known_first_hit=first_hit)
    if "AUC" in names:
        relevant = np.zeros(scores.shape, dtype=bool)
        relevant[rows, cols] = True
        values["AUC"] = m.auc(scores, relevant)
    return values, np.where(finite, ranked, -1)


def nan_error(model, train: Interactions, batch: np.ndarray) -> Callable[[int], ValueError]:
    """The error for a NaN score in row ``row`` of a batch, naming the model and user."""

    def error(row: int) -> ValueError:
        name = getattr(model, "name", "model")
        return ValueError(f"{name} produced NaN scores for user {train.user_ids[batch[row]]!r}")

    return error


# Scores per full-ranking batch (30 MiB of float32). Below glibc's 32 MiB ceiling on its
# mmap threshold a freed block is reused; a larger one is mapped afresh every batch and
# the kernel zeroes its pages, which cost as much as the matrix product on gowalla (and
# a small block stays in cache between the passes over it).
_BATCH_SCORES = 30 << 18


def full_batch_size(n_items: int) -> int:
    return int(np.clip(_BATCH_SCORES // max(n_items, 1), 64, 4096))


def _workers(batch_size: int) -> int:
    """Threads for the passes over a batch: torch's setting, so one knob rules both."""
    return max(1, min(torch.get_num_threads(), batch_size // 16))


def _full_block(scores, users, *, seen, relevant, names, ks, model, train):
    """Metrics and ranked lists of a block of full-ranking rows (scores: writable)."""
    seen_rows, seen_cols = rows_of(seen, users)
    # Seen items become -inf, except a NaN, left for the top-k pass to report.
    values = scores[seen_rows, seen_cols]
    scores[seen_rows, seen_cols] = np.where(np.isnan(values), values, -np.inf)
    rows, cols = rows_of(relevant, users)
    return batch_values(scores, rows, cols, names, ks, nan_error(model, train, users))


def full_ranking(
    model,
    scores: Callable[[np.ndarray], np.ndarray],
    users: np.ndarray,
    train: Interactions,
    seen: sp.csr_matrix,
    relevant: sp.csr_matrix,
    names: tuple[str, ...],
    ks: Sequence[int],
    batch_size: int | None,
    callback: Callable[..., None] | None,
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]]:
    """(users, per-user values, ranked lists) of each block of ``users``, in order.

    scores(batch) -> (len(batch), n_items) float32, writable: seen items are set to -inf.
    """
    batch_size = batch_size or full_batch_size(train.n_items)
    workers = _workers(batch_size)
    run = partial(
        _full_block, seen=seen, relevant=relevant, names=names, ks=ks, model=model, train=train
    )
    with ThreadPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
        for start in range(0, len(users), batch_size):
            batch = users[start : start + batch_size]
            block_scores = scores(batch)
            if block_scores.shape != (len(batch), train.n_items):
                raise ValueError(
                    f"model.score returned {block_scores.shape}, "
                    f"expected {(len(batch), train.n_items)}"
                )
            # Row blocks are independent and numpy releases the GIL in its loops; map
            # returns them in order, so a NaN error names the first such user.
            cuts = np.linspace(0, len(batch), workers + 1).astype(int)
            blocks = [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
            results = (pool.map if pool else map)(
                run, [block_scores[block] for block in blocks], [batch[block] for block in blocks]
            )
            for block, (values, ranked) in zip(blocks, results, strict=True):
                yield batch[block], values, ranked
            if callback is not None:
                done = min(start + batch_size, len(users))
                callback(done / len(users), f"evaluated {done}/{len(users)} users")
