"""Neighbourhood baselines: ItemKNN and UserKNN with shrunk cosine similarity.

sim(a, b) = (x_a . x_b) / (|x_a| |x_b| + shrink), the shrink term damping similarities
that rest on few co-occurrences. Only the top ``neighbours`` similarities of each
target are kept, computed a block of rows at a time so the dense block stays small.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..data import Interactions
from .base import Callback, Recommender
from .registry import register_model

BLOCK = 1024


def top_neighbours(
    vectors: sp.csr_matrix, neighbours: int, shrink: float, callback: Callback | None = None
) -> sp.csr_matrix:
    """(n, n) CSR: row a keeps the ``neighbours`` largest sim(a, b), b != a, sim > 0.

    vectors: (n, d) binary rows (items as rows for ItemKNN, users for UserKNN).
    """
    vectors = sp.csr_matrix(vectors, dtype=np.float32)
    n = vectors.shape[0]
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    transposed = sp.csr_matrix(vectors.T)
    k = min(int(neighbours), max(n - 1, 1))
    rows, cols, values = [], [], []
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        dot = (vectors[start:stop] @ transposed).toarray()
        sim = dot / (norms[start:stop, None] * norms[None, :] + shrink + 1e-12)
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0  # never your own neighbour
        top_values, top_index = torch.topk(torch.from_numpy(sim), k, dim=1)
        top_values, top_index = top_values.numpy(), top_index.numpy()
        keep = top_values > 0
        rows.append(np.repeat(np.arange(start, stop), keep.sum(axis=1)))
        cols.append(top_index[keep])
        values.append(top_values[keep])
        if callback is not None:
            callback(stop / n, f"similarities {stop}/{n}")
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )


def _profile_matrix(profiles: list[np.ndarray], n_items: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(profiles)), [len(p) for p in profiles])
    cols = np.concatenate(profiles) if profiles else np.zeros(0, dtype=np.int64)
    matrix = sp.csr_matrix(
        (np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(profiles), n_items)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


@register_model
class ItemKNN(Recommender):
    name = "itemknn"
    defaults = {"neighbours": 100, "shrink": 10.0}
    description = "Items similar (shrunk cosine) to the ones a user has, top-K neighbours each."
    grid = {"neighbours": [50, 200, 800], "shrink": [0.0, 10.0, 100.0]}

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        h = self.hyperparameters
        # row j holds target j's neighbours i; scores = X @ W with W[i, j] = sim(i, j)
        targets = top_neighbours(train.matrix().T, h["neighbours"], h["shrink"], callback)
        self.similarity = sp.csr_matrix(targets.T)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return (self.seen_matrix()[users] @ self.similarity).toarray()

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        return (_profile_matrix(profiles, self.n_items) @ self.similarity).toarray()

    def _weights(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {"sim_data": s.data, "sim_indices": s.indices, "sim_indptr": s.indptr}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        n = len(weights["sim_indptr"]) - 1
        self.similarity = sp.csr_matrix(
            (weights["sim_data"], weights["sim_indices"], weights["sim_indptr"]), shape=(n, n)
        )


@register_model
class UserKNN(Recommender):
    name = "userknn"
    defaults = {"neighbours": 100, "shrink": 10.0}
    description = "What the most similar users (shrunk cosine) had, weighted by similarity."
    grid = {"neighbours": [50, 200, 800], "shrink": [0.0, 10.0, 100.0]}

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        h = self.hyperparameters
        self.neighbours = top_neighbours(train.matrix(), h["neighbours"], h["shrink"], callback)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return (self.neighbours[users] @ self.seen_matrix()).toarray()

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        """A new profile is compared with every training user, then scored the same way."""
        h = self.hyperparameters
        seen = self.seen_matrix()
        queries = _profile_matrix(profiles, self.n_items)
        user_norms = np.sqrt(np.asarray(seen.sum(axis=1)).ravel())
        query_norms = np.sqrt(np.asarray(queries.sum(axis=1)).ravel())
        sim = (queries @ seen.T).toarray() / (
            query_norms[:, None] * user_norms[None, :] + h["shrink"] + 1e-12
        )
        k = min(int(h["neighbours"]), sim.shape[1])
        cutoff = -np.partition(-sim, k - 1, axis=1)[:, k - 1 : k] if k else np.inf
        sim = np.where(sim >= cutoff, sim, 0.0).astype(np.float32)
        return sim @ seen

    def _weights(self) -> dict[str, np.ndarray]:
        s = self.neighbours
        return {"nb_data": s.data, "nb_indices": s.indices, "nb_indptr": s.indptr}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        n = len(weights["nb_indptr"]) - 1
        self.neighbours = sp.csr_matrix(
            (weights["nb_data"], weights["nb_indices"], weights["nb_indptr"]), shape=(n, n)
        )
