"""I-AutoRec (Sedhain, Menon, Sanner and Xie 2015, "AutoRec: Autoencoders Meet
Collaborative Filtering"), the item-based variant the paper found best.

Each item i is a vector r_i over the training users. It is encoded as
h_i = sigmoid(V r_i + mu) and decoded as r^_i = W h_i + b (identity output); the score
of user u for item i is r^_i[u]. Loss: squared error on the observed entries only, plus
reg / 2 * (||W||^2 + ||V||^2), both averaged per item so that ``reg`` keeps the paper's
lambda's meaning under mini-batches. Adam replaces the paper's L-BFGS / RProp.

Observed entries: the interactions. With ``train.ratings`` they hold the ratings and
the loss is the paper's. Without ratings every observed entry is 1, and a loss on
those alone is minimised by predicting 1 everywhere, which ranks nothing; so on
implicit data ``negatives`` unobserved entries per observed one (redrawn every step)
join the loss with target 0, as in negative sampling for one-class data. ``negatives``
is ignored when ratings exist.

No new profiles: the decoder has one output unit (a row of W, an entry of b) per
training user, so a user the model was not trained with has no output to read;
``score_profiles`` raises NotImplementedError (the base class's answer). Scoring
training users needs every item's code h_i: it is computed once after training and
saved with the weights.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..data import Interactions
from .autoencoder import sampled_mask
from .gradient import Batches, GradientRecommender, with_training_defaults
from .registry import register_model

ENCODE_BATCH = 1024  # items encoded at once when computing every item's code


class AutoRecModule(nn.Module):
    def __init__(self, n_users: int, hidden: int) -> None:
        super().__init__()
        self.encoder = nn.Linear(n_users, hidden)  # V, mu
        self.decoder = nn.Linear(hidden, n_users)  # W, b

    def encode(self, vectors: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.encoder(vectors))

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """(b, n_users) item vectors -> (b, n_users) reconstructions."""
        return self.decoder(self.encode(vectors))


def masked_squared_error(
    predicted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """sum over the masked entries of (predicted - target)^2, averaged over the rows."""
    return ((predicted.float() - target) ** 2 * mask).sum(dim=1).mean()


@register_model
class AutoRec(GradientRecommender):
    name = "autorec"
    defaults = with_training_defaults(
        hidden=500, reg=1.0, negatives=1, lr=1e-3, batch_size=256, epochs=200, patience=10
    )
    description = "Item-based autoencoder (I-AutoRec), squared error on observed entries."
    grid = {"hidden": [100, 500], "reg": [1.0, 10.0]}
    smoke = {"epochs": 2, "hidden": 8}

    def _prepare(self, train: Interactions) -> dict:
        # items as rows: (n_items, n_users) input values and observed pattern
        observed = sp.csr_matrix(train.matrix().T)
        rated = train.ratings is not None
        self.values_ = sp.csr_matrix(train.rating_matrix().T) if rated else observed
        self.observed_ = observed
        self.item_codes_ = None
        return {
            "n_users": train.n_users,
            "n_items": train.n_items,
            "hidden": int(self.hyperparameters["hidden"]),
            "rated": rated,
        }

    def _make_module(self, shape: dict) -> AutoRecModule:
        return AutoRecModule(shape["n_users"], shape["hidden"])

    def _batches(self, epoch: int) -> Batches:
        size = int(self.hyperparameters["batch_size"])
        n_items = self.values_.shape[0]

        def make():
            order = self.rng_.permutation(n_items)
            for start in range(0, n_items, size):
                items = order[start : start + size]
                yield (
                    self.values_[items].toarray().astype(np.float32),
                    self.observed_[items].toarray().astype(np.float32),
                )

        return Batches(make, -(-n_items // size), self.device_)

    def _loss(self, module: AutoRecModule, batch) -> torch.Tensor:
        values, observed = batch
        mask = observed
        if not self.shape_["rated"]:
            mask = sampled_mask(observed, float(self.hyperparameters["negatives"]))
        error = masked_squared_error(module(values), values, mask)
        penalty = module.encoder.weight.pow(2).sum() + module.decoder.weight.pow(2).sum()
        return error + float(self.hyperparameters["reg"]) / 2 * penalty / self.shape_["n_items"]

    @torch.no_grad()
    def _encode_items(self, module: AutoRecModule) -> torch.Tensor:
        """(n_items, hidden) codes h_i of every training item."""
        parts = []
        for start in range(0, self.values_.shape[0], ENCODE_BATCH):
            block = self.values_[start : start + ENCODE_BATCH].toarray().astype(np.float32)
            parts.append(module.encode(torch.as_tensor(block, device=self.device_)).float())
        return torch.cat(parts)

    def _user_scores(self, module: AutoRecModule, users: torch.Tensor) -> torch.Tensor:
        # While training (validation) the codes follow the current weights; afterwards
        # they are cached.
        codes = self.item_codes_ if self.item_codes_ is not None else self._encode_items(module)
        weight, bias = module.decoder.weight[users], module.decoder.bias[users]
        return (codes @ weight.T).T + bias[:, None]

    def _after_training(self) -> None:
        self.item_codes_ = self._encode_items(self.module_)

    def _release_training_state(self) -> None:
        self.values_ = self.observed_ = None

    def _weights(self) -> dict[str, np.ndarray]:
        return {**super()._weights(), "item_codes": self.item_codes_.cpu().numpy()}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        super()._set_weights(weights)
        self.item_codes_ = torch.from_numpy(weights["item_codes"]).to(self.device_)
