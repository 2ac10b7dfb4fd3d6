"""Mult-DAE and Mult-VAE (Liang, Krishnan, Hoffman and Jebara 2018, "Variational
Autoencoders for Collaborative Filtering").

A user's binary item vector x is L2-normalised, passed through input dropout and
encoded by tanh layers; the decoder mirrors the encoder and ends in one logit per item.
The loss is the multinomial log-likelihood -sum_i x_i log softmax(logits)_i, which
ranks the items the user chose above the rest without fitting the zeros one by one.

multdae: ``dims`` = [200] as in the paper's reference code (I -> 200 -> I, tanh), with
    L2 ``reg`` * sum ||W||^2 / batch_size on the weight matrices (lam = 0.01 / batch).
multvae: ``dims`` = [600, 200] (I -> 600 -> 200 -> 600 -> I); the encoder's last layer
    gives the mean and log-variance of z, sampled by reparameterisation while training
    and taken at its mean when scoring. The KL term is weighted by
    beta = min(anneal_cap, updates / total_anneal_steps), the paper's linear annealing
    counted in optimiser steps (the count is saved with each checkpoint, so a resumed
    run goes on where it stopped).

Choice, the annealing length: the paper's code sets total_anneal_steps = 200000 for
ML-20M, where 200 epochs of 234 batches (116,677 users / 500) are 46,800 updates, so beta
reaches its cap 0.2 after 40,000 of them: 85% of the run. Copied to a small catalogue
(citeulike-a: 12 batches an epoch) that count leaves beta near 0 for the whole run: a
plain autoencoder. So by default (total_anneal_steps None) the ramp is set from the run:
beta reaches anneal_cap after ``anneal_share`` (0.85, the paper's share) of the planned
updates, epochs x batches per epoch; an explicit total_anneal_steps keeps the absolute
count. A run that stops early has planned more updates than it made, so beta may end
below the cap, as it would in the paper's.

Both score any item vector, so a new visitor is scored from a profile without
retraining. Choice: the ``batch_size`` default is the paper's 500 users.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from .autoencoder import UserVectorRecommender
from .gradient import with_training_defaults
from .registry import register_model


def kl_weight(updates: int, anneal_cap: float, total_anneal_steps: float) -> float:
    """The KL weight after ``updates`` optimiser steps: a linear ramp, capped."""
    if total_anneal_steps <= 0:
        return float(anneal_cap)
    return float(min(anneal_cap, updates / total_anneal_steps))


def anneal_steps(
    anneal_cap: float, anneal_share: float, planned_updates: int, total_anneal_steps=None
) -> float:
    """The ramp length of ``kl_weight``: the explicit ``total_anneal_steps`` if given,
    else the length at which beta reaches ``anneal_cap`` after ``anneal_share`` of the
    planned updates (0 when there is nothing to ramp over: beta is the cap at once)."""
    if total_anneal_steps is not None:
        return float(total_anneal_steps)
    if not 0 < anneal_share <= 1:
        raise ValueError(f"anneal_share must be in (0, 1], not {anneal_share}")
    if anneal_cap <= 0:
        return 0.0
    return anneal_share * planned_updates / anneal_cap


def multinomial_loss(logits: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """-sum_i x_i log softmax(logits)_i, averaged over the users of the batch."""
    return -(F.log_softmax(logits.float(), dim=1) * vectors).sum(dim=1).mean()


class MultModule(nn.Module):
    """Encoder n_items -> dims..., decoder back to n_items; tanh between layers.

    variational: the last encoder layer outputs 2 * dims[-1] (mean, log-variance).
    """

    def __init__(self, n_items: int, dims: list[int], dropout: float, variational: bool):
        super().__init__()
        self.variational = variational
        sizes = [n_items, *dims]
        last = len(dims) - 1
        self.encoder = nn.ModuleList(
            nn.Linear(a, 2 * b if variational and n == last else b)
            for n, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        )
        back = sizes[::-1]
        self.decoder = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(back[:-1], back[1:], strict=True)
        )
        self.dropout = nn.Dropout(dropout)
        # the reference code's initialisation: Xavier weights, small normal biases
        for layer in [*self.encoder, *self.decoder]:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.normal_(layer.bias, std=0.001)

    def forward(self, x: torch.Tensor):
        """x: (b, n_items) -> (logits (b, n_items), mean, log-variance (None for the DAE))."""
        h = self.dropout(F.normalize(x, dim=1))
        for n, layer in enumerate(self.encoder):
            h = layer(h)
            if n < len(self.encoder) - 1 or not self.variational:
                h = torch.tanh(h)
        mean = logvar = None
        if self.variational:
            mean, logvar = h.chunk(2, dim=1)
            h = mean
            if self.training:
                h = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        for n, layer in enumerate(self.decoder):
            h = layer(h)
            if n < len(self.decoder) - 1:
                h = torch.tanh(h)
        return h, mean, logvar


@register_model
class MultDAE(UserVectorRecommender):
    name = "multdae"
    defaults = with_training_defaults(
        dims=[200], dropout=0.5, reg=0.01, lr=1e-3, batch_size=500, epochs=200, patience=10
    )
    description = "Denoising autoencoder over a user's items, multinomial likelihood."
    grid = {"dims": [[200], [600, 200]], "dropout": [0.2, 0.5]}
    smoke = {"epochs": 2, "dims": [8]}
    variational = False

    def _prepare(self, train: Interactions) -> dict:
        h = self.hyperparameters
        shape = super()._prepare(train)
        return {**shape, "dims": [int(d) for d in h["dims"]], "dropout": float(h["dropout"])}

    def _make_module(self, shape: dict) -> MultModule:
        return MultModule(shape["n_items"], shape["dims"], shape["dropout"], self.variational)

    def _forward(self, module, vectors, users) -> torch.Tensor:
        return module(vectors)[0]

    def _loss(self, module: MultModule, batch) -> torch.Tensor:
        _, vectors = batch
        logits, _, _ = module(vectors)
        return multinomial_loss(logits, vectors) + self._penalty(module)

    def _penalty(self, module: MultModule) -> torch.Tensor | float:
        """reg * sum ||W||^2 / batch_size over the weight matrices (not the biases)."""
        h = self.hyperparameters
        if not float(h["reg"]):
            return 0.0
        weights = [layer.weight for layer in [*module.encoder, *module.decoder]]
        return float(h["reg"]) / float(h["batch_size"]) * sum(w.pow(2).sum() for w in weights)

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        return self._score_vectors(self._profile_vectors(profiles))


@register_model
class MultVAE(MultDAE):
    name = "multvae"
    defaults = with_training_defaults(
        dims=[600, 200],
        dropout=0.5,
        reg=0.0,
        anneal_cap=0.2,
        anneal_share=0.85,  # of the planned updates, when beta reaches the cap
        total_anneal_steps=None,  # None: from anneal_share; a number: that many updates
        lr=1e-3,
        batch_size=500,
        epochs=200,
        patience=10,
    )
    description = "Variational autoencoder over a user's items (Mult-VAE), annealed KL."
    grid = {"anneal_cap": [0.2, 0.5], "dims": [[600, 200], [200, 64]]}
    smoke = {"epochs": 2, "dims": [8, 4]}
    variational = True

    def _prepare(self, train: Interactions) -> dict:
        self.updates_ = 0
        self.beta_ = 0.0
        shape = super()._prepare(train)
        h = self.hyperparameters
        # an epoch's batches as the loop will see them (building them draws nothing)
        self.planned_updates_ = int(h["epochs"]) * len(self._batches(0))
        self.anneal_steps_ = anneal_steps(
            float(h["anneal_cap"]),
            float(h["anneal_share"]),
            self.planned_updates_,
            h["total_anneal_steps"],
        )
        return shape

    def _after_step(self, module: torch.nn.Module) -> None:
        self.updates_ += 1

    def _counters(self) -> dict:
        return {"updates": self.updates_}

    def _restore_counters(self, saved: dict) -> None:
        self.updates_ = int(saved.get("updates", 0))

    def _loss(self, module: MultModule, batch) -> torch.Tensor:
        _, vectors = batch
        logits, mean, logvar = module(vectors)
        kl = (0.5 * (-logvar + logvar.exp() + mean.pow(2) - 1)).sum(dim=1).mean()
        h = self.hyperparameters
        self.beta_ = kl_weight(self.updates_, float(h["anneal_cap"]), self.anneal_steps_)
        return multinomial_loss(logits, vectors) + self.beta_ * kl + self._penalty(module)
