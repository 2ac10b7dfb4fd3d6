"""Explicit matrix factorisation: squared error on observed ratings, with biases.

For data with ratings (the seeds' first MF loss). Implicit data has no ratings to
regress on: use bpr (pairwise log loss) or wmf (confidence-weighted squared error).
"""

from __future__ import annotations

import numpy as np
import torch

from ..data import Interactions
from .factorisation import FactorModule
from .gradient import Batches, GradientRecommender, with_training_defaults
from .registry import register_model


@register_model
class ExplicitMF(GradientRecommender):
    name = "mf"
    needs = ("ratings",)
    defaults = with_training_defaults(
        factors=32, reg=0.02, lr=5e-3, epochs=40, batch_size=1024, valid_metric="NDCG@20"
    )
    description = "Matrix factorisation with biases, squared error on observed ratings."
    grid = {"reg": [0.005, 0.02, 0.1], "factors": [16, 64]}
    smoke = {"epochs": 3}

    def _prepare(self, train: Interactions) -> dict:
        ratings = train.rating_matrix().tocoo()
        self.rows_ = (ratings.row.astype(np.int64), ratings.col.astype(np.int64))
        self.values_ = ratings.data.astype(np.float32)
        self.mean_ = float(self.values_.mean()) if len(self.values_) else 0.0
        return {
            "n_users": train.n_users,
            "n_items": train.n_items,
            "factors": int(self.hyperparameters["factors"]),
            "mean": self.mean_,
        }

    def _make_module(self, shape: dict) -> FactorModule:
        module = FactorModule(
            shape["n_users"],
            shape["n_items"],
            shape["factors"],
            item_bias=True,
            user_bias=True,
            init_std=0.01,
        )
        with torch.no_grad():
            module.global_bias.fill_(shape["mean"])  # start from the mean rating
        return module

    def _batches(self, epoch: int) -> Batches:
        size = int(self.hyperparameters["batch_size"])
        users, items = self.rows_

        def make():
            order = self.rng_.permutation(len(users))
            for start in range(0, len(order), size):
                rows = order[start : start + size]
                yield users[rows], items[rows], self.values_[rows]

        return Batches(make, -(-len(users) // size), self.device_)

    def _loss(self, module: FactorModule, batch) -> torch.Tensor:
        users, items, ratings = batch
        error = (module(users, items) - ratings).pow(2).mean()
        l2 = (
            module.user(users).pow(2).sum(-1)
            + module.item(items).pow(2).sum(-1)
            + module.user_bias[users].pow(2)
            + module.item_bias[items].pow(2)
        ).mean()
        return error + self.hyperparameters["reg"] * l2

    def _user_scores(self, module: FactorModule, users: torch.Tensor) -> torch.Tensor:
        return module.all_items(users)

    def _pair_scores(self, module, users, items) -> torch.Tensor:
        return module(users[:, None].expand_as(items), items)

    def _release_training_state(self) -> None:
        self.rows_ = self.values_ = None
