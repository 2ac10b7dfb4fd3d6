"""Train / validation / test splits that share one index space.

Every split is a function of the data (and a seed where it draws): the same call gives
the same split. A (user, item) pair never sits on both sides of a split: the rows of a
pair all go to one part, or earlier rows of a held-out pair are dropped.

    temporal_leave_last_out   per user, last row to test, the one before to valid (ties
                              in time: the larger item id is the later)
    random_ratio_split        per user, a random share of pairs to test and valid
    time_cut_split            everything after a global time to test (and valid)
    cold_start_items_split    new items (listed after a time, or a random share): all
                              their rows to test, and the items out of training
    purchase_time_split       the one-of-a-kind protocol's: purchases after a global time
                              to test (and valid), everything earlier to train
    cold_start_users_split    a random share of users held out of training; their first
                              rows are a profile given at prediction time (fold_in)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Interactions


@dataclass
class Split:
    """Disjoint row subsets of one Interactions (same user_ids / item_ids).

    fold_in: for cold-start users only, the rows a model may read at prediction time
    (the profile a new user gives) but never trains on.
    test_items, valid_items: for cold-start items only, (n_items,) bool masks of the works
    held out for test and validation: they do not exist for training (no ID table row, no
    negative, no cluster); a model meets them only through its cold path (``add_items``).
    history: for the one-of-a-kind protocol, every event the split was made from, the
    source of profiles at evaluation time (never trained on beyond ``train``).
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    fold_in: Interactions | None = None
    test_items: np.ndarray | None = None
    valid_items: np.ndarray | None = None
    history: Interactions | None = None


def temporal_leave_last_out(data: Interactions) -> Split:
    """Hold out each user's most recent interactions.

    Per user, rows are ordered by ``Interactions.chronological_order``: by timestamp,
    and events at the same timestamp by external item id, the larger id last (the rule
    of the peers' leave-one-out), so that tied last events give the same split whatever
    the order of the rows (ratings logs stamped to the second or the day tie often).
    Without timestamps the original order is the time order. Then:

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


def _pair_keys(data: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """(unique pair keys, pair index of every row): pair = user * n_items + item."""
    keys = data.users * data.n_items + data.items
    return np.unique(keys, return_inverse=True)


def random_ratio_split(
    data: Interactions, test_ratio: float = 0.2, valid_ratio: float = 0.1, seed: int = 0
) -> Split:
    """Per user, a random ``test_ratio`` of their distinct items to test and ``valid_ratio``
    to valid (rounded, at least one each when the ratio is > 0 and the user keeps at least
    one training item); all rows of one (user, item) pair go to the same part."""
    if not 0 <= test_ratio < 1 or not 0 <= valid_ratio < 1 or test_ratio + valid_ratio >= 1:
        raise ValueError("ratios must be in [0, 1) and sum to less than 1")
    rng = np.random.default_rng(seed)
    keys, pair_of_row = _pair_keys(data)
    pair_user = keys // data.n_items
    order = np.lexsort((rng.random(len(keys)), pair_user))  # shuffled within each user
    counts = np.bincount(pair_user, minlength=data.n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.empty(len(keys), dtype=np.int64)
    position[order] = np.arange(len(keys)) - starts[pair_user[order]]
    n = counts[pair_user]

    def share(ratio: float) -> np.ndarray:
        wanted = np.rint(ratio * n).astype(np.int64)
        return np.where((ratio > 0) & (n >= 2), np.maximum(wanted, 1), wanted)

    n_test = share(test_ratio)
    n_valid = np.minimum(share(valid_ratio), np.maximum(n - n_test - 1, 0))
    role = np.where(position < n_test, 2, np.where(position < n_test + n_valid, 1, 0))
    role_by_row = role[pair_of_row]
    return Split(
        train=data.select(role_by_row == 0),
        valid=data.select(role_by_row == 1),
        test=data.select(role_by_row == 2),
    )


def _require_timestamps(data: Interactions, name: str) -> np.ndarray:
    if data.timestamps is None:
        raise ValueError(f"{name} needs timestamps")
    return data.timestamps


def _quantile_time(timestamps: np.ndarray, share: float) -> float:
    """The time after which about ``share`` of the rows lie."""
    return float(np.quantile(timestamps, 1.0 - share, method="higher"))


def time_cut_split(
    data: Interactions,
    test_after: float | None = None,
    valid_after: float | None = None,
    test_share: float = 0.1,
    valid_share: float = 0.1,
) -> Split:
    """Global time cut: rows at or after ``test_after`` to test, rows in
    [valid_after, test_after) to valid, the rest to train.

    Without explicit times, cuts are placed so that about ``test_share`` and
    ``valid_share`` of the rows fall after them. Held-out rows of a pair the user already
    had in an earlier part are dropped (re-buying a known work is not a discovery).
    """
    timestamps = _require_timestamps(data, "time_cut_split")
    if test_after is None:
        test_after = _quantile_time(timestamps, test_share)
    if valid_after is None:
        valid_after = (
            _quantile_time(timestamps, test_share + valid_share) if valid_share > 0 else test_after
        )
    if valid_after > test_after:
        raise ValueError("valid_after must not be later than test_after")
    role = np.where(timestamps >= test_after, 2, np.where(timestamps >= valid_after, 1, 0))
    return _drop_known_pairs(data, role)


def _drop_known_pairs(data: Interactions, role: np.ndarray) -> Split:
    """Split rows by role (0 train, 1 valid, 2 test), dropping a held-out row whose pair
    already occurs in an earlier role."""
    keys = data.users * data.n_items + data.items
    train_keys = keys[role == 0]
    valid_keys = keys[role == 1]
    drop = ((role >= 1) & np.isin(keys, train_keys)) | ((role == 2) & np.isin(keys, valid_keys))
    role = np.where(drop, -1, role)
    return Split(
        train=data.select(role == 0), valid=data.select(role == 1), test=data.select(role == 2)
    )


def cold_start_items_split(
    data: Interactions,
    after: float | None = None,
    share: float = 0.2,
    valid_share: float = 0.0,
    seed: int = 0,
) -> Split:
    """Items no model has seen: every row of a test item is in test.

    ``after``: test items are those first seen at or after this time (a gallery's newly
    listed works); otherwise a random ``share`` of the items that have interactions.
    ``valid_share`` moves a random share of the remaining items (all their rows) to valid.
    """
    rng = np.random.default_rng(seed)
    active = np.unique(data.items)
    if after is not None:
        timestamps = _require_timestamps(data, "cold_start_items_split(after=...)")
        first_seen = np.full(data.n_items, np.inf)
        np.minimum.at(first_seen, data.items, timestamps)
        test_items = active[first_seen[active] >= after]
    else:
        test_items = rng.choice(active, size=int(round(share * len(active))), replace=False)
    rest = np.setdiff1d(active, test_items)
    valid_items = rng.choice(rest, size=int(round(valid_share * len(rest))), replace=False)
    role = np.where(
        np.isin(data.items, test_items), 2, np.where(np.isin(data.items, valid_items), 1, 0)
    )
    test_mask = np.zeros(data.n_items, dtype=bool)
    test_mask[test_items] = True
    valid_mask = np.zeros(data.n_items, dtype=bool)
    valid_mask[valid_items] = True
    return Split(
        train=data.select(role == 0),
        valid=data.select(role == 1),
        test=data.select(role == 2),
        test_items=test_mask,
        valid_items=valid_mask,
    )


def purchase_time_split(
    data: Interactions,
    target_kinds: tuple[str, ...] = ("purchase",),
    test_share: float = 0.2,
    valid_share: float = 0.1,
) -> Split:
    """The one-of-a-kind protocol's split: events of ``target_kinds`` (purchases) in the
    last ``test_share`` of them by time go to test, the ``valid_share`` before to valid;
    every event (of any kind) before the validation window trains. Events of other kinds
    inside the windows (likes, views) train nothing but are history: profiles at
    evaluation read every event before the ranked one. In a log without kinds every
    event is a target.
    """
    timestamps = _require_timestamps(data, "purchase_time_split")
    target = data.kind_mask(list(target_kinds))
    if not target.any():
        raise ValueError(f"no events of kind(s) {', '.join(target_kinds)} to rank")
    test_after = _quantile_time(timestamps[target], test_share)
    valid_after = (
        _quantile_time(timestamps[target], test_share + valid_share)
        if valid_share > 0
        else test_after
    )
    role = np.full(len(data), -1, dtype=np.int8)
    role[timestamps < valid_after] = 0
    role[target & (timestamps >= valid_after) & (timestamps < test_after)] = 1
    role[target & (timestamps >= test_after)] = 2
    return Split(
        train=data.select(role == 0),
        valid=data.select(role == 1),
        test=data.select(role == 2),
        history=data,
    )


def cold_start_users_split(
    data: Interactions,
    share: float = 0.2,
    valid_share: float = 0.0,
    profile_size: int = 3,
    seed: int = 0,
) -> Split:
    """Users no model has trained on. A random ``share`` of the users with more than
    ``profile_size`` distinct items is held out: their first ``profile_size`` items (in
    time order) form ``fold_in``, the profile a new collector would give, and the rest is
    test. ``valid_share`` of the others is held out to valid the same way (their profiles
    go to fold_in too; evaluate valid and test users separately)."""
    rng = np.random.default_rng(seed)
    profiles = data.profiles()
    eligible = np.flatnonzero([len(p) > profile_size for p in profiles])
    shuffled = rng.permutation(eligible)
    n_test = int(round(share * len(eligible)))
    n_valid = int(round(valid_share * len(eligible)))
    test_users, valid_users = shuffled[:n_test], shuffled[n_test : n_test + n_valid]
    role = np.zeros(len(data), dtype=np.int8)
    role[np.isin(data.users, test_users)] = 2
    role[np.isin(data.users, valid_users)] = 1
    held = np.concatenate([test_users, valid_users])
    profile_keys = np.concatenate(
        [u * data.n_items + profiles[u][:profile_size] for u in held]
        or [np.zeros(0, dtype=np.int64)]
    )
    in_profile = np.isin(data.users * data.n_items + data.items, profile_keys) & (role > 0)
    role[in_profile] = 3
    return Split(
        train=data.select(role == 0),
        valid=data.select(role == 1),
        test=data.select(role == 2),
        fold_in=data.select(role == 3),
    )
