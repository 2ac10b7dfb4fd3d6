"""SASRec (Kang & McAuley 2018): self-attentive sequential recommendation.

The last ``max_len`` items of a sequence (right-aligned, left-padded) are embedded
(scaled by sqrt(d)), added to learned positional embeddings and passed through
``blocks`` pre-LayerNorm blocks of causal multi-head self-attention (``heads``) and a
point-wise two-layer feed-forward network, each with residual connections and dropout;
padded positions are zeroed after every block and never attended to. The output at
position t predicts item t + 1 by its dot product with the item embeddings, which are
shared with the input layer. Training: binary cross-entropy on every position's next
item against one sampled item the user never interacted with.

Defaults are the paper's for sparse data such as Amazon Beauty: d = 50, 2 blocks, 1 head,
dropout 0.5, max_len 50, Adam lr 1e-3, batch 128, up to 200 epochs (validated every 5
epochs when validation data is given). The paper's Adam betas (0.9, 0.98) are not exposed
by the training loop, which uses PyTorch's defaults.

A training user is scored from the last position's output over their training sequence.
``score_profiles`` runs the same network over each profile read as a time-ordered
sequence (oldest first), so train + validation sequences or a new visitor's picks are
scored without retraining.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from .gradient import Batches, with_training_defaults
from .registry import register_model
from .sequences import SequentialRecommender, sample_unseen, windows


class SASRecModule(nn.Module):
    def __init__(
        self, n_items: int, max_len: int, hidden: int, blocks: int, heads: int, dropout: float
    ) -> None:
        super().__init__()
        self.heads = heads
        self.item = nn.Embedding(n_items + 1, hidden, padding_idx=0)  # row 0: padding
        self.position = nn.Embedding(max_len + 1, hidden, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.attention_norms = nn.ModuleList(nn.LayerNorm(hidden, eps=1e-8) for _ in range(blocks))
        self.attentions = nn.ModuleList(
            nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
            for _ in range(blocks)
        )
        self.forward_norms = nn.ModuleList(nn.LayerNorm(hidden, eps=1e-8) for _ in range(blocks))
        self.feed_forwards = nn.ModuleList(
            nn.Sequential(
                nn.Linear(hidden, hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, hidden),
                nn.Dropout(dropout),
            )  # fmt: skip
            for _ in range(blocks)
        )
        self.last_norm = nn.LayerNorm(hidden, eps=1e-8)
        for table in (self.item, self.position):
            nn.init.xavier_normal_(table.weight)
            with torch.no_grad():
                table.weight[0].zero_()

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """(b, L, d) outputs of right-aligned shifted windows (b, L), 0 = padding."""
        real = window > 0
        length = window.shape[1]
        x = self.item(window) * self.item.embedding_dim**0.5
        positions = torch.arange(1, length + 1, device=window.device)[None, :] * real
        x = self.dropout(x + self.position(positions)) * real[..., None]
        # True = may not attend: later positions and padding. Every position may attend to
        # itself, so a fully padded row has no all-masked query (which would give NaN).
        eye = torch.eye(length, dtype=torch.bool, device=window.device)
        later = torch.ones(length, length, dtype=torch.bool, device=window.device).triu(1)
        blocked = (later[None] | ~real[:, None, :]) & ~eye[None]
        blocked = blocked.repeat_interleave(self.heads, dim=0)
        for norm, attention, forward_norm, feed_forward in zip(
            self.attention_norms, self.attentions, self.forward_norms, self.feed_forwards,
            strict=True,
        ):  # fmt: skip
            query = norm(x)
            attended, _ = attention(query, x, x, attn_mask=blocked, need_weights=False)
            x = forward_norm(query + attended)
            x = (x + feed_forward(x)) * real[..., None]
        return self.last_norm(x)


@register_model
class SASRec(SequentialRecommender):
    name = "sasrec"
    defaults = with_training_defaults(
        hidden=50,
        blocks=2,
        heads=1,
        dropout=0.5,
        max_len=50,
        lr=1e-3,
        batch_size=128,
        epochs=200,
        eval_every=5,
    )
    description = "SASRec: causal self-attention over a user's most recent works."
    grid = {"dropout": [0.2, 0.5], "blocks": [1, 2]}
    smoke = {"epochs": 2, "hidden": 8, "max_len": 5, "batch_size": 4}

    def _shape(self, train: Interactions) -> dict:
        h = self.hyperparameters
        if int(h["hidden"]) % int(h["heads"]):
            raise ValueError("hidden must be a multiple of heads")
        self.train_users_ = np.flatnonzero(np.diff(self.seq_indptr_) >= 2)
        return {
            "n_items": train.n_items,
            "max_len": int(h["max_len"]),
            "hidden": int(h["hidden"]),
            "blocks": int(h["blocks"]),
            "heads": int(h["heads"]),
        }

    def _make_module(self, shape: dict) -> SASRecModule:
        return SASRecModule(
            shape["n_items"], shape["max_len"], shape["hidden"], shape["blocks"],
            shape["heads"], float(self.hyperparameters["dropout"]),
        )  # fmt: skip

    def _batches(self, epoch: int) -> Batches:
        size = int(self.hyperparameters["batch_size"])
        length = self.shape_["max_len"]
        users = self.train_users_

        def make():
            # One instance per user and epoch: the last max_len + 1 items, each position
            # predicting the next (the paper's setup).
            order = self.rng_.permutation(users)
            for start in range(0, len(users), size):
                batch = order[start : start + size]
                starts, ends = self.seq_indptr_[batch], self.seq_indptr_[batch + 1]
                inputs = windows(self.seq_items_, starts, ends - 1, length)
                positives = windows(self.seq_items_, starts, ends, length) - 1
                negatives = sample_unseen(
                    self.rng_, batch, (length,), self.seen_keys_, self.shape_["n_items"]
                )
                yield inputs, np.maximum(positives, 0), negatives

        return Batches(make, -(-len(users) // size), self.device_)

    def _loss(self, module: SASRecModule, batch) -> torch.Tensor:
        inputs, positives, negatives = batch
        out = module(inputs)
        real = inputs > 0
        items = module.item.weight
        positive = (out * items[positives + 1]).sum(-1).float()
        negative = (out * items[negatives + 1]).sum(-1).float()
        loss = -F.logsigmoid(positive) - F.logsigmoid(-negative)
        return loss[real].mean()

    def _represent(self, module, users, items, starts, ends) -> torch.Tensor:
        window = windows(items, starts, ends, self.shape_["max_len"])
        return module(torch.as_tensor(window, device=self.device_))[:, -1]

    def _output(self, module: SASRecModule):
        return module.item.weight[1:], None

    def _release_training_state(self) -> None:
        super()._release_training_state()
        self.train_users_ = None
