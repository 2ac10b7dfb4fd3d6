"""What the click-through-rate style rankers (Wide & Deep, DeepFM) share.

Each (user, work) pair is described by fields: the user id, the work id, one field per
attribute family of ``item_attributes`` (the part of a column name before "=": "artist",
"medium", "style", "price_band", ...; names without "=" form one "attribute" field), and,
when the data has them, the work's standardised image features as a dense input to the
deep part. Multi-hot fields (several style tags) are mean-pooled: each active column of a
field weighs 1/count, so every field has the same mass whatever the number of tags.

Training is pointwise: every training pair is a positive, each with ``negatives`` works
drawn uniformly among those the user never touched, under binary cross-entropy, through
the shared loop (recengine.training).

Cold start: the work-id tables have one extra "unknown work" row, fixed at zero (a
padding row: no id, no opinion, no learned prior against unseen works). Works nobody
touched in training (their own id would only have learned "sampled as a negative") and
works added later (``add_items``) use it, and during training each id is replaced by it
with probability ``item_dropout``, so the rest of the model learns to score a work from
its attributes and features alone. Field layout and layers: recengine.models.ctr_fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from ..triplets import UniformTriplets
from .ctr_fields import attribute_fields, item_slots
from .gradient import Batches, GradientRecommender, with_training_defaults

PAIR_BUDGET = 1 << 16  # (user, work) pairs through the deep tower at once when scoring
SEEN_SHIFT = 1 << 32  # seen-pair key = user * SEEN_SHIFT + item


def ctr_defaults(**model_defaults: Any) -> dict[str, Any]:
    return with_training_defaults(
        **{
            "dim": 32,  # embedding size of every field
            "hidden": [128, 64],  # deep tower layers
            "dropout": 0.1,
            "negatives": 4,  # sampled negatives per positive
            "item_dropout": 0.1,  # chance a training work is seen as "unknown work"
            "use_features": True,  # image features into the deep part when the data has them
            "lr": 1e-3,
            "epochs": 30,
            "batch_size": 1024,  # positives per batch (each with its negatives)
            **model_defaults,
        }
    )


def _lookup(keys: torch.Tensor, values: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """values[k] where keys[k] == query, else 0 (keys sorted)."""
    if keys.numel() == 0:
        return torch.zeros(queries.shape, dtype=values.dtype, device=queries.device)
    flat = queries.reshape(-1).contiguous()
    position = torch.searchsorted(keys, flat).clamp(max=len(keys) - 1)
    found = torch.where(keys[position] == flat, values[position], torch.zeros_like(values[0]))
    return found.reshape(queries.shape)


class CTRRecommender(GradientRecommender):
    """Subclasses set ``module_class`` (a module built from the shape dict, with
    ``forward(users, rows, slots, weights, features, crosses) -> (n,)`` and
    ``grid(users, rows, slots, weights, features, crosses) -> (b, m)``) and
    ``uses_crosses`` (whether it wants the user-profile x work-attribute crosses)."""

    module_class: ClassVar[type[nn.Module]]
    uses_crosses: ClassVar[bool] = False

    def __init__(self, **hyperparameters: Any) -> None:
        super().__init__(**hyperparameters)
        h = self.hyperparameters
        if int(h["negatives"]) < 1 or not list(h["hidden"]):
            raise ValueError(f"{self.name} needs negatives >= 1 and at least one hidden layer")
        if not 0.0 <= float(h["item_dropout"]) < 1.0:
            raise ValueError("item_dropout must be in [0, 1)")
        self._tensors: SimpleNamespace | None = None
        self._profile: SimpleNamespace | None = None

    # ----------------------------------------------------------- data
    def _prepare(self, train: Interactions) -> dict[str, Any]:
        h = self.hyperparameters
        self.triplets_ = UniformTriplets(train.matrix())
        attributes = train.item_attributes
        if attributes is None:
            attributes = sp.csr_matrix((train.n_items, 0), dtype=np.float32)
        names = attribute_fields([] if train.attribute_names is None else train.attribute_names)
        order = list(dict.fromkeys(names))
        self.attribute_field_ = np.array([order.index(n) for n in names], dtype=np.int64)
        self.slot_index_, self.slot_weight_, widths = item_slots(attributes, self.attribute_field_)
        self.features_ = self.feature_mean_ = self.feature_std_ = None
        if h["use_features"] and train.item_features is not None:
            features = np.asarray(train.item_features, dtype=np.float32)
            self.feature_mean_ = features.mean(axis=0)
            self.feature_std_ = features.std(axis=0) + 1e-6
            self.features_ = (features - self.feature_mean_) / self.feature_std_
        # An id embedding pushed only by sampled negatives says nothing: untouched works
        # share the unknown-work row with works listed later.
        self.item_rows_ = np.where(
            train.item_popularity() > 0, np.arange(train.n_items), train.n_items
        ).astype(np.int64)
        self._tensors = self._profile = None
        return {
            "n_users": train.n_users,
            "n_items": train.n_items,  # id rows; the unknown-work row is n_items
            "n_attributes": attributes.shape[1],
            "fields": order,
            "widths": widths,
            "n_features": 0 if self.features_ is None else self.features_.shape[1],
            "dim": int(h["dim"]),
            "hidden": [int(size) for size in h["hidden"]],
            "dropout": float(h["dropout"]),
        }

    def _make_module(self, shape: dict[str, Any]) -> nn.Module:
        return self.module_class(shape)

    def _item_tensors(self) -> SimpleNamespace:
        if self._tensors is None:
            device = self.device_
            self._tensors = SimpleNamespace(
                rows=torch.as_tensor(self.item_rows_, device=device),
                slots=torch.as_tensor(self.slot_index_, device=device),
                weights=torch.as_tensor(self.slot_weight_, device=device),
                features=None
                if self.features_ is None
                else torch.as_tensor(self.features_, device=device),
            )
        return self._tensors

    def _profile_tensors(self) -> SimpleNamespace:
        """Sorted keys of (user, column) -> how many of the user's works have the column,
        and of the user's training (user, work) pairs."""
        if self._profile is None:
            n_columns = self.shape_["n_attributes"] + 1
            used = self.slot_index_ < self.shape_["n_attributes"]
            rows = np.repeat(np.arange(self.n_items), used.sum(axis=1))
            columns = sp.csr_matrix(
                (np.ones(len(rows), np.float32), (rows, self.slot_index_[used])),
                shape=(self.n_items, n_columns),
            )
            counts = sp.csr_matrix(self.seen_matrix() @ columns)
            users = np.repeat(np.arange(self.n_users), np.diff(counts.indptr))
            keys = users * n_columns + counts.indices
            order = np.argsort(keys)
            seen_users = np.repeat(np.arange(self.n_users), np.diff(self._seen_indptr))
            seen = np.sort(seen_users * SEEN_SHIFT + self._seen_indices)
            device = self.device_
            self._profile = SimpleNamespace(
                keys=torch.as_tensor(keys[order], dtype=torch.long, device=device),
                counts=torch.as_tensor(counts.data[order], dtype=torch.float32, device=device),
                seen=torch.as_tensor(seen, dtype=torch.long, device=device),
                ones=torch.ones(len(seen), dtype=torch.float32, device=device),
            )
        return self._profile

    def _crosses(self, users, items, slots) -> torch.Tensor:
        """1.0 where the user has another training work with the slot's column, else 0.

        users, items: broadcastable (...) long tensors; slots: (..., S). "Another": the
        pair's own work does not count, or every positive would carry its own crosses
        while the works to rank never do.
        """
        profile = self._profile_tensors()
        codes = users[..., None] * (self.shape_["n_attributes"] + 1) + slots
        count = _lookup(profile.keys, profile.counts, codes)
        own = _lookup(profile.seen, profile.ones, users * SEEN_SHIFT + items)
        return (count - own[..., None] > 0).float()

    # ----------------------------------------------------------- training
    def _batches(self, epoch: int) -> Batches:
        h = self.hyperparameters
        size, ratio = int(h["batch_size"]), int(h["negatives"])
        drop, unknown = float(h["item_dropout"]), self.shape_["n_items"]

        def make():
            for users, positives, negative in self.triplets_.epoch(self.rng_, size):
                more = np.repeat(users, ratio - 1)
                items = np.concatenate(
                    [positives, negative, self.triplets_.negatives(self.rng_, more)]
                )
                everyone = np.concatenate([users, users, more])
                labels = np.zeros(len(items), dtype=np.float32)
                labels[: len(users)] = 1.0
                rows = self.item_rows_[items].copy()
                rows[self.rng_.random(len(rows)) < drop] = unknown
                yield everyone, items, rows, labels

        return Batches(make, self.triplets_.n_batches(size), self.device_)

    def _logits(self, module, users, items, rows) -> torch.Tensor:
        """(n,) logits of (user, work) pairs, ``rows`` the works' id rows."""
        t = self._item_tensors()
        slots, weights = t.slots[items], t.weights[items]
        features = None if t.features is None else t.features[items]
        crosses = self._crosses(users, items, slots) if self.uses_crosses else None
        return module(users, rows, slots, weights, features, crosses)

    def _loss(self, module, batch) -> torch.Tensor:
        users, items, rows, labels = batch
        logits = self._logits(module, users, items, rows)
        return F.binary_cross_entropy_with_logits(logits.float(), labels)

    def _release_training_state(self) -> None:
        self.triplets_ = None

    # ----------------------------------------------------------- scoring
    def _user_scores(self, module, users: torch.Tensor) -> torch.Tensor:
        t = self._item_tensors()
        n_items = t.rows.shape[0]
        step = max(1, PAIR_BUDGET // max(len(users), 1))
        parts = []
        for start in range(0, n_items, step):
            items = torch.arange(start, min(start + step, n_items), device=users.device)
            slots = t.slots[items]
            crosses = None
            if self.uses_crosses:
                crosses = self._crosses(users[:, None], items[None, :], slots[None])
            features = None if t.features is None else t.features[items]
            parts.append(
                module.grid(users, t.rows[items], slots, t.weights[items], features, crosses)
            )
        return torch.cat(parts, dim=1)

    def _pair_scores(self, module, users, items) -> torch.Tensor:
        flat = items.reshape(-1)
        repeated = users[:, None].expand_as(items).reshape(-1)
        rows = self._item_tensors().rows[flat]
        return self._logits(module, repeated, flat, rows).reshape(items.shape)

    # ----------------------------------------------------------- cold start
    def add_items(
        self,
        item_ids: Sequence[str],
        features: np.ndarray | None = None,
        images: Sequence | None = None,
        attributes: sp.spmatrix | np.ndarray | None = None,
    ) -> None:
        """New works use the unknown-work id row, their ``attributes`` ((n, n_attributes)
        in the training columns' order; none: no attribute known) and their image
        ``features`` (none: the average work's). ``images`` are not read: these models
        take precomputed features."""
        self._require_fitted()
        n, shape = len(item_ids), self.shape_
        if attributes is None:
            attributes = sp.csr_matrix((n, shape["n_attributes"]), dtype=np.float32)
        attributes = sp.csr_matrix(attributes, dtype=np.float32)
        if attributes.shape != (n, shape["n_attributes"]):
            raise ValueError(f"attributes must have shape ({n}, {shape['n_attributes']})")
        new_features = None
        if self.features_ is not None:
            new_features = np.zeros((n, shape["n_features"]), dtype=np.float32)
            if features is not None:
                features = np.asarray(features, dtype=np.float32)
                if features.shape != new_features.shape:
                    raise ValueError(f"features must have shape {new_features.shape}")
                new_features = (features - self.feature_mean_) / self.feature_std_
        index, weight, _ = item_slots(attributes, self.attribute_field_, shape["widths"])
        self._extend_catalogue(item_ids)
        self.item_rows_ = np.concatenate([self.item_rows_, np.full(n, shape["n_items"])])
        self.slot_index_ = np.concatenate([self.slot_index_, index])
        self.slot_weight_ = np.concatenate([self.slot_weight_, weight])
        if new_features is not None:
            self.features_ = np.concatenate([self.features_, new_features])
        self._tensors = self._profile = None

    # ----------------------------------------------------------- persistence
    def _weights(self) -> dict[str, np.ndarray]:
        weights = {
            **super()._weights(),
            "item_rows": self.item_rows_,
            "slot_index": self.slot_index_,
            "slot_weight": self.slot_weight_,
            "attribute_field": self.attribute_field_,
        }
        if self.features_ is not None:
            weights.update(
                features=self.features_,
                feature_mean=self.feature_mean_,
                feature_std=self.feature_std_,
            )
        return weights

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.item_rows_ = weights.pop("item_rows")
        self.slot_index_ = weights.pop("slot_index")
        self.slot_weight_ = weights.pop("slot_weight")
        self.attribute_field_ = weights.pop("attribute_field")
        self.features_ = weights.pop("features", None)
        self.feature_mean_ = weights.pop("feature_mean", None)
        self.feature_std_ = weights.pop("feature_std", None)
        self._tensors = self._profile = None
        super()._set_weights(weights)
