"""Wide & Deep (Cheng et al. 2016): a wide linear model and a deep MLP trained jointly.

logit(u, i) = wide(u, i) + deep(u, i), trained with binary cross-entropy on the training
pairs and ``negatives`` sampled negatives each (recengine.models.ctr).

wide: a logistic regression over sparse binary features and their cross products:
    bias + w_user[u] + w_item[i] + sum_{a in attributes(i)} (w_attr[a] + w_cross[a] * c_ua)
    with the cross c_ua = AND(u has another training work with attribute a, i has a),
    e.g. "collects artist=12" x "is by artist=12", "bought style=abstract" x "is
    abstract": the paper's installed-app x impression-app crosses, on a collector's
    history. One cross weight per attribute column keeps the wide part O(n_attributes)
    (all column pairs would be O(n_attributes^2)). "Another": the pair's own work does
    not count, otherwise every positive would carry its own crosses.
deep: embeddings of the user, the work id and each attribute field (multi-hot fields
    mean-pooled), plus the work's standardised image features, through an MLP.

Unlike the paper (FTRL with L1 for the wide part, AdaGrad for the deep part) one
optimiser trains both, the shared loop's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .ctr import CTRRecommender, ctr_defaults
from .ctr_fields import DeepTower, FieldEmbeddings, deep_inputs
from .registry import register_model


class WideDeepModule(nn.Module):
    def __init__(self, shape: dict[str, Any]) -> None:
        super().__init__()
        pad = shape["n_attributes"]
        self.wide_bias = nn.Parameter(torch.zeros(()))
        self.wide_user = nn.Embedding(shape["n_users"], 1)
        self.wide_item = nn.Embedding(shape["n_items"] + 1, 1, padding_idx=shape["n_items"])
        self.wide_attribute = nn.Embedding(pad + 1, 1, padding_idx=pad)
        self.wide_cross = nn.Embedding(pad + 1, 1, padding_idx=pad)
        for table in (self.wide_user, self.wide_item, self.wide_attribute, self.wide_cross):
            nn.init.zeros_(table.weight)
        self.embeddings = FieldEmbeddings(shape)
        n_fields = 1 + len(shape["widths"])
        item_dim = n_fields * shape["dim"] + shape["n_features"]
        self.deep = DeepTower(shape["dim"], item_dim, shape["hidden"], shape["dropout"])

    def _wide_item(self, rows, slots, crosses) -> torch.Tensor:
        """Per-work wide terms (...) and the cross term (..., with crosses' leading dims)."""
        item = self.wide_item(rows).squeeze(-1) + self.wide_attribute(slots).squeeze(-1).sum(-1)
        cross = (self.wide_cross(slots).squeeze(-1) * crosses).sum(-1)
        return item, cross

    def wide(self, users, rows, slots, crosses) -> torch.Tensor:
        """(n,) wide logits of (user, work) pairs; crosses (n, S) from the recommender."""
        item, cross = self._wide_item(rows, slots, crosses)
        return self.wide_bias + self.wide_user(users).squeeze(-1) + item + cross

    def _deep_items(self, rows, slots, weights, features) -> torch.Tensor:
        vectors, columns = self.embeddings.items(rows, slots, weights)
        return deep_inputs(self.embeddings.pooled(vectors, columns), features)

    def forward(self, users, rows, slots, weights, features, crosses) -> torch.Tensor:
        deep = self.deep(
            self.embeddings.user(users), self._deep_items(rows, slots, weights, features)
        )
        return self.wide(users, rows, slots, crosses) + deep

    def grid(self, users, rows, slots, weights, features, crosses) -> torch.Tensor:
        """users (b,), works (m,) with crosses (b, m, S) -> (b, m)"""
        item, cross = self._wide_item(rows, slots, crosses)
        wide = self.wide_bias + self.wide_user(users) + item[None, :] + cross
        items = self._deep_items(rows, slots, weights, features)
        return wide + self.deep.grid(self.embeddings.user(users), items)


@register_model
class WideDeep(CTRRecommender):
    name = "widedeep"
    module_class = WideDeepModule
    uses_crosses = True
    defaults = ctr_defaults()
    description = (
        "Wide & Deep: a linear model on ids, attributes and collector x attribute crosses, "
        "plus an MLP on embeddings and image features."
    )
    grid = {"lr": [1e-3, 3e-3], "negatives": [2, 4]}
    smoke = {"epochs": 2, "dim": 4, "hidden": [8], "batch_size": 8}

    @torch.no_grad()
    def wide_crosses(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(n, S) crosses of (user, work) pairs, aligned with ``slot_index_[items]``."""
        self._require_fitted()
        device = self.device_
        u = torch.as_tensor(users, dtype=torch.long, device=device)
        i = torch.as_tensor(items, dtype=torch.long, device=device)
        return self._crosses(u, i, self._item_tensors().slots[i]).cpu().numpy()
