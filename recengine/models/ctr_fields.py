"""Field layout and network pieces of the CTR-style rankers (recengine.models.ctr).

Attribute columns are grouped into fields by the part of their name before "="; each
work's active columns become fixed slots, field after field, so a batch of works is a
dense (n, S) index and weight table and a field's pooled embedding is a sum over its
slots. FieldEmbeddings holds the user, work-id and column embeddings; DeepTower is the
MLP both models put on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn


def attribute_fields(names: Sequence[str]) -> list[str]:
    """Field of each attribute column: "artist=12" -> "artist"."""
    return [str(n).partition("=")[0] if "=" in str(n) else "attribute" for n in names]


def item_slots(
    attributes: sp.spmatrix, column_field: np.ndarray, widths: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Each work's active columns as fixed slots, field after field.

    Returns index (n_items, S) int64 column ids (n_attributes = empty slot), weight
    (n_items, S) float32 (1/count of the field's active columns, 0 when empty) and the
    slots per field. ``widths`` None: as many as the fullest training work needs; given
    (a new work): a work with more columns in a field than that keeps the first ones.
    """
    attributes = sp.csr_matrix(attributes, dtype=np.float32)
    n_items, n_attributes = attributes.shape
    n_fields = int(column_field.max(initial=-1)) + 1
    indices, weights, used = [], [], []
    for field in range(n_fields):
        columns = np.flatnonzero(column_field == field)
        sub = sp.csr_matrix(attributes[:, columns])
        sub.eliminate_zeros()
        sub.sort_indices()
        counts = np.diff(sub.indptr)
        width = int(counts.max(initial=0)) if widths is None else int(widths[field])
        rows = np.repeat(np.arange(n_items), counts)
        position = np.arange(sub.nnz) - np.repeat(sub.indptr[:-1], counts)
        keep = position < width
        index = np.full((n_items, width), n_attributes, dtype=np.int64)
        weight = np.zeros((n_items, width), dtype=np.float32)
        index[rows[keep], position[keep]] = columns[sub.indices[keep]]
        weight[rows[keep], position[keep]] = 1.0 / np.minimum(counts, width)[rows[keep]]
        indices.append(index)
        weights.append(weight)
        used.append(width)
    if not indices:
        return np.zeros((n_items, 0), np.int64), np.zeros((n_items, 0), np.float32), []
    return np.concatenate(indices, axis=1), np.concatenate(weights, axis=1), used


class FieldEmbeddings(nn.Module):
    """Embeddings of the user, the work id and each attribute column.

    ``items`` returns the work id's vector and, per field, the weighted sum of its active
    columns' vectors (empty slots point at the zero padding row).
    """

    def __init__(self, shape: dict[str, Any]) -> None:
        super().__init__()
        dim, pad = shape["dim"], shape["n_attributes"]
        self.user = nn.Embedding(shape["n_users"], dim)
        # + the unknown-work row: fixed at zero, a work without an id says nothing by it
        self.item = nn.Embedding(shape["n_items"] + 1, dim, padding_idx=shape["n_items"])
        self.attribute = nn.Embedding(pad + 1, dim, padding_idx=pad)
        for table in (self.user, self.item, self.attribute):
            nn.init.normal_(table.weight, std=0.01)
            if table.padding_idx is not None:
                nn.init.zeros_(table.weight[table.padding_idx])
        bounds = np.cumsum([0, *shape["widths"]]).tolist()
        self.spans = list(zip(bounds[:-1], bounds[1:], strict=True))

    def items(self, rows, slots, weights) -> tuple[torch.Tensor, torch.Tensor]:
        """rows (n,), slots/weights (n, S) -> (id vectors (n, d), weighted columns (n, S, d))"""
        return self.item(rows), self.attribute(slots) * weights[..., None]

    def pooled(self, item_vectors, columns) -> torch.Tensor:
        """(n, 1 + n_fields, d): the id vector, then each field's pooled columns."""
        fields = [columns[:, a:b].sum(1) for a, b in self.spans]
        return torch.stack([item_vectors, *fields], dim=1)


class DeepTower(nn.Module):
    """An MLP on [user embedding; work inputs] -> one logit.

    The first layer is split into a user and a work half (the same linear map as on the
    concatenation), so scoring a block of users against every work computes each half
    once and adds them, instead of building every (user, work) concatenation.
    """

    def __init__(self, user_dim: int, item_dim: int, hidden: list[int], dropout: float):
        super().__init__()
        self.user_in = nn.Linear(user_dim, hidden[0], bias=False)
        self.item_in = nn.Linear(item_dim, hidden[0])
        layers: list[nn.Module] = []
        for size, following in zip(hidden, [*hidden[1:], 1], strict=True):
            layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(size, following)]
        self.rest = nn.Sequential(*layers)

    def forward(self, user_vectors, item_inputs) -> torch.Tensor:
        """(n, du), (n, di) -> (n,)"""
        return self.rest(self.user_in(user_vectors) + self.item_in(item_inputs)).squeeze(-1)

    def grid(self, user_vectors, item_inputs) -> torch.Tensor:
        """(b, du), (m, di) -> (b, m)"""
        hidden = self.user_in(user_vectors)[:, None, :] + self.item_in(item_inputs)[None]
        return self.rest(hidden).squeeze(-1)


def deep_inputs(pooled: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
    flat = pooled.flatten(1)
    return flat if features is None else torch.cat([flat, features], dim=1)
