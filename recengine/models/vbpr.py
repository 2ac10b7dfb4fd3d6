"""VBPR (He and McAuley 2016): BPR-MF with a visual term.

x_ui = beta_i + gamma_u . gamma_i + theta_u . (E f_i) + beta' . f_i

f_i are frozen image features (standardised), E projects them to ``visual_factors``
dimensions; a work listed after training has no beta_i or gamma_i (zero) and is scored
by its visual term alone. Trained with the BPR loss and L2 on the factors in the batch
(``reg``) and on E and beta' (``reg_visual``), from uniform triplets or CuratorNet's
guidelines with a real user (sampling="guided"): missing_item, next_basket,
artist_cluster, profile_items. The two with an artificial profile have no user whose
gamma_u / theta_u they could train, so asking for them is an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from ..triplets import UniformTriplets
from .gradient import Batches, batch_size_for
from .registry import register_model
from .visual import VisualRecommender, visual_defaults


class VBPRModule(nn.Module):
    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_features: int,
        factors: int,
        visual_factors: int,
        tower: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if tower is not None:
            self.tower = tower
        self.gamma_user = nn.Embedding(n_users, factors)
        self.gamma_item = nn.Embedding(n_items, factors)
        self.theta_user = nn.Embedding(n_users, visual_factors)
        self.beta_item = nn.Embedding(n_items, 1)
        self.projection = nn.Linear(n_features, visual_factors, bias=False)  # E
        self.visual_bias = nn.Linear(n_features, 1, bias=False)  # beta'
        for embedding in (self.gamma_user, self.gamma_item, self.theta_user):
            nn.init.normal_(embedding.weight, std=0.01)
        nn.init.zeros_(self.beta_item.weight)
        nn.init.normal_(self.projection.weight, std=0.01)
        nn.init.zeros_(self.visual_bias.weight)

    def score(self, users, items, features) -> torch.Tensor:
        """users, items: (b,), features: (b, F) -> (b,)"""
        return (
            self.beta_item(items).squeeze(-1)
            + (self.gamma_user(users) * self.gamma_item(items)).sum(-1)
            + (self.theta_user(users) * self.projection(features)).sum(-1)
            + self.visual_bias(features).squeeze(-1)
        )

    def all_items(self, users, features) -> torch.Tensor:
        """users: (b,), features: (n_items, F) -> (b, n_items)"""
        return (
            self.beta_item.weight.T
            + self.gamma_user(users) @ self.gamma_item.weight.T
            + self.theta_user(users) @ self.projection(features).T
            + self.visual_bias(features).T
        )


@register_model
class VBPR(VisualRecommender):
    name = "vbpr"
    defaults = visual_defaults(
        factors=32, visual_factors=32, reg=1e-4, reg_visual=1e-5, lr=1e-3, epochs=50
    )
    description = "BPR-MF plus a visual term from frozen (or fine-tuned) image features."
    grid = {"lr": [3e-4, 1e-3], "reg": [1e-4, 1e-3], "sampling": ["uniform", "guided"]}
    smoke = {"epochs": 3}
    real_users_only = True

    def _prepare(self, train: Interactions) -> dict:
        h = self.hyperparameters
        n_features = self._prepare_features(train)
        if h["sampling"] == "guided":
            self.sampler_ = self._sampler(train, real_users_only=self.real_users_only)
        else:
            self.sampler_ = UniformTriplets(train.matrix())
            self.samples_ = len(self.sampler_)
        return {
            "n_users": train.n_users,
            "n_items": train.n_items,
            "n_features": n_features,
            "factors": int(h["factors"]),
            "visual_factors": int(h["visual_factors"]),
        }

    def _make_module(self, shape: dict) -> VBPRModule:
        tower = None
        if self._fine_tuning():
            from ..features.tower import ImageTower

            h = self.hyperparameters
            tower = getattr(self, "tower_", None) or ImageTower(h["backbone"], None, "last")
        return VBPRModule(
            shape["n_users"],
            shape["n_items"],
            shape["n_features"],
            shape["factors"],
            shape["visual_factors"],
            tower,
        )

    def _batches(self, epoch: int) -> Batches:
        size = int(self.hyperparameters["batch_size"])
        if isinstance(self.sampler_, UniformTriplets):
            size = batch_size_for(size, len(self.sampler_.users))
            self._record_sampling(epoch, {"uniform": len(self.sampler_)})
            return Batches(
                lambda: self.sampler_.epoch(self.rng_, size),
                self.sampler_.n_batches(size),
                self.device_,
            )
        triplets = self._epoch_triplets(epoch)
        size = batch_size_for(size, len(triplets))

        def make():
            order = self.rng_.permutation(len(triplets))
            for start in range(0, len(order), size):
                rows = order[start : start + size]
                yield triplets.users[rows], triplets.positives[rows], triplets.negatives[rows]

        return Batches(make, -(-len(triplets) // size), self.device_)

    def _loss(self, module: VBPRModule, batch) -> torch.Tensor:
        users, positives, negatives = batch
        features_pos = self._item_features(module, positives)
        features_neg = self._item_features(module, negatives)
        difference = module.score(users, positives, features_pos) - module.score(
            users, negatives, features_neg
        )
        h = self.hyperparameters
        factors = (
            module.gamma_user(users).pow(2).sum()
            + module.theta_user(users).pow(2).sum()
            + module.gamma_item(positives).pow(2).sum()
            + module.gamma_item(negatives).pow(2).sum()
            + module.beta_item(positives).pow(2).sum()
            + module.beta_item(negatives).pow(2).sum()
        ) / len(users)
        visual = module.projection.weight.pow(2).sum() + module.visual_bias.weight.pow(2).sum()
        return -F.logsigmoid(difference).mean() + h["reg"] * factors + h["reg_visual"] * visual

    def _user_scores(self, module: VBPRModule, users: torch.Tensor) -> torch.Tensor:
        return module.all_items(users, self._all_item_features(module))

    def _pair_scores(self, module, users, items) -> torch.Tensor:
        flat = items.reshape(-1)
        repeated = users[:, None].expand_as(items).reshape(-1)
        scores = module.score(repeated, flat, self._item_features(module, flat))
        return scores.reshape(items.shape)

    @torch.no_grad()
    def embeddings(self):
        """u' = [gamma_u, theta_u, 1], i' = [gamma_i, E f_i, beta_i + beta' f_i]."""
        module = self.module_.eval()
        features = self._all_item_features(module)
        users = torch.cat(
            [
                module.gamma_user.weight,
                module.theta_user.weight,
                torch.ones(module.gamma_user.num_embeddings, 1, device=self.device_),
            ],
            dim=1,
        )
        bias = module.beta_item.weight + module.visual_bias(features)
        items = torch.cat([module.gamma_item.weight, module.projection(features), bias], dim=1)
        return users.float().cpu().numpy(), items.float().cpu().numpy()

    def add_items(self, item_ids: Sequence[str], features=None, images=None) -> None:
        positions = self._append_features(item_ids, features, images)
        # New works have no learned beta_i / gamma_i: zero rows, the visual term decides.
        with torch.no_grad():
            extra = len(positions)
            for name in ("gamma_item", "beta_item"):
                old = getattr(self.module_, name)
                grown = nn.Embedding(old.num_embeddings + extra, old.embedding_dim)
                grown.weight.zero_()
                grown.weight[: old.num_embeddings] = old.weight
                setattr(self.module_, name, grown.to(self.device_))
        self.shape_["n_items"] = len(self.item_ids)
