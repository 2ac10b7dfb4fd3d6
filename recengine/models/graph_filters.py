"""What the training-free graph filters (gfcf, bspm) share.

R~ = D_u^-1/2 R D_i^-1/2 is the degree-normalised interaction matrix and
P~ = R~' R~ the normalised item-item graph. A user's scores are their interaction row
passed through filters of P~: the linear filter r P~ and the ideal low-pass filter,
which keeps the top singular directions of R~ (r D_i^-1/2 V V' D_i^1/2).

P~ itself is never built: for gowalla it would be a dense 40,981^2 matrix (6.7 GB) and
scoring a dense row through it costs n_items^2 per user. (r R~') R~ costs two passes
over the training pairs per user instead.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import svds

SCORE_BATCH = 1024  # users scored at once: (batch x n_items) float32 buffers


def normalised(matrix: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """(R~ as float32 CSR, d_i^-1/2 per item); an item or user without interactions
    gets a zero scale (no division by zero)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.data[:] = 1.0
    user_degree = np.asarray(matrix.sum(axis=1)).ravel()
    item_degree = np.asarray(matrix.sum(axis=0)).ravel()
    user_scale = _inverse_sqrt(user_degree)
    item_scale = _inverse_sqrt(item_degree)
    scaled = sp.diags(user_scale) @ matrix @ sp.diags(item_scale)
    return sp.csr_matrix(scaled, dtype=np.float32), item_scale


def _inverse_sqrt(degree: np.ndarray) -> np.ndarray:
    scale = np.zeros(len(degree), dtype=np.float32)
    positive = degree > 0
    scale[positive] = degree[positive] ** -0.5
    return scale


def top_item_directions(normalised_matrix: sp.csr_matrix, k: int, seed: int) -> np.ndarray:
    """(k, n_items) float32: the right singular vectors of R~ with the k largest singular
    values (ARPACK, started from a seeded vector, so the same data gives the same
    directions). The authors use SVDLIBC's Lanczos; both compute the same subspace."""
    k = int(min(k, min(normalised_matrix.shape) - 1))
    if k < 1:
        return np.zeros((0, normalised_matrix.shape[1]), dtype=np.float32)
    start = np.random.default_rng(seed).standard_normal(min(normalised_matrix.shape))
    _, _, vt = svds(normalised_matrix.astype(np.float64), k=k, v0=start, solver="arpack")
    return np.ascontiguousarray(vt, dtype=np.float32)


class ItemGraph:
    """The filters of one training matrix, applied to dense (batch x n_items) rows."""

    def __init__(self, matrix: sp.csr_matrix, directions: np.ndarray) -> None:
        self.normalised, self.item_scale = normalised(matrix)
        csr = self.normalised
        # torch's sparse x dense product runs on every core, scipy's on one.
        self.forward = torch_csr(csr)
        self.backward = torch_csr(sp.csr_matrix(csr.T))
        self.directions = torch.from_numpy(np.ascontiguousarray(directions, dtype=np.float32))
        scale = self.item_scale
        self.unscale = torch.from_numpy(
            np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)
        )
        self.scale = torch.from_numpy(scale)

    def linear(self, rows: torch.Tensor) -> torch.Tensor:
        """rows P~ = (rows R~') R~, never forming P~."""
        users = torch.sparse.mm(self.forward, rows.T)  # (n_users, b) = R~ rows'
        return torch.sparse.mm(self.backward, users).T  # (b, n_items)

    def ideal(self, rows: torch.Tensor) -> torch.Tensor:
        """The ideal low-pass filter: rows D_i^-1/2 V V' D_i^1/2."""
        if not len(self.directions):
            return torch.zeros_like(rows)
        return ((rows * self.scale) @ self.directions.T @ self.directions) * self.unscale


def torch_csr(matrix: sp.csr_matrix) -> torch.Tensor:
    """A scipy CSR matrix as a float32 torch sparse CSR tensor (shared with lightgcn)."""
    with warnings.catch_warnings():  # "CSR support is in beta": it is what we need here
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)),
            torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data.astype(np.float32)),
            size=matrix.shape,
            check_invariants=False,  # scipy's CSR is valid by construction
        )


def profile_rows(profiles: list[np.ndarray], n_items: int) -> torch.Tensor:
    """(len(profiles), n_items) float32 binary rows of item-index profiles."""
    rows = torch.zeros((len(profiles), n_items), dtype=torch.float32)
    for row, profile in enumerate(profiles):
        if len(profile):
            rows[row, torch.from_numpy(np.unique(profile))] = 1.0
    return rows
