"""NGCF (Wang et al., SIGIR 2019): neural graph collaborative filtering.

Embedding propagation layer (the paper's matrix form, eq. 7), with L = D^-1/2 A D^-1/2:

    E^(l) = LeakyReLU( ((L + I) E^(l-1)) W1 + ((L E^(l-1)) * E^(l-1)) W2 )

W1 carries the summed neighbour (and self) messages, W2 the element-wise interaction of
a node with its neighbours' messages (both nn.Linear with bias, as in the authors'
code; LeakyReLU slope 0.2). The final embedding of a node concatenates E^(0) ... E^(K),
each propagated layer L2-normalised first (as the authors' code does); score = inner
product. Loss: BPR over uniform triplets plus, as in the authors' code, L2 on the batch's
final embeddings: reg * 0.5 * (|e_u|^2 + |e_i|^2 + |e_j|^2) / batch_size.

Regularisation options from the paper, active in training only: message dropout (on each
layer's output) and node dropout (a dropped node sends no messages through L in that
step; the survivors are scaled by 1 / (1 - p)). Same adjacency, per-batch propagation
and cached final embeddings as LightGCN (``GraphRecommender``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from .gradient import with_training_defaults
from .lightgcn import GraphRecommender, propagate
from .registry import register_model


class NGCFModule(nn.Module):
    def __init__(
        self,
        n_users: int,
        n_items: int,
        factors: int,
        layers: int,
        node_dropout: float = 0.0,
        message_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_users = n_users
        self.node_dropout, self.message_dropout = node_dropout, message_dropout
        self.user = nn.Embedding(n_users, factors)
        self.item = nn.Embedding(n_items, factors)
        self.w1 = nn.ModuleList(nn.Linear(factors, factors) for _ in range(layers))
        self.w2 = nn.ModuleList(nn.Linear(factors, factors) for _ in range(layers))
        # Xavier everywhere, as the authors' code initialises.
        for parameter in self.parameters():
            if parameter.dim() == 2:
                nn.init.xavier_uniform_(parameter)
            else:
                nn.init.zeros_(parameter)

    def layers(self, adjacency: torch.Tensor) -> list[torch.Tensor]:
        """[E^(0), ..., E^(K)] as propagated (before normalisation), each (n_nodes, factors)."""
        x = torch.cat([self.user.weight, self.item.weight])
        outputs = [x]
        for w1, w2 in zip(self.w1, self.w2, strict=True):
            sender = x
            if self.training and self.node_dropout > 0:
                keep = torch.rand(x.shape[0], 1, device=x.device) >= self.node_dropout
                sender = x * keep / (1.0 - self.node_dropout)
            side = propagate(adjacency, sender)  # L E: the neighbours' messages
            x = F.leaky_relu(w1(side + x) + w2(side * x), negative_slope=0.2)
            x = F.dropout(x, self.message_dropout, training=self.training)
            outputs.append(x)
        return outputs

    def forward(self, adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final (users, items) embeddings, each of width factors * (layers + 1)."""
        layers = self.layers(adjacency)
        final = torch.cat([layers[0]] + [F.normalize(x, dim=1) for x in layers[1:]], dim=1)
        return final[: self.n_users], final[self.n_users :]


@register_model
class NGCF(GraphRecommender):
    name = "ngcf"
    # The paper's Gowalla settings: 64 factors, 3 layers of 64, Adam 1e-4, batch 1024,
    # L2 1e-5, message dropout 0.1; node dropout off, as in the authors' code; up to
    # 400 epochs with early stopping after 50 epochs without Recall@20 improving.
    defaults = with_training_defaults(
        factors=64,
        layers=3,
        reg=1e-5,
        node_dropout=0.0,
        message_dropout=0.1,
        lr=1e-4,
        batch_size=1024,
        epochs=400,
        eval_every=10,
        patience=5,
        valid_metric="Recall@20",
    )
    description = "NGCF: graph propagation with learned transforms and interaction messages (BPR)."
    grid = {"node_dropout": [0.0, 0.1], "lr": [1e-4, 1e-3]}
    smoke = {"epochs": 3, "factors": 8, "layers": 2, "lr": 1e-3}

    def __init__(self, **hyperparameters: Any) -> None:
        super().__init__(**hyperparameters)
        for key in ("node_dropout", "message_dropout"):
            if not 0.0 <= float(self.hyperparameters[key]) < 1.0:
                raise ValueError(f"{key} must be in [0, 1)")

    def _prepare(self, train: Interactions) -> dict[str, Any]:
        h = self.hyperparameters
        return {**super()._prepare(train), "factors": int(h["factors"]), "layers": int(h["layers"])}

    def _make_module(self, shape: dict[str, Any]) -> NGCFModule:
        h = self.hyperparameters
        return NGCFModule(
            shape["n_users"],
            shape["n_items"],
            shape["factors"],
            shape["layers"],
            node_dropout=float(h["node_dropout"]),
            message_dropout=float(h["message_dropout"]),
        )

    def _loss(self, module: NGCFModule, batch) -> torch.Tensor:
        users, positives, negatives = batch
        user_final, item_final = module(self.adjacency_)
        finals = (user_final[users], item_final[positives], item_final[negatives])
        return self._bpr(users, positives, negatives, user_final, item_final, finals)
