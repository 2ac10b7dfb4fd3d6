"""DVBPR (Kang et al. 2017): a CNN trained end to end with the user vectors, by BPR on
the images themselves.

x_ui = theta_u . phi(image_i)  [+ gamma_u . gamma_i with item_factors > 0]

phi is any backbone (random init, or pretrained from a weights file, then fine-tuned:
trainable="all", or "last" for the last stage only) followed by a linear layer to
``factors`` dimensions. The art-recommendation tutorial found the optional item latent
factors gamma_i crucial on sparse data; a work listed after training has none (zero)
and is scored from its image alone. Images are decoded once (ImageBank) at
``image_size``; training checkpoints every epoch when the caller sets a path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from ..features.tower import ImageBank, ImageTower
from ..triplets import UniformTriplets
from .gradient import Batches, GradientRecommender, with_training_defaults
from .registry import register_model

SCORE_CHUNK = 256


class DVBPRModule(nn.Module):
    def __init__(self, tower: ImageTower, n_users: int, n_items: int, shape: dict) -> None:
        super().__init__()
        self.tower = tower
        self.head = nn.Linear(shape["n_features"], shape["factors"])
        self.theta_user = nn.Embedding(n_users, shape["factors"])
        nn.init.normal_(self.theta_user.weight, std=0.01)
        self.item_factors = shape["item_factors"]
        if self.item_factors:
            self.gamma_user = nn.Embedding(n_users, self.item_factors)
            self.gamma_item = nn.Embedding(n_items, self.item_factors)
            nn.init.normal_(self.gamma_user.weight, std=0.01)
            nn.init.normal_(self.gamma_item.weight, std=0.01)

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.tower(pixels))


@register_model
class DVBPR(GradientRecommender):
    name = "dvbpr"
    needs = ("item_images",)
    defaults = with_training_defaults(
        backbone="resnet18",
        weights=None,  # None: from scratch; a file: pretrained start; "hub" if asked for
        trainable="all",
        image_size=64,
        factors=64,
        item_factors=32,
        reg=1e-4,
        lr=1e-4,
        epochs=10,
        batch_size=64,
        eval_every=1,
    )
    description = "A CNN trained end to end on the images with the user vectors (BPR)."
    grid = {"lr": [1e-4, 3e-4], "item_factors": [0, 32]}
    smoke = {"epochs": 2, "backbone": "test_resnet", "image_size": 32, "batch_size": 8}

    def _prepare(self, train: Interactions) -> dict:
        h = self.hyperparameters
        self.tower_ = ImageTower(h["backbone"], h["weights"], h["trainable"], seed=h["seed"])
        config = self.tower_.config(h["image_size"])
        self.bank_ = ImageBank.for_training(
            train.item_images, train.item_ids, h["image_size"], config["mean"], config["std"]
        )
        self.triplets_ = UniformTriplets(train.matrix())
        return {
            "n_users": train.n_users,
            "n_items": train.n_items,
            "n_features": self.tower_.output_dim(h["image_size"]),
            "factors": int(h["factors"]),
            "item_factors": int(h["item_factors"]),
            "mean": list(config["mean"]),
            "std": list(config["std"]),
        }

    def _make_module(self, shape: dict) -> DVBPRModule:
        h = self.hyperparameters
        tower = getattr(self, "tower_", None) or ImageTower(h["backbone"], None, h["trainable"])
        return DVBPRModule(tower, shape["n_users"], shape["n_items"], shape)

    def _batches(self, epoch: int) -> Batches:
        size = int(self.hyperparameters["batch_size"])
        return Batches(
            lambda: self.triplets_.epoch(self.rng_, size),
            self.triplets_.n_batches(size),
            self.device_,
        )

    def _score(self, module: DVBPRModule, users, items, vectors) -> torch.Tensor:
        score = (module.theta_user(users) * vectors).sum(-1)
        if module.item_factors:
            score = score + (module.gamma_user(users) * module.gamma_item(items)).sum(-1)
        return score

    def _loss(self, module: DVBPRModule, batch) -> torch.Tensor:
        users, positives, negatives = batch
        pixels = self.bank_.batch(torch.cat([positives, negatives]), self.device_)
        vectors = module.embed(pixels)
        v_pos, v_neg = vectors[: len(users)], vectors[len(users) :]
        difference = self._score(module, users, positives, v_pos) - self._score(
            module, users, negatives, v_neg
        )
        l2 = module.theta_user(users).pow(2).sum()
        if module.item_factors:
            l2 = l2 + module.gamma_user(users).pow(2).sum()
            l2 = l2 + module.gamma_item(positives).pow(2).sum()
            l2 = l2 + module.gamma_item(negatives).pow(2).sum()
        return -F.logsigmoid(difference).mean() + self.hyperparameters["reg"] * l2 / len(users)

    # ----------------------------------------------------------- item vectors
    @torch.no_grad()
    def _embed_bank(self, module: DVBPRModule, bank: ImageBank) -> torch.Tensor:
        module.eval()
        indices = torch.arange(bank.pixels.shape[0])
        parts = [
            module.embed(bank.batch(chunk, self.device_)) for chunk in indices.split(SCORE_CHUNK)
        ]
        return torch.cat(parts).float() if parts else torch.zeros(0, self.shape_["factors"])

    def _item_vectors(self, module) -> torch.Tensor:
        if getattr(self, "bank_", None) is not None:  # training: the current CNN
            return self._embed_bank(module, self.bank_)
        return torch.as_tensor(self.item_vectors_, device=self.device_)

    def _after_training(self) -> None:
        self.item_vectors_ = self._embed_bank(self.module_, self.bank_).cpu().numpy()

    def _release_training_state(self) -> None:
        self.bank_ = None
        self.triplets_ = None

    def _user_scores(self, module: DVBPRModule, users: torch.Tensor) -> torch.Tensor:
        scores = module.theta_user(users) @ self._item_vectors(module).T
        if module.item_factors:
            scores = scores + module.gamma_user(users) @ module.gamma_item.weight.T
        return scores

    def embeddings(self):
        """u' = [theta_u, gamma_u], i' = [phi(image_i), gamma_i]."""
        module = self.module_
        users = [module.theta_user.weight.detach().float().cpu().numpy()]
        items = [self.item_vectors_]
        if module.item_factors:
            users.append(module.gamma_user.weight.detach().float().cpu().numpy())
            items.append(module.gamma_item.weight.detach().float().cpu().numpy())
        return np.hstack(users), np.hstack(items)

    def add_items(self, item_ids: Sequence[str], features=None, images=None) -> None:
        """New works from their images: the trained CNN embeds them; no gamma_i (zero)."""
        if images is None or len(images) != len(item_ids):
            raise ValueError("dvbpr scores new works from their images: give one per work")
        shape = self.shape_
        bank = ImageBank(
            list(images), self.hyperparameters["image_size"], shape["mean"], shape["std"]
        )
        vectors = self._embed_bank(self.module_, bank).cpu().numpy()
        self._extend_catalogue(item_ids)
        self.item_vectors_ = np.concatenate([self.item_vectors_, vectors])
        if self.module_.item_factors:
            with torch.no_grad():
                old = self.module_.gamma_item
                grown = nn.Embedding(old.num_embeddings + len(item_ids), old.embedding_dim)
                grown.weight.zero_()
                grown.weight[: old.num_embeddings] = old.weight
                self.module_.gamma_item = grown.to(self.device_)
        self.shape_["n_items"] = len(self.item_ids)

    def _weights(self) -> dict[str, np.ndarray]:
        return {**super()._weights(), "item_vectors": self.item_vectors_}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.item_vectors_ = weights.pop("item_vectors")
        super()._set_weights(weights)
