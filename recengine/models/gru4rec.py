"""GRU4Rec (Hidasi et al. 2016; Hidasi & Karatzoglou 2018): a GRU reads the items of a
sequence one at a time and its hidden state scores the next item.

A user's time-ordered training items are treated as one session. Training uses
session-parallel mini-batches: each of the ``batch_size`` rows follows one sequence, one
item per step; when a row's sequence ends the next sequence takes its slot and that
row's hidden state is reset to zero. The hidden state is carried between steps but not
back-propagated through (truncated BPTT of one step, as in the papers).

Losses, over the step's candidates (the other rows' target items, the in-batch
negatives, plus ``n_sample`` extra items drawn from popularity ** ``sample_alpha`` and
shared by the batch):

* ``cross_entropy``: softmax over the candidates, the row's own target is the label.
* ``bpr_max`` (2018): -log sum_j s_j sigmoid(r_i - r_j) + bpreg * sum_j s_j r_j^2,
  where s_j is the softmax of the negatives' scores; the second term is the paper's
  score regularisation. Scores pass through ELU(``elu``) first, as in the authors' code.

Choices: a candidate column holding the row's own target item (a duplicate target in
the batch, or a sampled copy) is not used as a negative; input embeddings are the output
weights (``constrained_embedding``, the authors' default) unless disabled; sequences are
shuffled each epoch. A training user is scored from the hidden state after their whole
training sequence; ``score_profiles`` runs the GRU over each given sequence (oldest
first), so train + validation sequences or a new visitor's picks are scored without
retraining. Defaults follow the authors' PyTorch code (100 units, Adagrad, lr 0.05,
batch 64, 2048 samples, alpha 0.5, bpreg 1, ELU 0.5, 10 epochs).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from .gradient import Batches, with_training_defaults
from .registry import register_model
from .sequences import SequentialRecommender, windows

LOSSES = ("cross_entropy", "bpr_max")


@dataclass
class SessionPlan:
    """Session-parallel schedule: rows ``bounds[t]:bounds[t + 1]`` are step t's transitions.

    slot: batch row of the transition; position: index of its input item in the
    sequence items (the target is the next one); reset: the first transition of a
    sequence (the row's hidden state starts from zero).
    """

    bounds: np.ndarray
    slot: np.ndarray
    position: np.ndarray
    reset: np.ndarray

    @property
    def n_steps(self) -> int:
        return len(self.bounds) - 1


def session_parallel(indptr: np.ndarray, order: np.ndarray, batch_size: int) -> SessionPlan:
    """Lay the sequences of ``order`` (each >= 2 items) out in ``batch_size`` parallel rows;
    each sequence takes the row that becomes free first (the lowest row on ties)."""
    order = np.asarray(order, dtype=np.int64)
    transitions = indptr[order + 1] - indptr[order] - 1
    first_step = np.zeros(len(order), dtype=np.int64)
    slot = np.zeros(len(order), dtype=np.int64)
    free = [(0, row) for row in range(min(batch_size, len(order)))]  # (free from step, row)
    for k, n in enumerate(transitions.tolist()):
        start, row = heapq.heappop(free)
        first_step[k], slot[k] = start, row
        heapq.heappush(free, (start + n, row))
    owner = np.repeat(np.arange(len(order)), transitions)
    within = np.arange(len(owner)) - np.repeat(np.cumsum(transitions) - transitions, transitions)
    step = first_step[owner] + within
    rows = np.lexsort((slot[owner], step))
    n_steps = int(step.max()) + 1 if len(step) else 0
    return SessionPlan(
        bounds=np.searchsorted(step[rows], np.arange(n_steps + 1)),
        slot=slot[owner][rows],
        position=(indptr[order][owner] + within)[rows],
        reset=(within == 0)[rows],
    )


def bpr_max_loss(
    scores: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor, bpreg: float
) -> torch.Tensor:
    """Mean BPR-max over rows with at least one negative.

    scores (b, c); positive (b,) column of each row's target; negatives (b, c) bool.
    """
    target = scores.gather(1, positive[:, None])
    # A large finite fill, not -inf: a row without negatives stays NaN-free.
    weights = torch.softmax(scores.masked_fill(~negatives, -1e30), dim=1) * negatives
    ranked = (torch.sigmoid(target - scores) * weights).sum(1)
    loss = -torch.log(ranked + 1e-24) + bpreg * (weights * scores.pow(2)).sum(1)
    has = negatives.any(1)
    return loss[has].mean() if bool(has.any()) else scores.sum() * 0.0


class GRU4RecModule(nn.Module):
    def __init__(
        self,
        n_items: int,
        hidden: int,
        layers: int,
        constrained: bool,
        dropout_embed: float = 0.0,
        dropout_hidden: float = 0.0,
    ) -> None:
        super().__init__()
        self.output = nn.Embedding(n_items, hidden)  # W_y, one row per item
        self.bias = nn.Parameter(torch.zeros(n_items))  # b_y
        self.input = None if constrained else nn.Embedding(n_items, hidden)
        self.gru = nn.GRU(
            hidden, hidden, num_layers=layers, batch_first=True,
            dropout=dropout_hidden if layers > 1 else 0.0,
        )  # fmt: skip
        self.drop_embed = nn.Dropout(dropout_embed)
        self.drop_hidden = nn.Dropout(dropout_hidden)
        for table in (self.output, self.input):
            if table is not None:  # the authors' uniform init, scaled by both dimensions
                bound = math.sqrt(6.0 / sum(table.weight.shape))
                nn.init.uniform_(table.weight, -bound, bound)

    def embed(self, items: torch.Tensor) -> torch.Tensor:
        return self.drop_embed((self.output if self.input is None else self.input)(items))

    def step(self, items: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One item per row: (output (b, hidden), new state (layers, b, hidden))."""
        out, hidden = self.gru(self.embed(items)[:, None, :], hidden)
        return self.drop_hidden(out[:, 0]), hidden

    def encode(self, window: torch.Tensor) -> torch.Tensor:
        """(b, hidden) last-layer state after each left-aligned shifted window (0 pads);
        zero for an empty sequence."""
        lengths = (window > 0).sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed((window - 1).clamp(min=0)),
            lengths.clamp(min=1).cpu(),
            batch_first=True,
            enforce_sorted=False,
        )
        _, hidden = self.gru(packed)
        return self.drop_hidden(hidden[-1]) * (lengths > 0)[:, None]


@register_model
class GRU4Rec(SequentialRecommender):
    name = "gru4rec"
    defaults = with_training_defaults(
        hidden=100,
        layers=1,
        loss="cross_entropy",
        n_sample=2048,
        sample_alpha=0.5,
        bpreg=1.0,
        elu=0.5,
        dropout_embed=0.0,
        dropout_hidden=0.0,
        constrained_embedding=True,
        optimizer="adagrad",
        lr=0.05,
        batch_size=64,
        epochs=10,
    )
    description = "GRU4Rec: a recurrent network over each user's time-ordered history."
    grid = {"loss": ["cross_entropy", "bpr_max"], "lr": [0.05, 0.1]}
    smoke = {"epochs": 2, "hidden": 8, "batch_size": 4, "n_sample": 4}

    def __init__(self, **hyperparameters) -> None:
        super().__init__(**hyperparameters)
        if self.hyperparameters["loss"] not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}")

    def _shape(self, train: Interactions) -> dict:
        h = self.hyperparameters
        # Extra negatives are drawn in proportion to popularity ** alpha (the papers' choice).
        weights = np.bincount(self.seq_items_, minlength=train.n_items) ** float(h["sample_alpha"])
        self.sample_cdf_ = np.cumsum(weights) / max(weights.sum(), 1e-12)
        return {
            "n_items": train.n_items,
            "hidden": int(h["hidden"]),
            "layers": int(h["layers"]),
            "constrained": bool(h["constrained_embedding"]),
        }

    def _make_module(self, shape: dict) -> GRU4RecModule:
        h = self.hyperparameters
        return GRU4RecModule(
            shape["n_items"], shape["hidden"], shape["layers"], shape["constrained"],
            float(h["dropout_embed"]), float(h["dropout_hidden"]),
        )  # fmt: skip

    def _batches(self, epoch: int) -> Batches:
        h, shape = self.hyperparameters, self.shape_
        size, n_sample = int(h["batch_size"]), int(h["n_sample"])
        users = np.flatnonzero(np.diff(self.seq_indptr_) >= 2)
        plan = session_parallel(self.seq_indptr_, self.rng_.permutation(users), size)
        items = self.seq_items_

        def make():
            self.hidden_ = torch.zeros(shape["layers"], size, shape["hidden"], device=self.device_)
            for t in range(plan.n_steps):
                rows = slice(plan.bounds[t], plan.bounds[t + 1])
                position = plan.position[rows]
                extra = np.searchsorted(self.sample_cdf_, self.rng_.random(n_sample), side="right")
                yield (
                    plan.slot[rows], items[position], items[position + 1],
                    plan.reset[rows].astype(np.float32),
                    np.minimum(extra, shape["n_items"] - 1),
                )  # fmt: skip

        return Batches(make, plan.n_steps, self.device_)

    def _loss(self, module: GRU4RecModule, batch) -> torch.Tensor:
        slots, inputs, targets, reset, extra = batch
        # A row whose sequence starts at this step starts from a zero state.
        state = self.hidden_[:, slots] * (1.0 - reset)[None, :, None]
        out, state = module.step(inputs, state)
        self.hidden_[:, slots] = state.detach().to(self.hidden_.dtype)
        candidates = torch.cat([targets, extra])
        scores = (out @ module.output(candidates).T + module.bias[candidates]).float()
        positive = torch.arange(len(targets), device=scores.device)
        own = torch.zeros_like(scores, dtype=torch.bool)
        own[positive, positive] = True
        negatives = (candidates[None, :] != targets[:, None]) & ~own
        h = self.hyperparameters
        if h["loss"] == "cross_entropy":
            return F.cross_entropy(scores.masked_fill(~negatives & ~own, -torch.inf), positive)
        if h["elu"]:
            scores = F.elu(scores, float(h["elu"]))
        return bpr_max_loss(scores, positive, negatives, float(h["bpreg"]))

    def _represent(self, module, users, items, starts, ends) -> torch.Tensor:
        # The whole sequence: the state carried in training summarises all of it too.
        length = max(int((ends - starts).max(initial=0)), 1)
        window = windows(items, starts, ends, length, align="left")
        return module.encode(torch.as_tensor(window, device=self.device_))

    def _output(self, module: GRU4RecModule):
        return module.output.weight, module.bias

    def _release_training_state(self) -> None:
        super()._release_training_state()
        self.hidden_ = self.sample_cdf_ = None
