"""LightGCN (He et al., SIGIR 2020): graph convolution reduced to neighbourhood averaging.

e^(k+1) = D^-1/2 A D^-1/2 e^(k) on the user-item graph A = [[0, R], [R^T, 0]], with no
feature transforms and no non-linearity; the final embedding of every node is the mean
of its K + 1 layer embeddings (layer 0, the only parameters, included) and
score(u, i) = e_u . e_i. Loss: BPR, -log sigmoid(x_ui - x_uj), over uniform triplets
(every training pair once per epoch with a uniformly drawn unseen item), plus L2 on the
layer-0 embeddings of the batch weighted as in the authors' code:
reg * 0.5 * (|e_u|^2 + |e_i|^2 + |e_j|^2) / batch_size.

Choices: the normalised adjacency is one float32 sparse CSR tensor built once with scipy
(isolated nodes, such as items nobody touched, get 0 instead of an infinite 1/sqrt(0));
the whole graph is propagated once per batch (K sparse products forward, K backward,
each O(nnz x factors)); after training the final embeddings are cached as numpy arrays,
which are all that is saved, so scoring is one matrix product and a loaded model scores
identically. ``GraphRecommender`` holds what LightGCN and NGCF share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from ..triplets import UniformTriplets
from .gradient import EpochBatches, GradientRecommender, with_training_defaults
from .graph_filters import torch_csr
from .registry import register_model


def normalized_adjacency(matrix: sp.spmatrix) -> torch.Tensor:
    """D^-1/2 A D^-1/2 of the bipartite graph of ``matrix`` (n_users, n_items), as a
    float32 sparse CSR tensor of side n_users + n_items (users first, then items).

    Entry (u, n_users + i) = 1 / sqrt(|N_u| |N_i|) for every training pair; rows and
    columns of nodes without edges are zero.
    """
    binary = sp.csr_matrix(matrix, dtype=np.float32)
    binary.sum_duplicates()
    binary.data[:] = 1.0
    user_degree = np.asarray(binary.sum(axis=1)).ravel()
    item_degree = np.asarray(binary.sum(axis=0)).ravel()

    def inverse_sqrt(degree: np.ndarray) -> np.ndarray:
        return np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)

    scaled = sp.diags(inverse_sqrt(user_degree)) @ binary @ sp.diags(inverse_sqrt(item_degree))
    adjacency = sp.bmat([[None, scaled], [scaled.T, None]], format="csr", dtype=np.float32)
    adjacency.sort_indices()
    return torch_csr(adjacency)


class _SymmetricProduct(torch.autograd.Function):
    """adjacency @ x for a symmetric sparse adjacency: the gradient is adjacency @ grad,
    which spares torch transposing the CSR matrix on every backward pass."""

    @staticmethod
    def forward(ctx, adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adjacency = adjacency
        # float32 always: under CUDA autocast x may arrive as bf16/fp16.
        return torch.sparse.mm(adjacency, x.to(adjacency.dtype))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, torch.sparse.mm(ctx.adjacency, grad.to(ctx.adjacency.dtype))


def propagate(adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """adjacency @ x (adjacency symmetric sparse, x dense), differentiable in x."""
    return _SymmetricProduct.apply(adjacency, x)


class LightGCNModule(nn.Module):
    def __init__(self, n_users: int, n_items: int, factors: int, layers: int, init_std: float):
        super().__init__()
        self.n_users, self.n_layers = n_users, layers
        self.user = nn.Embedding(n_users, factors)
        self.item = nn.Embedding(n_items, factors)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)

    def layers(self, adjacency: torch.Tensor) -> list[torch.Tensor]:
        """[e^(0), ..., e^(K)], each (n_users + n_items, factors)."""
        x = torch.cat([self.user.weight, self.item.weight])
        outputs = [x]
        for _ in range(self.n_layers):
            x = propagate(adjacency, x)
            outputs.append(x)
        return outputs

    def forward(self, adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final (users, items) embeddings: the mean of the layer embeddings."""
        final = torch.stack(self.layers(adjacency)).mean(dim=0)
        return final[: self.n_users], final[self.n_users :]


class GraphRecommender(GradientRecommender):
    """Shared by graph models trained with BPR whose ``module(adjacency)`` returns the
    final (user, item) embeddings of the whole graph; subclasses define the module and
    the loss (``_bpr`` helps)."""

    def _prepare(self, train: Interactions) -> dict[str, Any]:
        matrix = train.matrix()
        self.triplets_ = UniformTriplets(matrix)
        self.adjacency_ = normalized_adjacency(matrix).to(self.device_)
        self.propagated_: tuple[torch.Tensor, torch.Tensor] | None = None
        self.user_vectors_: np.ndarray | None = None
        self.item_vectors_: np.ndarray | None = None
        return {"n_users": train.n_users, "n_items": train.n_items}

    def _batches(self, epoch: int) -> EpochBatches:
        size = int(self.hyperparameters["batch_size"])
        return EpochBatches(self.triplets_.epoch_arrays(self.rng_), size, self.device_)

    def _bpr(
        self,
        users: torch.Tensor,
        positives: torch.Tensor,
        negatives: torch.Tensor,
        user_final: torch.Tensor,
        item_final: torch.Tensor,
        l2_terms: Sequence[torch.Tensor],
    ) -> torch.Tensor:
        """BPR loss of a batch plus reg * 0.5 * sum of squares of ``l2_terms`` / batch."""
        u, i, j = user_final[users], item_final[positives], item_final[negatives]
        # softplus(x_uj - x_ui) = -log sigmoid(x_ui - x_uj), written as the authors' code
        # does (and torch's CPU log_sigmoid kernel is far slower on small batches).
        loss = F.softplus((u * j).sum(-1) - (u * i).sum(-1)).mean()
        l2 = sum(term.pow(2).sum() for term in l2_terms)
        return loss + self.hyperparameters["reg"] * 0.5 * l2 / len(users)

    # Validation during training scores with the current weights: propagate once per
    # optimiser step at most, not once per batch of scored users.
    def _after_step(self, module: nn.Module) -> None:
        self.propagated_ = None

    def _propagated(self, module: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        if self.propagated_ is None:
            with torch.no_grad():
                was_training = module.training
                module.eval()  # no dropout when scoring
                users, items = module(self.adjacency_)
                module.train(was_training)
            self.propagated_ = (users.float(), items.float())
        return self.propagated_

    def _user_scores(self, module: nn.Module, users: torch.Tensor) -> torch.Tensor:
        user_final, item_final = self._propagated(module)
        return user_final[users] @ item_final.T

    def _pair_scores(self, module, users, items) -> torch.Tensor:
        user_final, item_final = self._propagated(module)
        return (user_final[users][:, None, :] * item_final[items]).sum(-1)

    def _after_training(self) -> None:
        self.propagated_ = None  # the loop may have restored an earlier epoch's weights
        users, items = self._propagated(self.module_)
        self.user_vectors_ = users.cpu().numpy()
        self.item_vectors_ = items.cpu().numpy()

    def _release_training_state(self) -> None:
        # Scoring needs only the cached vectors; dropping the module makes a fitted model
        # and a loaded one the same object.
        self.triplets_ = self.adjacency_ = self.propagated_ = None
        self.module_ = None

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        if self.item_vectors_ is None:  # validation during training
            return super()._score_users(users)
        return self.user_vectors_[users] @ self.item_vectors_.T

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        if self.item_vectors_ is None:
            return super()._score_items(users, items)
        return np.einsum("bd,bmd->bm", self.user_vectors_[users], self.item_vectors_[items])

    def _weights(self) -> dict[str, np.ndarray]:
        return {"user_vectors": self.user_vectors_, "item_vectors": self.item_vectors_}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.user_vectors_ = weights["user_vectors"]
        self.item_vectors_ = weights["item_vectors"]
        self.module_ = None


@register_model
class LightGCN(GraphRecommender):
    name = "lightgcn"
    # The authors' settings: 64 factors, 3 layers, Adam 1e-3, batch 2048, L2 1e-4,
    # N(0, 0.1) init, up to 1000 epochs, early stopping on Recall@20 after 50 epochs
    # without improvement (validated every 10 epochs, patience 5).
    defaults = with_training_defaults(
        factors=64,
        layers=3,
        reg=1e-4,
        init_std=0.1,
        lr=1e-3,
        batch_size=2048,
        epochs=1000,
        eval_every=10,
        patience=5,
        valid_metric="Recall@20",
    )
    description = "LightGCN: embeddings averaged over K hops of the user-item graph (BPR)."
    grid = {"layers": [2, 3], "reg": [1e-4, 1e-3]}
    smoke = {"epochs": 3, "factors": 8, "layers": 2}

    def _prepare(self, train: Interactions) -> dict[str, Any]:
        h = self.hyperparameters
        return {**super()._prepare(train), "factors": int(h["factors"]), "layers": int(h["layers"])}

    def _make_module(self, shape: dict[str, Any]) -> LightGCNModule:
        return LightGCNModule(
            shape["n_users"],
            shape["n_items"],
            shape["factors"],
            shape["layers"],
            float(self.hyperparameters["init_std"]),
        )

    def _loss(self, module: LightGCNModule, batch) -> torch.Tensor:
        users, positives, negatives = batch
        user_final, item_final = module(self.adjacency_)
        layer0 = (module.user(users), module.item(positives), module.item(negatives))
        return self._bpr(users, positives, negatives, user_final, item_final, layer0)
