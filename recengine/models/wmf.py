"""WMF: implicit matrix factorisation with confidence-weighted squared error (Hu,
Koren and Volinsky 2008), fitted by alternating least squares.

Every (user, item) cell is regressed to p = 1 if seen else 0 with confidence
c = 1 + alpha * r (r = 1 for a seen pair). Each half step solves the per-user (or
per-item) normal equations with a few conjugate-gradient steps warm-started from the
previous solution, as the implicit library does; it only touches the nonzeros, so a
step costs O(nnz * factors) instead of O(nnz * factors^2).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..data import Interactions
from ..device import resolve_device, seed_everything
from .base import Callback, Recommender
from .registry import register_model


def _conjugate_gradient_side(
    x: torch.Tensor,
    y: torch.Tensor,
    matrix: sp.csr_matrix,
    alpha: float,
    reg: float,
    steps: int,
) -> torch.Tensor:
    """One ALS half step: new rows of ``x`` given the fixed factors ``y``.

    Solves (Y'Y + Y'(C_u - I)Y + reg I) x_u = Y'C_u p_u for every row u of ``matrix``.
    x: (n, f), y: (m, f), matrix: (n, m) binary CSR.
    """
    device = x.device
    rows = torch.as_tensor(
        np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr)), device=device
    )
    cols = torch.as_tensor(matrix.indices.astype(np.int64), device=device)
    y_cols = y[cols]  # (nnz, f)
    gram = y.T @ y + reg * torch.eye(y.shape[1], device=device, dtype=y.dtype)
    # right-hand side: sum over the row's items of c_ui * y_i, c_ui = 1 + alpha
    rhs = torch.zeros_like(x).index_add_(0, rows, (1.0 + alpha) * y_cols)

    def apply(v: torch.Tensor) -> torch.Tensor:
        # (Y'Y + reg I) v + sum_i alpha * y_i (y_i . v), only over the nonzeros
        out = v @ gram
        along = (y_cols * v[rows]).sum(dim=1, keepdim=True)
        return out.index_add_(0, rows, alpha * along * y_cols)

    residual = rhs - apply(x)
    direction = residual.clone()
    old = (residual * residual).sum(dim=1)
    tiny = torch.finfo(x.dtype).tiny
    for _ in range(steps):
        applied = apply(direction)
        step = old / (direction * applied).sum(dim=1).clamp_min(tiny)
        x = x + step[:, None] * direction
        residual = residual - step[:, None] * applied
        new = (residual * residual).sum(dim=1)
        direction = residual + (new / old.clamp_min(tiny))[:, None] * direction
        old = new
    return x


@register_model
class WMF(Recommender):
    name = "wmf"
    defaults = {
        "factors": 64,
        "alpha": 40.0,
        "reg": 0.01,
        "iterations": 15,
        "cg_steps": 3,
        "seed": 0,
        "device": "auto",
    }
    description = "Implicit MF, confidence-weighted squared error, alternating least squares."
    grid = {"alpha": [10.0, 40.0], "reg": [0.01, 1.0, 10.0]}

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        h = self.hyperparameters
        seed_everything(h["seed"])
        device = resolve_device(h["device"])
        matrix = train.matrix()
        transposed = sp.csr_matrix(matrix.T)
        factors = int(h["factors"])
        generator = torch.Generator().manual_seed(int(h["seed"]))
        users = (torch.rand(train.n_users, factors, generator=generator) * 0.01).to(device)
        items = (torch.rand(train.n_items, factors, generator=generator) * 0.01).to(device)
        alpha, reg, steps = float(h["alpha"]), float(h["reg"]), int(h["cg_steps"])
        for iteration in range(1, int(h["iterations"]) + 1):
            users = _conjugate_gradient_side(users, items, matrix, alpha, reg, steps)
            items = _conjugate_gradient_side(items, users, transposed, alpha, reg, steps)
            if callback is not None:
                callback(
                    iteration / h["iterations"],
                    f"ALS iteration {iteration}/{h['iterations']}",
                    epoch=iteration,
                    epochs=int(h["iterations"]),
                )
        self.user_factors = users.cpu().numpy()
        self.item_factors = items.cpu().numpy()

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors[users] @ self.item_factors.T

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.einsum("uf,umf->um", self.user_factors[users], self.item_factors[items])

    def embeddings(self):
        return self.user_factors, self.item_factors

    def _weights(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.user_factors = weights["user_factors"]
        self.item_factors = weights["item_factors"]
