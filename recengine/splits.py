"""Train / validation / test splits that share one index space."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Interactions


@dataclass
class Split:
    """Three disjoint row subsets of one Interactions (same user_ids / item_ids)."""

    train: Interactions
    valid: Interactions
    test: Interactions


def temporal_leave_last_out(data: Interactions) -> Split:
    """Hold out each user's most recent interactions.

    Per user, rows are ordered by timestamp (stable: ties keep their original
    order; without timestamps the original order is the time order). Then:

    * the last row goes to ``test`` if the user has >= 2 rows;
    * the row before it goes to ``valid`` if the user has >= 3 rows;
    * everything else goes to ``train``.

    Leakage guard: the same work can appear several times for one user (e.g. a
    like, then a purchase). Earlier rows of a held-out item are dropped for that
    user: rows of the test item leave train and valid, rows of the valid item
    leave train. So a test item is never in that user's train (or valid) and a
    valid item never in train; otherwise "predicting" it would be trivially
    easy, and excluding train/valid items at evaluation would hide it. A user
    whose valid row is the test item therefore simply has no valid row.

    Deterministic; there is no randomness, hence no seed.
    """
    order = data.chronological_order()
    users = data.users[order]
    n_rows = len(order)
    counts = np.bincount(users, minlength=data.n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.arange(n_rows) - starts[users]
    from_end = counts[users] - 1 - position

    role = np.zeros(n_rows, dtype=np.int8)  # 0 train, 1 valid, 2 test (in sorted order)
    role[(from_end == 1) & (counts[users] >= 3)] = 1
    role[(from_end == 0) & (counts[users] >= 2)] = 2

    items = data.items[order]
    pair = users * data.n_items + items
    test_pairs = pair[role == 2]
    valid_pairs = pair[role == 1]
    drop = (np.isin(pair, test_pairs) & (role != 2)) | (np.isin(pair, valid_pairs) & (role == 0))

    role_by_row = np.empty(n_rows, dtype=np.int8)
    role_by_row[order] = np.where(drop, -1, role)
    return Split(
        train=data.select(role_by_row == 0),
        valid=data.select(role_by_row == 1),
        test=data.select(role_by_row == 2),
    )
