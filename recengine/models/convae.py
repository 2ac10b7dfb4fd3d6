"""ConvAE: an autoencoder over a user's items whose input mixes explicit ratings with
implicit interactions through a 1x1 convolution.

Each item carries two channels: the user's rating scaled to [0.1, 1] (0 where there is
none; the lowest rating maps to 0.1 so it still differs from "no rating") and whether
the user interacted (0/1). A 1x1 convolution (two weights, shared by every item, no
bias so untouched items stay 0) mixes them into one value per item; the mixed vector
is L2-normalised and fed to a one-hidden-layer tanh autoencoder, as in Mult-DAE.
Without ratings the rating channel equals the interaction channel.

Loss: the multinomial log-likelihood of the interactions (Liang et al. 2018): the
ratings shape what the model reads, the interactions are what it predicts, since a
top-N list is about what a user will pick rather than how they would rate it.
Denoising: input dropout removes whole items (both channels at once).

A new profile (item indices, no ratings) is scored without retraining; its rating
channel holds the mean scaled training rating, the most neutral guess.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from .autoencoder import UserVectorRecommender
from .gradient import with_training_defaults
from .multvae import multinomial_loss
from .registry import register_model

LOWEST = 0.1  # the scaled value of the lowest training rating


def scale_ratings(ratings: np.ndarray, low: float, high: float) -> np.ndarray:
    """Ratings mapped linearly from [low, high] onto [LOWEST, 1] (all 1 if low == high)."""
    ratings = np.asarray(ratings, dtype=np.float32)
    if high <= low:
        return np.ones_like(ratings)
    return (LOWEST + (1 - LOWEST) * (ratings - low) / (high - low)).astype(np.float32)


def two_channels(interactions: np.ndarray, ratings: np.ndarray | None) -> np.ndarray:
    """(b, 2, n_items) float32: channel 0 the scaled ratings, channel 1 the interactions;
    ratings None copies the interactions into channel 0."""
    interactions = np.asarray(interactions, dtype=np.float32)
    ratings = interactions if ratings is None else np.asarray(ratings, dtype=np.float32)
    return np.stack([ratings, interactions], axis=1)


class ConvAEModule(nn.Module):
    def __init__(self, n_items: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.mix = nn.Conv1d(2, 1, kernel_size=1, bias=False)
        nn.init.constant_(self.mix.weight, 0.5)  # start from the average of the channels
        self.encoder = nn.Linear(n_items, hidden)
        self.decoder = nn.Linear(hidden, n_items)
        self.dropout = dropout

    def mixed(self, x: torch.Tensor) -> torch.Tensor:
        """(b, 2, n_items) -> (b, n_items): w_rating * rating + w_seen * seen, per item."""
        return self.mix(x).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.dropout > 0:
            keep = F.dropout(torch.ones_like(x[:, :1]), self.dropout)  # same items, both channels
            x = x * keep
        h = torch.tanh(self.encoder(F.normalize(self.mixed(x), dim=1)))
        return self.decoder(h)


@register_model
class ConvAE(UserVectorRecommender):
    name = "convae"
    defaults = with_training_defaults(
        hidden=600, dropout=0.5, lr=1e-3, batch_size=500, epochs=200, patience=10
    )
    description = "Autoencoder over a user's items, ratings and interactions mixed by a 1x1 conv."
    grid = {"hidden": [200, 600], "dropout": [0.2, 0.5]}
    smoke = {"epochs": 2, "hidden": 8}

    def _prepare(self, train: Interactions) -> dict:
        shape = super()._prepare(train)
        self.rating_values_ = None
        rated = train.ratings is not None and len(train) > 0
        if rated:
            coo = train.rating_matrix().tocoo()
            low, high = float(coo.data.min()), float(coo.data.max())
            # the rating of every seen (user, item) pair, in the seen matrix's CSR order
            keys = coo.row.astype(np.int64) * train.n_items + coo.col
            order = np.argsort(keys)
            seen = self.seen_matrix()
            seen_keys = (
                np.repeat(np.arange(train.n_users), np.diff(seen.indptr)) * train.n_items
                + seen.indices
            )
            values = coo.data[order][np.searchsorted(keys[order], seen_keys)]
            self.rating_values_ = scale_ratings(values, low, high)
            shape.update(low=low, high=high, mean=float(self.rating_values_.mean()))
        hyper = self.hyperparameters
        return {
            **shape,
            "rated": rated,
            "hidden": int(hyper["hidden"]),
            "dropout": float(hyper["dropout"]),
        }

    def _make_module(self, shape: dict) -> ConvAEModule:
        return ConvAEModule(shape["n_items"], shape["hidden"], shape["dropout"])

    def _vectors(self, users: np.ndarray) -> np.ndarray:
        seen = self.seen_matrix()
        ratings = None
        if self.rating_values_ is not None:
            # the scaled ratings share the seen matrix's sparsity pattern
            rated = sp.csr_matrix((self.rating_values_, seen.indices, seen.indptr), seen.shape)
            ratings = rated[users].toarray()
        return two_channels(seen[users].toarray(), ratings)

    def _profile_vectors(self, profiles: list[np.ndarray]) -> np.ndarray:
        interactions = super()._profile_vectors(profiles)
        ratings = None if not self.shape_.get("rated") else interactions * self.shape_["mean"]
        return two_channels(interactions, ratings)

    def _forward(self, module, vectors, users) -> torch.Tensor:
        return module(vectors)

    def _loss(self, module: ConvAEModule, batch) -> torch.Tensor:
        _, vectors = batch
        return multinomial_loss(module(vectors), vectors[:, 1])

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        return self._score_vectors(self._profile_vectors(profiles))

    def _weights(self) -> dict[str, np.ndarray]:
        weights = super()._weights()
        if self.rating_values_ is not None:
            weights["rating_values"] = self.rating_values_
        return weights

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.rating_values_ = weights.get("rating_values")
        super()._set_weights(weights)
