"""The matrix-factorisation module shared by BPR-MF and explicit MF."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def factor_embeddings(module: FactorModule) -> tuple:
    """(users, items) with the item bias folded in: u' = [p_u, 1], i' = [q_i, b_i]."""
    users = module.user.weight.detach().float().cpu().numpy()
    items = module.item.weight.detach().float().cpu().numpy()
    if module.item_bias is not None:
        bias = module.item_bias.detach().float().cpu().numpy()[:, None]
        users = np.hstack([users, np.ones((len(users), 1), dtype=np.float32)])
        items = np.hstack([items, bias])
    return users, items


class FactorModule(nn.Module):
    """score(u, i) = global bias + user bias + item bias + p_u . q_i (biases optional).

    users, items: long tensors of equal shape for ``forward``; ``all_items`` scores
    every item: (len(users), n_items).
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        factors: int,
        item_bias: bool = True,
        user_bias: bool = False,
        init_std: float = 0.1,
    ) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, factors)
        self.item = nn.Embedding(n_items, factors)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)
        self.item_bias = nn.Parameter(torch.zeros(n_items)) if item_bias else None
        self.user_bias = nn.Parameter(torch.zeros(n_users)) if user_bias else None
        self.global_bias = nn.Parameter(torch.zeros(())) if user_bias else None

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        score = (self.user(users) * self.item(items)).sum(-1)
        return score + self._biases(users, items)

    def all_items(self, users: torch.Tensor) -> torch.Tensor:
        score = self.user(users) @ self.item.weight.T
        if self.item_bias is not None:
            score = score + self.item_bias
        if self.user_bias is not None:
            score = score + self.user_bias[users][:, None] + self.global_bias
        return score

    def _biases(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        bias = torch.zeros((), device=users.device)
        if self.item_bias is not None:
            bias = bias + self.item_bias[items]
        if self.user_bias is not None:
            bias = bias + self.user_bias[users] + self.global_bias
        return bias
