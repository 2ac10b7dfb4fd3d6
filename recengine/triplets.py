"""Training triplets (user, positive item, negative item) for pairwise losses."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class UniformTriplets:
    """Every training pair once per epoch, in random order, each with a negative drawn
    uniformly among the items that user never interacted with.

    matrix: (n_users, n_items) binary CSR of the training interactions.
    """

    def __init__(self, matrix: sp.csr_matrix) -> None:
        matrix = sp.csr_matrix(matrix)
        self.n_items = matrix.shape[1]
        self.users = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        self.items = matrix.indices.astype(np.int64)
        # Sorted (user, item) keys answer "has u seen i" for a whole batch at once.
        self.keys = np.sort(self.users * self.n_items + self.items)

    def __len__(self) -> int:
        return len(self.users)

    def seen(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.n_items + items
        position = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return self.keys[position] == keys

    def negatives(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        """(len(users),) items none of which the matching user has seen.

        Rejection sampling; a user who has seen every item keeps a random (seen) item
        after a few rounds rather than looping forever.
        """
        items = rng.integers(0, self.n_items, size=len(users))
        for _ in range(20):
            clash = self.seen(users, items)
            if not clash.any():
                break
            items[clash] = rng.integers(0, self.n_items, size=int(clash.sum()))
        return items

    def epoch_arrays(self, rng: np.random.Generator):
        """(users, positives, negatives) for a whole epoch: every training pair once, in
        random order, with its negatives drawn in one vectorised pass (a per-batch draw
        paid numpy's call overhead and a search of the whole key table at every step)."""
        # Drawn in the users' order, then shuffled: the membership search then walks the
        # sorted keys forward, several times faster than random probes.
        negatives = self.negatives(rng, self.users)
        order = rng.permutation(len(self.users))
        return self.users[order], self.items[order], negatives[order]

    def epoch(self, rng: np.random.Generator, batch_size: int):
        """Yields (users, positives, negatives) int64 arrays of up to batch_size rows."""
        users, positives, negatives = self.epoch_arrays(rng)
        for start in range(0, len(users), batch_size):
            rows = slice(start, start + batch_size)
            yield users[rows], positives[rows], negatives[rows]

    def n_batches(self, batch_size: int) -> int:
        return -(-len(self.users) // batch_size)
