"""Negative items for the sampled ranking protocol: read from a file or drawn, seeded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .data import Interactions

STRATEGIES = ("uniform", "popularity")


@dataclass
class Negatives:
    """Per-user negative candidates.

    users: (m,) int64 user indices (unique)
    items: (m, n) int64 item indices; -1 pads users with fewer than n negatives
    """

    users: np.ndarray
    items: np.ndarray

    def __post_init__(self) -> None:
        self.users = np.asarray(self.users, dtype=np.int64).reshape(-1)
        self.items = np.asarray(self.items, dtype=np.int64).reshape(len(self.users), -1)
        if len(np.unique(self.users)) != len(self.users):
            raise ValueError("negatives list a user twice")

    @property
    def width(self) -> int:
        return self.items.shape[1]

    def for_users(self, users: np.ndarray) -> np.ndarray:
        """(len(users), width) negatives of each user; a user without any gets a row of -1."""
        users = np.asarray(users, dtype=np.int64)
        order = np.argsort(self.users)
        position = np.searchsorted(self.users[order], users)
        position = np.minimum(position, max(len(order) - 1, 0))
        found = len(order) > 0
        result = np.full((len(users), self.width), -1, dtype=np.int64)
        if found:
            rows = order[position]
            known = self.users[rows] == users
            result[known] = self.items[rows[known]]
        return result

    @classmethod
    def from_pairs(cls, users: np.ndarray, items: np.ndarray) -> Negatives:
        """Group (user, item) rows, file order kept within a user."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        order = np.argsort(users, kind="stable")
        users, items = users[order], items[order]
        unique, starts, counts = np.unique(users, return_index=True, return_counts=True)
        width = int(counts.max(initial=0))
        table = np.full((len(unique), width), -1, dtype=np.int64)
        column = np.arange(len(users)) - np.repeat(starts, counts)
        table[np.repeat(np.arange(len(unique)), counts), column] = items
        return cls(users=unique, items=table)


def sample_negatives(
    users: np.ndarray,
    n: int,
    known: sp.csr_matrix | Interactions | list[Interactions],
    *,
    strategy: str = "uniform",
    popularity: np.ndarray | None = None,
    seed: int = 0,
) -> Negatives:
    """Draw ``n`` distinct negatives per user among items the user never interacted with.

    known: every interaction that must not be drawn (train, valid and test together), as a
    (n_users, n_items) matrix or Interactions sharing one index.
    strategy: "uniform" over the remaining items, or "popularity" (probability
    proportional to ``popularity``, the training counts, +1 so unseen items can appear).
    Deterministic for a seed: users are drawn in the given order from one generator.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    matrix = _known_matrix(known)
    n_items = matrix.shape[1]
    users = np.asarray(users, dtype=np.int64)
    rng = np.random.default_rng(seed)
    weights = None
    if strategy == "popularity":
        if popularity is None:
            raise ValueError("popularity sampling needs the items' popularity counts")
        weights = np.asarray(popularity, dtype=np.float64) + 1.0
    table = np.full((len(users), n), -1, dtype=np.int64)
    for row, user in enumerate(users):
        seen = matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]]
        available = n_items - len(np.unique(seen))
        take = min(n, available)
        if take <= 0:
            continue
        if weights is None and available > 4 * take:
            table[row, :take] = _rejection_uniform(rng, n_items, seen, take)
            continue
        allowed = np.ones(n_items, dtype=bool)
        allowed[seen] = False
        pool = np.flatnonzero(allowed)
        p = None if weights is None else weights[pool] / weights[pool].sum()
        table[row, :take] = rng.choice(pool, size=take, replace=False, p=p)
    return Negatives(users=users, items=table)


def _rejection_uniform(
    rng: np.random.Generator, n_items: int, seen: np.ndarray, take: int
) -> np.ndarray:
    # Far cheaper than building the complement when the user saw few items.
    chosen: list[int] = []
    excluded = set(seen.tolist())
    while len(chosen) < take:
        for item in rng.integers(0, n_items, size=2 * (take - len(chosen))).tolist():
            if item not in excluded:
                excluded.add(item)
                chosen.append(item)
                if len(chosen) == take:
                    break
    return np.asarray(chosen, dtype=np.int64)


def _known_matrix(known) -> sp.csr_matrix:
    if isinstance(known, Interactions):
        return known.matrix()
    if isinstance(known, (list, tuple)):
        total = known[0].matrix()
        for part in known[1:]:
            total = total + part.matrix()
        return sp.csr_matrix(total)
    return sp.csr_matrix(known)
