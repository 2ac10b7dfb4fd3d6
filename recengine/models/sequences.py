"""Time-ordered user sequences, shared by the sequential recommenders (GRU4Rec, Caser, SASRec).

``base.seen_profiles`` gives a user's training items sorted by index, which loses the
order these models learn from, so they keep their own copy: CSR-style arrays where
``items[indptr[u]:indptr[u + 1]]`` are user u's training items in time order
(``Interactions.profiles()``: the first occurrence of a repeated item is kept). The
arrays are saved with the weights, so a loaded model scores exactly as the fitted one.

Models read fixed-width windows of a sequence in which 0 is padding and item i is
stored as i + 1: embedding tables reserve row 0 (``padding_idx=0``) for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..data import Interactions
from .base import SCORE_BATCH
from .gradient import GradientRecommender


def pack(profiles: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(indptr (n + 1,), items) int64 CSR arrays of a list of item sequences."""
    lengths = np.array([len(p) for p in profiles], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    items = (
        np.concatenate([np.asarray(p, dtype=np.int64) for p in profiles]) if len(profiles) else []
    )
    return indptr, np.asarray(items, dtype=np.int64)


def windows(
    items: np.ndarray, starts: np.ndarray, ends: np.ndarray, length: int, align: str = "right"
) -> np.ndarray:
    """(len(starts), length) int64: the last ``length`` items of each ``items[start:end]``,
    shifted by one (0 is padding). Right-aligned (padding first, the newest item in the last
    column) for the convolution and attention models, left-aligned for packed RNN input."""
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    starts = np.maximum(starts, ends - length)
    counts = ends - starts
    offset = np.broadcast_to(np.arange(length), (len(starts), length))
    if align == "right":
        offset = offset - (length - counts)[:, None]
    valid = (offset >= 0) & (offset < counts[:, None])
    out = np.zeros((len(starts), length), dtype=np.int64)
    out[valid] = items[(starts[:, None] + offset)[valid]] + 1
    return out


def seen_keys(indptr: np.ndarray, indices: np.ndarray, n_items: int) -> np.ndarray:
    """Sorted user * n_items + item keys of the training pairs (for rejection sampling)."""
    users = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    return np.sort(users * n_items + indices)


def sample_unseen(
    rng: np.random.Generator,
    users: np.ndarray,
    size: tuple[int, ...],
    keys: np.ndarray,
    n_items: int,
    tries: int = 10,
) -> np.ndarray:
    """(len(users), *size) uniform items each user has not seen in training.

    Rejection sampling: after ``tries`` rounds a draw is kept even if seen (only users
    who saw almost the whole catalogue get that far).
    """
    out = rng.integers(0, n_items, (len(users), *size))
    user_keys = np.asarray(users, np.int64).reshape(-1, *([1] * len(size))) * n_items
    for _ in range(tries):
        query = user_keys + out
        position = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
        bad = keys[position] == query if len(keys) else np.zeros(out.shape, bool)
        if not bad.any():
            break
        out[bad] = rng.integers(0, n_items, int(bad.sum()))
    return out


class SequentialRecommender(GradientRecommender):
    """A gradient model whose user representation is computed from a time-ordered sequence.

    Subclasses implement ``_shape(train)`` (the module's shape facts), ``_make_module``,
    ``_batches``, ``_loss``, ``_represent`` and ``_output``. Scores are
    ``representation . W_j + b_j`` for every item j, whether the sequence is a training
    user's (stored at fit) or a profile given at prediction time.
    """

    sequential = True

    def _prepare(self, train: Interactions) -> dict[str, Any]:
        self.seq_indptr_, self.seq_items_ = pack(train.profiles())
        self.seen_keys_ = seen_keys(self._seen_indptr, self._seen_indices, train.n_items)
        return self._shape(train)

    def _shape(self, train: Interactions) -> dict[str, Any]:
        raise NotImplementedError

    def _represent(
        self,
        module: torch.nn.Module,
        users: torch.Tensor | None,
        items: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
    ) -> torch.Tensor:
        """(b, d) representation of the sequences ``items[starts[k]:ends[k]]``.

        users: the training users they belong to, or None for ad-hoc profiles (models
        with user embeddings then use a zero user vector).
        """
        raise NotImplementedError

    def _output(self, module: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(n_items, d) output item vectors and (n_items,) biases (or None)."""
        raise NotImplementedError

    # ----------------------------------------------------------- scoring
    def _users_represent(self, module: torch.nn.Module, users: torch.Tensor) -> torch.Tensor:
        rows = users.cpu().numpy()
        starts, ends = self.seq_indptr_[rows], self.seq_indptr_[rows + 1]
        return self._represent(module, users, self.seq_items_, starts, ends)

    def _all_scores(self, module: torch.nn.Module, represented: torch.Tensor) -> torch.Tensor:
        weights, bias = self._output(module)
        scores = represented @ weights.T
        return scores if bias is None else scores + bias

    def _candidate_scores(
        self, module: torch.nn.Module, represented: torch.Tensor, items: torch.Tensor
    ) -> torch.Tensor:
        """(b, m) scores of per-row candidates without scoring the whole catalogue."""
        weights, bias = self._output(module)
        scores = torch.einsum("bd,bmd->bm", represented, weights[items])
        return scores if bias is None else scores + bias[items]

    def _user_scores(self, module: torch.nn.Module, users: torch.Tensor) -> torch.Tensor:
        return self._all_scores(module, self._users_represent(module, users))

    def _pair_scores(
        self, module: torch.nn.Module, users: torch.Tensor, items: torch.Tensor
    ) -> torch.Tensor:
        return self._candidate_scores(module, self._users_represent(module, users), items)

    @torch.no_grad()
    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        """Each profile is read as a time-ordered sequence (oldest first): the benchmark can
        pass train + validation sequences at test time, and new visitors are served
        without retraining."""
        self.module_.eval()
        indptr, items = pack(profiles)
        parts = []
        for start in range(0, len(profiles), SCORE_BATCH):
            rows = np.arange(start, min(start + SCORE_BATCH, len(profiles)))
            represented = self._represent(self.module_, None, items, indptr[rows], indptr[rows + 1])
            parts.append(self._all_scores(self.module_, represented).float().cpu().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self.n_items), np.float32)

    @torch.no_grad()
    def _score_histories(self, users: np.ndarray, profiles: list[np.ndarray]) -> np.ndarray:
        """Training users with their own parameters (a user embedding, where the model has
        one) read with the given sequences; users -1 fold in from the sequence alone."""
        self.module_.eval()
        indptr, items = pack(profiles)
        scores = np.zeros((len(profiles), self.n_items), dtype=np.float32)
        for known in (True, False):
            rows = np.flatnonzero((users >= 0) == known)
            for start in range(0, len(rows), SCORE_BATCH):
                part = rows[start : start + SCORE_BATCH]
                tensor = (
                    torch.as_tensor(users[part], dtype=torch.long, device=self.device_)
                    if known
                    else None
                )
                represented = self._represent(
                    self.module_, tensor, items, indptr[part], indptr[part + 1]
                )
                scores[part] = self._all_scores(self.module_, represented).float().cpu().numpy()
        return scores

    # ----------------------------------------------------------- persistence
    def _weights(self) -> dict[str, np.ndarray]:
        return {
            **super()._weights(),
            "sequence_indptr": self.seq_indptr_,
            "sequence_items": self.seq_items_,
        }

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.seq_indptr_ = weights.pop("sequence_indptr")
        self.seq_items_ = weights.pop("sequence_items")
        super()._set_weights(weights)

    def _release_training_state(self) -> None:
        self.seen_keys_ = None
