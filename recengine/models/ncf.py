"""Neural collaborative filtering (He, Liao, Zhang, Nie, Hu and Chua 2017): GMF, MLP and
their fusion NeuMF, one module class with one or both branches.

GMF branch: p_u * q_i (element-wise), ``factors`` wide.
MLP branch: [p'_u; q'_i] (each layers[0] / 2 wide) through ReLU layers layers[1:].
The prediction layer is a linear map of the (concatenated) branch outputs to a logit.

Loss: binary cross-entropy (the paper's log loss) on every training pair as a positive
plus ``negatives`` items per positive (4 as in the paper) drawn uniformly among those
the user never interacted with, redrawn every epoch. ``batch_size`` counts positives;
each brings its negatives along.

NeuMF ``pretrain`` (the paper's recipe): GMF and MLP are first trained alone with the
NeuMF's hyperparameters where they apply (same epochs, lr, negatives, seed, ...; with
``valid`` they early-stop on it too); their embeddings and MLP layers are copied into
the two branches, and the prediction layer becomes [alpha h_GMF; (1 - alpha) h_MLP]
with bias alpha b_GMF + (1 - alpha) b_MLP, so NeuMF starts out predicting the blend
alpha * GMF + (1 - alpha) * MLP of the pretrained logits. Choice: fine-tuning uses the
model's ``optimizer`` (Adam by default) where the paper switches to plain SGD; set
optimizer="sgd" for the paper's. A run resuming from a checkpoint skips pretraining.

Scoring every item runs the network on every (user, item) pair, in chunks of
PAIR_CHUNK pairs so that memory stays bounded on large catalogues. These models know
only their training users: no scoring of new profiles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from ..triplets import UniformTriplets
from .base import Callback
from .gradient import EpochBatches, GradientRecommender, with_training_defaults
from .registry import register_model

PAIR_CHUNK = 1 << 18  # (user, item) pairs through the network at once when scoring


class NCFModule(nn.Module):
    """factors > 0 adds the GMF branch, non-empty layers the MLP branch."""

    def __init__(self, n_users: int, n_items: int, factors: int, layers: list[int]) -> None:
        super().__init__()
        width = 0
        if factors:
            self.gmf_user = nn.Embedding(n_users, factors)
            self.gmf_item = nn.Embedding(n_items, factors)
            width += factors
        if layers:
            self.mlp_user = nn.Embedding(n_users, layers[0] // 2)
            self.mlp_item = nn.Embedding(n_items, layers[0] // 2)
            tower: list[nn.Module] = []
            for a, b in zip([2 * (layers[0] // 2), *layers[1:-1]], layers[1:], strict=True):
                tower += [nn.Linear(a, b), nn.ReLU()]
            self.tower = nn.Sequential(*tower)
            width += layers[-1] if len(layers) > 1 else 2 * (layers[0] // 2)
        self.has_gmf, self.has_mlp = bool(factors), bool(layers)
        self.out = nn.Linear(width, 1)
        # The reference code's initialisation: N(0, 0.01) embeddings, Glorot-uniform
        # ReLU layers and a LeCun-uniform prediction layer, zero biases. (PyTorch's
        # default Linear init is about half as wide: the tower then starts near-constant
        # and sits longer on the "predict the base rate" plateau.)
        for embedding in self.embeddings():
            nn.init.normal_(embedding.weight, std=0.01)
        for layer in [m for m in self.modules() if isinstance(m, nn.Linear)]:
            if layer is self.out:
                nn.init.kaiming_uniform_(layer.weight, a=1.0)  # = LeCun uniform
            else:
                nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def embeddings(self) -> list[nn.Embedding]:
        return [m for m in self.children() if isinstance(m, nn.Embedding)]

    def branches(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The concatenated branch outputs, (..., width)."""
        parts = []
        if self.has_gmf:
            parts.append(self.gmf_user(users) * self.gmf_item(items))
        if self.has_mlp:
            pair = torch.cat([self.mlp_user(users), self.mlp_item(items)], dim=-1)
            parts.append(self.tower(pair))
        return torch.cat(parts, dim=-1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits of (user, item) pairs, users and items of one shape."""
        return self.out(self.branches(users, items)).squeeze(-1)

    def all_items(self, users: torch.Tensor) -> torch.Tensor:
        """(len(users), n_items) logits, in chunks of users bounded by PAIR_CHUNK pairs."""
        n_items = (self.gmf_item if self.has_gmf else self.mlp_item).num_embeddings
        items = torch.arange(n_items, device=users.device)
        step = max(1, PAIR_CHUNK // max(n_items, 1))
        parts = []
        for start in range(0, len(users), step):
            chunk = users[start : start + step]
            parts.append(self(chunk[:, None].expand(-1, n_items), items.expand(len(chunk), -1)))
        return torch.cat(parts) if parts else items.new_zeros((0, n_items), dtype=torch.float)


def initialise_neumf(neumf: NCFModule, gmf: NCFModule, mlp: NCFModule, alpha: float = 0.5) -> None:
    """Copy pretrained GMF and MLP branches into ``neumf`` and blend their prediction
    layers: weight [alpha h_GMF, (1 - alpha) h_MLP], bias alpha b_GMF + (1 - alpha) b_MLP."""
    with torch.no_grad():
        for name, value in [*gmf.state_dict().items(), *mlp.state_dict().items()]:
            if not name.startswith("out."):
                neumf.get_parameter(name).copy_(value)
        neumf.out.weight.copy_(torch.cat([alpha * gmf.out.weight, (1 - alpha) * mlp.out.weight], 1))
        neumf.out.bias.copy_(alpha * gmf.out.bias + (1 - alpha) * mlp.out.bias)


class _NCF(GradientRecommender):
    """Shared training and scoring; subclasses say which branches they have."""

    gmf_branch = mlp_branch = False

    def _prepare(self, train: Interactions) -> dict:
        self.triplets_ = UniformTriplets(train.matrix())
        h = self.hyperparameters
        return {
            "n_users": train.n_users,
            "n_items": train.n_items,
            "factors": int(h["factors"]) if self.gmf_branch else 0,
            "layers": [int(n) for n in h["layers"]] if self.mlp_branch else [],
        }

    def _make_module(self, shape: dict) -> NCFModule:
        return NCFModule(shape["n_users"], shape["n_items"], shape["factors"], shape["layers"])

    def _batches(self, epoch: int) -> EpochBatches:
        ratio = int(self.hyperparameters["negatives"])
        triplets = self.triplets_
        # The whole epoch's negatives in one vectorised draw, in the users' order.
        negatives = triplets.negatives(self.rng_, np.repeat(triplets.users, ratio))
        order = self.rng_.permutation(len(triplets))
        arrays = (
            triplets.users[order],
            triplets.items[order],
            negatives.reshape(len(triplets), ratio)[order],
        )
        return EpochBatches(arrays, int(self.hyperparameters["batch_size"]), self.device_)

    def _loss(self, module: NCFModule, batch) -> torch.Tensor:
        users, positives, negatives = batch
        items = torch.cat([positives[:, None], negatives], dim=1)  # (b, 1 + ratio)
        logits = module(users[:, None].expand_as(items), items).float()
        labels = torch.zeros_like(logits)
        labels[:, 0] = 1.0
        return F.binary_cross_entropy_with_logits(logits, labels)

    def _user_scores(self, module: NCFModule, users: torch.Tensor) -> torch.Tensor:
        return module.all_items(users)

    def _pair_scores(self, module, users, items) -> torch.Tensor:
        return module(users[:, None].expand_as(items), items)

    def _release_training_state(self) -> None:
        self.triplets_ = None


NCF_DEFAULTS = {
    "negatives": 4,
    "lr": 1e-3,
    "batch_size": 1024,
    "epochs": 20,
    "sparse_updates": True,
}


@register_model
class GMF(_NCF):
    name = "gmf"
    gmf_branch = True
    defaults = with_training_defaults(factors=32, **NCF_DEFAULTS)
    description = "Generalized matrix factorisation (NCF), log loss with sampled negatives."
    grid = {"factors": [16, 64], "lr": [1e-3, 5e-3]}
    smoke = {"epochs": 2, "factors": 4}


@register_model
class MLP(_NCF):
    name = "mlp"
    mlp_branch = True
    defaults = with_training_defaults(layers=[64, 32, 16, 8], **NCF_DEFAULTS)
    description = "Multi-layer perceptron over user and item embeddings (NCF), log loss."
    grid = {"layers": [[64, 32, 16], [128, 64, 32]], "lr": [1e-3, 5e-3]}
    smoke = {"epochs": 2, "layers": [8, 4]}


@register_model
class NeuMF(_NCF):
    name = "neumf"
    gmf_branch = mlp_branch = True
    defaults = with_training_defaults(
        factors=32, layers=[64, 32, 16, 8], pretrain=True, alpha=0.5, **NCF_DEFAULTS
    )
    description = "NeuMF: GMF and MLP fused (NCF), pretrained from both, log loss."
    grid = {"factors": [16, 32], "lr": [1e-3, 5e-3]}
    smoke = {"epochs": 1, "factors": 4, "layers": [8, 4]}

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        h = self.hyperparameters
        resuming = self.checkpoint_path is not None and Path(self.checkpoint_path).exists()
        self.pretrained_ = None
        if h["pretrain"] and int(h["epochs"]) > 0 and not resuming:
            self.pretrained_ = [
                self._pretrain(cls, train, valid, callback, stage)
                for stage, cls in enumerate((GMF, MLP))
            ]
        super()._fit(train, valid, _scaled(callback, 2 / 3 if self.pretrained_ else 0, 1))

    def _pretrain(self, cls, train, valid, callback, stage: int) -> NCFModule:
        shared = {k: v for k, v in self.hyperparameters.items() if k in cls.defaults}
        part = _scaled(callback, stage / 3, (stage + 1) / 3, f"{cls.name} pretraining: ")
        return cls(**shared).fit(train, valid, part).module_

    def _make_module(self, shape: dict) -> NCFModule:
        module = super()._make_module(shape)
        if getattr(self, "pretrained_", None):
            gmf, mlp = self.pretrained_
            initialise_neumf(module, gmf, mlp, float(self.hyperparameters["alpha"]))
        return module

    def _release_training_state(self) -> None:
        super()._release_training_state()
        self.pretrained_ = None


def _scaled(callback: Callback | None, low: float, high: float, prefix: str = ""):
    """A callback mapping a sub-run's progress [0, 1] onto [low, high] of the whole."""
    if callback is None or (low, high) == (0, 1):
        return callback

    def report(fraction: float, message: str, **details) -> None:
        callback(low + fraction * (high - low), prefix + message, **details)

    return report
