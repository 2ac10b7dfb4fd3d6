"""Caser (Tang & Wang 2018): convolutional sequence embedding of a user's last L items.

The embeddings of the last ``L`` items form an L x d "image". ``n_h`` horizontal filters
of each height 1..L (ReLU, max-pooled over time) catch union-level and point-level
sequential patterns; ``n_v`` vertical L x 1 filters (no activation, as in the authors'
code) weight the L items. Their outputs, after dropout, go through a fully connected
layer (ReLU) to z; [z; P_u] is scored against per-item output vectors W_j plus a bias b_j.

Training instances are every position of a user's time-ordered training sequence with
at least one earlier item: the previous L items (left-padded with a zero embedding) and
the next ``T`` items as positives, with ``negatives`` uniform items the user never
interacted with; the loss is binary cross-entropy. Defaults are the authors' (d = 50,
n_v = 4, n_h = 16, dropout 0.5, Adam lr 1e-3, L2 1e-6, batch 512, 3 negatives), with
L = 5 and T = 1.

A training user is scored from their last L training items and their user embedding.
``score_profiles`` reads each profile's last L items (time order, oldest first) with a
zero user vector, the sequence-only part of the model, so train + validation sequences
or a new visitor's picks are scored without retraining.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from .gradient import Batches, with_training_defaults
from .registry import register_model
from .sequences import SequentialRecommender, sample_unseen, windows


class CaserModule(nn.Module):
    def __init__(
        self, n_users: int, n_items: int, dim: int, L: int, n_v: int, n_h: int, dropout: float
    ) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=0)  # row 0: padding
        self.vertical = nn.Conv2d(1, n_v, (L, 1))
        self.horizontal = nn.ModuleList(nn.Conv2d(1, n_h, (h, dim)) for h in range(1, L + 1))
        self.fc = nn.Linear(n_v * dim + n_h * L, dim)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Embedding(n_items, 2 * dim)  # W2
        self.bias = nn.Parameter(torch.zeros(n_items))  # b2
        # The authors' initialisation: N(0, 1/d) embeddings.
        nn.init.normal_(self.user.weight, std=1.0 / dim)
        nn.init.normal_(self.item.weight, std=1.0 / dim)
        nn.init.normal_(self.output.weight, std=1.0 / (2 * dim))
        with torch.no_grad():
            self.item.weight[0].zero_()

    def represent(self, window: torch.Tensor, user: torch.Tensor) -> torch.Tensor:
        """(b, 2d) [z; P_u] from right-aligned shifted windows (b, L) and user vectors."""
        image = self.item(window)[:, None]  # (b, 1, L, d)
        vertical = self.vertical(image).flatten(1)
        horizontal = [
            F.relu(conv(image).squeeze(3)).amax(dim=2) for conv in self.horizontal
        ]  # each (b, n_h)
        z = F.relu(self.fc(self.dropout(torch.cat([vertical, *horizontal], dim=1))))
        return torch.cat([z, user], dim=1)


@register_model
class Caser(SequentialRecommender):
    name = "caser"
    defaults = with_training_defaults(
        dim=50,
        L=5,
        T=1,
        n_v=4,
        n_h=16,
        dropout=0.5,
        negatives=3,
        lr=1e-3,
        weight_decay=1e-6,
        batch_size=512,
        epochs=50,
    )
    description = "Caser: convolutions over the embeddings of a user's last L works."
    grid = {"L": [3, 5], "dropout": [0.3, 0.5]}
    smoke = {"epochs": 2, "dim": 8, "L": 3, "n_v": 2, "n_h": 2, "batch_size": 8}

    def _shape(self, train: Interactions) -> dict:
        h = self.hyperparameters
        T = int(h["T"])
        # Every target position with an earlier item and T items from it to the end.
        lengths = np.diff(self.seq_indptr_)
        count = np.maximum(lengths - T, 0)
        self.instance_user_ = np.repeat(np.arange(train.n_users), count)
        within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        self.instance_target_ = self.seq_indptr_[self.instance_user_] + 1 + within
        return {
            "n_users": train.n_users,
            "n_items": train.n_items,
            "dim": int(h["dim"]),
            "L": int(h["L"]),
            "n_v": int(h["n_v"]),
            "n_h": int(h["n_h"]),
        }

    def _make_module(self, shape: dict) -> CaserModule:
        return CaserModule(
            shape["n_users"], shape["n_items"], shape["dim"], shape["L"], shape["n_v"],
            shape["n_h"], float(self.hyperparameters["dropout"]),
        )  # fmt: skip

    def _batches(self, epoch: int) -> Batches:
        h = self.hyperparameters
        size, T, n_neg = int(h["batch_size"]), int(h["T"]), int(h["negatives"])
        n = len(self.instance_user_)

        def make():
            order = self.rng_.permutation(n)
            for start in range(0, n, size):
                chosen = order[start : start + size]
                users, target = self.instance_user_[chosen], self.instance_target_[chosen]
                window = windows(self.seq_items_, self.seq_indptr_[users], target, self.shape_["L"])
                positives = self.seq_items_[target[:, None] + np.arange(T)]
                negatives = sample_unseen(
                    self.rng_, users, (n_neg,), self.seen_keys_, self.shape_["n_items"]
                )
                yield users, window, positives, negatives

        return Batches(make, -(-n // size), self.device_)

    def _loss(self, module: CaserModule, batch) -> torch.Tensor:
        users, window, positives, negatives = batch
        represented = module.represent(window, module.user(users))
        positive = self._candidate_scores(module, represented, positives).float()
        negative = self._candidate_scores(module, represented, negatives).float()
        return -F.logsigmoid(positive).mean() - F.logsigmoid(-negative).mean()

    def _represent(self, module, users, items, starts, ends) -> torch.Tensor:
        window = torch.as_tensor(
            windows(items, starts, ends, self.shape_["L"]), device=self.device_
        )
        if users is None:  # an ad-hoc profile has no user embedding
            user = torch.zeros(len(window), self.shape_["dim"], device=self.device_)
        else:
            user = module.user(users)
        return module.represent(window, user)

    def _output(self, module: CaserModule):
        return module.output.weight, module.bias

    def _release_training_state(self) -> None:
        super()._release_training_state()
        self.instance_user_ = self.instance_target_ = None
