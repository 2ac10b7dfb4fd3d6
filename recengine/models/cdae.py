"""CDAE: Collaborative Denoising Auto-Encoder (Wu, DuBois, Zheng and Ester 2016).

A user's binary item vector y_u is corrupted by dropout (each item removed with
probability ``dropout`` = the paper's q, survivors scaled by 1 / (1 - q)) and encoded
as z_u = sigmoid(W' y~_u + V_u + b), where V_u is a per-user embedding; the decoder
gives one logit per item, y^_ui = sigmoid(W_i . z_u + b'_i). Loss: the paper's logistic
(binary cross-entropy) loss on every observed item plus ``negatives`` unobserved items
per observed one, redrawn at every step (the paper's negative sampling; 0 uses every
item), summed per user and averaged over the batch. L2 regularisation goes through
the loop's ``weight_decay``.

No new profiles: the hidden layer adds V_u, a vector learned for each training user,
so a profile that belongs to nobody has no V_u; scoring it with V_u = 0 would feed the
decoder codes it never saw in training. ``score_profiles`` therefore raises
NotImplementedError (the base class's answer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from .autoencoder import UserVectorRecommender, sampled_mask
from .gradient import with_training_defaults
from .registry import register_model


class CDAEModule(nn.Module):
    def __init__(self, n_users: int, n_items: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.encoder = nn.Linear(n_items, hidden)  # W' and b
        self.user = nn.Embedding(n_users, hidden)  # V_u
        nn.init.normal_(self.user.weight, std=0.01)
        self.decoder = nn.Linear(hidden, n_items)  # W and b'
        self.dropout = nn.Dropout(dropout)

    def forward(self, vectors: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        """(b, n_items) item vectors of users (b,) -> (b, n_items) logits."""
        hidden = torch.sigmoid(self.encoder(self.dropout(vectors)) + self.user(users))
        return self.decoder(hidden)


@register_model
class CDAE(UserVectorRecommender):
    name = "cdae"
    defaults = with_training_defaults(
        hidden=50,
        dropout=0.2,
        negatives=5,
        lr=1e-3,
        weight_decay=1e-5,
        batch_size=256,
        epochs=100,
        patience=10,
    )
    description = "Denoising autoencoder over a user's items plus a per-user embedding."
    grid = {"hidden": [50, 200], "dropout": [0.2, 0.5]}
    smoke = {"epochs": 2, "hidden": 8}

    def _prepare(self, train: Interactions) -> dict:
        h = self.hyperparameters
        shape = super()._prepare(train)
        return {**shape, "hidden": int(h["hidden"]), "dropout": float(h["dropout"])}

    def _make_module(self, shape: dict) -> CDAEModule:
        return CDAEModule(shape["n_users"], shape["n_items"], shape["hidden"], shape["dropout"])

    def _forward(self, module, vectors, users) -> torch.Tensor:
        return module(vectors, users)

    def _loss(self, module: CDAEModule, batch) -> torch.Tensor:
        users, vectors = batch
        logits = module(vectors, users).float()
        mask = sampled_mask(vectors, float(self.hyperparameters["negatives"]))
        error = F.binary_cross_entropy_with_logits(logits, vectors, reduction="none")
        return (error * mask).sum(dim=1).mean()
