"""DeepFM (Guo et al. 2017): a factorisation machine and an MLP sharing one embedding.

logit(u, i) = first-order + FM pairwise + deep(u, i), trained with binary cross-entropy
on the training pairs and ``negatives`` sampled negatives each (recengine.models.ctr).

The features of a pair are the user id and the work id (value 1 each) and the work's
attribute columns (value 1/count within their field, so a multi-hot field such as style
tags is mean-pooled). With x_j those values and v_j their shared embeddings:
    first-order = bias + sum_j w_j x_j
    FM pairwise = sum_{j < k} x_j x_k <v_j, v_k> = 1/2 (|sum_j x_j v_j|^2 - sum_j x_j^2 |v_j|^2)
The deep part reads the same embeddings, per field (user, work id, each attribute field
pooled) plus the work's standardised image features, which only the deep part sees (a
dense vector is not a sparse feature with one embedding). As the user's features are just
its id, the pairwise term splits into <v_u, s_i> + 1/2 (|s_i|^2 - q_i) with s_i, q_i
per work, so scoring every work is one matrix product.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .ctr import CTRRecommender, ctr_defaults
from .ctr_fields import DeepTower, FieldEmbeddings, deep_inputs
from .registry import register_model


class DeepFMModule(nn.Module):
    def __init__(self, shape: dict[str, Any]) -> None:
        super().__init__()
        pad = shape["n_attributes"]
        self.bias = nn.Parameter(torch.zeros(()))
        self.linear_user = nn.Embedding(shape["n_users"], 1)
        self.linear_item = nn.Embedding(shape["n_items"] + 1, 1, padding_idx=shape["n_items"])
        self.linear_attribute = nn.Embedding(pad + 1, 1, padding_idx=pad)
        for table in (self.linear_user, self.linear_item, self.linear_attribute):
            nn.init.zeros_(table.weight)
        self.embeddings = FieldEmbeddings(shape)
        n_fields = 1 + len(shape["widths"])
        item_dim = n_fields * shape["dim"] + shape["n_features"]
        self.deep = DeepTower(shape["dim"], item_dim, shape["hidden"], shape["dropout"])

    def _items(self, rows, slots, weights, features) -> tuple[torch.Tensor, ...]:
        """Per work: first-order terms (m,), s_i (m, d), q_i (m,), deep inputs (m, di)."""
        vectors, columns = self.embeddings.items(rows, slots, weights)
        first = self.linear_item(rows).squeeze(-1)
        first = first + (self.linear_attribute(slots).squeeze(-1) * weights).sum(-1)
        total = vectors + columns.sum(1)
        squares = vectors.pow(2).sum(-1) + columns.pow(2).sum((1, 2))
        deep = deep_inputs(self.embeddings.pooled(vectors, columns), features)
        return first, total, squares, deep

    def fm(self, users, rows, slots, weights) -> torch.Tensor:
        """(n,) FM pairwise term of (user, work) pairs."""
        _, total, squares, _ = self._items(rows, slots, weights, None)
        user = self.embeddings.user(users)
        return (user * total).sum(-1) + 0.5 * (total.pow(2).sum(-1) - squares)

    def forward(self, users, rows, slots, weights, features, crosses=None) -> torch.Tensor:
        first, total, squares, deep = self._items(rows, slots, weights, features)
        user = self.embeddings.user(users)
        pairwise = (user * total).sum(-1) + 0.5 * (total.pow(2).sum(-1) - squares)
        linear = self.bias + self.linear_user(users).squeeze(-1) + first
        return linear + pairwise + self.deep(user, deep)

    def grid(self, users, rows, slots, weights, features, crosses=None) -> torch.Tensor:
        """users (b,), works (m,) -> (b, m)"""
        first, total, squares, deep = self._items(rows, slots, weights, features)
        user = self.embeddings.user(users)
        pairwise = user @ total.T + 0.5 * (total.pow(2).sum(-1) - squares)[None, :]
        linear = self.bias + self.linear_user(users) + first[None, :]
        return linear + pairwise + self.deep.grid(user, deep)


@register_model
class DeepFM(CTRRecommender):
    name = "deepfm"
    module_class = DeepFMModule
    defaults = ctr_defaults()
    description = (
        "DeepFM: a factorisation machine over user, work and attribute fields plus an MLP "
        "on the same embeddings and the image features."
    )
    grid = {"lr": [1e-3, 3e-3], "negatives": [2, 4]}
    smoke = {"epochs": 2, "dim": 4, "hidden": [8], "batch_size": 8}
