"""EASE (Steck 2019): a closed-form item-item linear model.

B = argmin ||X - XB||^2 + l2 ||B||^2 with diag(B) = 0, solved as
P = (X'X + l2 I)^-1, B_ij = -P_ij / P_jj, B_jj = 0.

Everything stays float32 in one n_items x n_items buffer: the Gram matrix is built in
column blocks, inverted in place by Cholesky (LAPACK potrf + potri, about half the work
of a general inverse), mirrored and scaled in place. Peak memory is about one such
matrix, so gowalla's 40,981 items (6.3 GB) fit where a float64 implementation needs
four times that. The memory check runs before anything big is allocated.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack, solve_triangular

from ..data import Interactions
from ..memory import available_bytes, gigabytes
from .base import Callback, Recommender
from .registry import register_model

BLOCK = 4096  # columns of the Gram matrix built, or rows mirrored, at once
HEADROOM = 1.15  # the sparse products and scoring buffers beside the matrix


def ease_memory_bytes(n_items: int) -> int:
    return int(n_items * n_items * 4 * HEADROOM)


def check_memory(n_items: int, available: int | None = None) -> None:
    """Raise MemoryError with the numbers before allocating an n_items^2 matrix."""
    needed = ease_memory_bytes(n_items)
    available = available_bytes() if available is None else available
    if needed > available:
        raise MemoryError(
            f"EASE needs about {gigabytes(needed)} for {n_items:,} items (one float32 "
            f"{n_items:,} x {n_items:,} matrix) but only {gigabytes(available)} is available; "
            "use a machine with more memory, fewer items, or itemknn / slim"
        )


def gram_matrix(matrix: sp.csr_matrix, out: np.ndarray) -> np.ndarray:
    """out[:] = X'X (float32), one block of rows at a time (out must start zeroed).

    Sparse products are cheap here (their cost is the sum of squared profile sizes);
    each block is written straight into the rows of ``out`` it belongs to.
    """
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    transposed = sp.csr_matrix(matrix.T)
    for start in range(0, out.shape[0], BLOCK):
        stop = min(start + BLOCK, out.shape[0])
        (transposed[start:stop] @ matrix).toarray(out=out[start:stop])
    return out


LAPACK_MAX_BYTES = 2**31 - 1  # scipy's LAPACK indexes with 32-bit integers


def invert_in_place(symmetric: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite float32 C-ordered matrix, in place.

    LAPACK's potrf + potri when the matrix is under 2 GB; beyond that scipy's 32-bit
    LAPACK crashes (gowalla's matrix is 6.3 GB), so the blocked version does the same
    work in panel-sized BLAS calls, about 1.4x slower.
    """
    if symmetric.nbytes <= LAPACK_MAX_BYTES:
        return _lapack_inverse(symmetric)
    return blocked_inverse(symmetric)


def _lapack_inverse(symmetric: np.ndarray) -> np.ndarray:
    # The transpose of a C-ordered symmetric matrix is the same matrix in Fortran
    # order, which LAPACK overwrites without copying.
    factor, info = lapack.spotrf(symmetric.T, lower=1, overwrite_a=1, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError("the matrix is not positive definite; increase l2")
    _, info = lapack.spotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"inversion failed (LAPACK info {info})")
    # potri filled the upper triangle (in C order); mirror it into the lower one.
    n = len(symmetric)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        piece = symmetric[start:stop, start:stop]
        piece[:] = np.triu(piece) + np.triu(piece, 1).T
        if start:
            symmetric[start:stop, :start] = symmetric[:start, start:stop].T
    return symmetric


def blocked_inverse(symmetric: np.ndarray, block: int = 2048) -> np.ndarray:
    """In-place inverse by blocked Cholesky (potrf), triangular inverse (trtri) and the
    W'W product (lauum), each a sequence of panel-sized numpy BLAS calls; extra memory
    is a few (n x block) panels."""
    a = symmetric
    n = len(a)
    starts = list(range(0, n, block))

    # 1. Cholesky, lower: A = L L'. Only the lower triangle is read and written.
    for k0 in starts:
        k1 = min(k0 + block, n)
        try:
            factor = np.linalg.cholesky(a[k0:k1, k0:k1])
        except np.linalg.LinAlgError:
            raise np.linalg.LinAlgError(
                "the matrix is not positive definite; increase l2"
            ) from None
        a[k0:k1, k0:k1] = factor
        if k1 < n:
            panel = a[k1:, k0:k1]  # X L_kk' = A_ik
            panel[:] = solve_triangular(factor, panel.T, lower=True, check_finite=False).T
            for j0 in range(k1, n, block):
                j1 = min(j0 + block, n)
                a[j0:, j0:j1] -= panel[j0 - k1 :] @ panel[j0 - k1 : j1 - k1].T

    # 2. W = L^-1 in place, last block first: W_ik = -(W_ii.. L_.k) W_kk.
    for k0 in reversed(starts):
        k1 = min(k0 + block, n)
        inverse = solve_triangular(
            a[k0:k1, k0:k1], np.eye(k1 - k0, dtype=a.dtype), lower=True, check_finite=False
        )
        if k1 < n:
            panel = a[k1:, k0:k1].copy()  # still L's panel
            for i0 in range(k1, n, block):
                i1 = min(i0 + block, n)
                # row strip of the (already inverted, lower) trailing W, up to its diagonal
                a[i0:i1, k0:k1] = -((a[i0:i1, k1:i1] @ panel[: i1 - k1]) @ inverse)
        a[k0:k1, k0:k1] = inverse  # solve_triangular leaves exact zeros above the diagonal

    # 3. P = W'W, lower blocks, top block row first: row i only needs rows >= i of W.
    for i0 in starts:
        i1 = min(i0 + block, n)
        a[i0:i1, :i1] = a[i0:, i0:i1].T @ a[i0:, :i1]

    # 4. Mirror the strictly lower blocks into the upper ones (diagonal blocks are full).
    for i0 in starts:
        i1 = min(i0 + block, n)
        if i0:
            a[:i0, i0:i1] = a[i0:i1, :i0].T
    return a


@register_model
class EASE(Recommender):
    name = "ease"
    defaults = {"l2": 500.0}
    description = "Closed-form item-item model with an L2 penalty and a zero diagonal."
    grid = {"l2": [100.0, 300.0, 1000.0, 3000.0]}

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        n = train.n_items
        check_memory(n)
        weights = np.zeros((n, n), dtype=np.float32)
        gram_matrix(train.matrix(), weights)
        if callback is not None:
            callback(0.2, "Gram matrix built")
        weights[np.diag_indices(n)] += np.float32(self.hyperparameters["l2"])
        invert_in_place(weights)
        if callback is not None:
            callback(0.9, "inverted")
        diagonal = np.diag(weights).copy()
        weights /= -diagonal[None, :]
        weights[np.diag_indices(n)] = 0.0
        self.weights = weights

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.seen_matrix()[users] @ self.weights, dtype=np.float32)

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        scores = np.zeros((len(profiles), self.n_items), dtype=np.float32)
        for row, profile in enumerate(profiles):
            if len(profile):
                scores[row] = self.weights[np.unique(profile)].sum(axis=0)
        return scores

    def _weights(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.weights = weights["weights"]
