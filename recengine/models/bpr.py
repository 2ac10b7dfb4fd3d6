"""BPR-MF: matrix factorisation learned from (user, seen item, unseen item) triplets.

Loss "bpr" is Rendle et al.'s -log sigmoid(x_ui - x_uj); loss "hinge" is the margin
loss max(0, margin - (x_ui - x_uj)) that the seeds set beside it. L2 ("reg") is applied
to the embeddings in the batch, as in the BPR paper, rather than to every parameter
at every step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data import Interactions
from ..triplets import UniformTriplets
from .factorisation import FactorModule, factor_embeddings
from .gradient import EpochBatches, GradientRecommender, batch_size_for, with_training_defaults
from .registry import register_model

LOSSES = ("bpr", "hinge")


@register_model
class BPR(GradientRecommender):
    name = "bpr"
    defaults = with_training_defaults(
        factors=128,
        loss="bpr",
        margin=1.0,
        reg=3e-3,
        item_bias=True,
        lr=2e-3,
        epochs=100,
        sparse_updates=True,
    )
    description = "Matrix factorisation from pairwise preferences (BPR or hinge loss)."
    grid = {"factors": [64, 256], "lr": [1e-3, 3e-3], "reg": [1e-3, 3e-3]}
    smoke = {"epochs": 3}

    def __init__(self, **hyperparameters) -> None:
        super().__init__(**hyperparameters)
        if self.hyperparameters["loss"] not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}")

    def _prepare(self, train: Interactions) -> dict:
        self.triplets_ = UniformTriplets(train.matrix())
        h = self.hyperparameters
        return {
            "n_users": train.n_users,
            "n_items": train.n_items,
            "factors": int(h["factors"]),
            "item_bias": bool(h["item_bias"]),
        }

    def _make_module(self, shape: dict) -> FactorModule:
        return FactorModule(
            shape["n_users"], shape["n_items"], shape["factors"], item_bias=shape["item_bias"]
        )

    def _batches(self, epoch: int) -> EpochBatches:
        size = batch_size_for(self.hyperparameters["batch_size"], len(self.triplets_.users))
        return EpochBatches(self.triplets_.epoch_arrays(self.rng_), size, self.device_)

    def _loss(self, module: FactorModule, batch) -> torch.Tensor:
        users, positives, negatives = batch
        # Each row is looked up once and reused by the score and the L2 term: every
        # lookup is a gather forward and a scatter of gradient rows backward.
        user, positive, negative = (
            module.user(users),
            module.item(positives),
            module.item(negatives),
        )
        difference = (user * (positive - negative)).sum(-1)
        if module.item_bias is not None:
            difference = difference + module.item_bias[positives] - module.item_bias[negatives]
        h = self.hyperparameters
        if h["loss"] == "bpr":
            loss = -F.logsigmoid(difference).mean()
        else:
            loss = F.relu(h["margin"] - difference).mean()
        l2 = user.pow(2).sum() + positive.pow(2).sum() + negative.pow(2).sum()
        return loss + h["reg"] * l2 / len(users)

    def _user_scores(self, module: FactorModule, users: torch.Tensor) -> torch.Tensor:
        return module.all_items(users)

    def _pair_scores(self, module, users, items) -> torch.Tensor:
        return module(users[:, None].expand_as(items), items)

    def _release_training_state(self) -> None:
        self.triplets_ = None

    def embeddings(self):
        return factor_embeddings(self.module_)
