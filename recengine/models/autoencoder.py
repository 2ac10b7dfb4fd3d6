"""What the autoencoders share: batches of users' item vectors, scoring training users
from their stored training rows, and negative sampling for losses over a whole vector.

Used by cdae, multdae, multvae and convae (a user's row of the interaction matrix is
their input) and, for the sampling helper, by autorec (an item's column over users).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..data import Interactions
from .gradient import Batches, GradientRecommender


def profile_vectors(profiles: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """(len(profiles), n_items) float32 binary rows; repeated items count once."""
    rows = np.zeros((len(profiles), n_items), dtype=np.float32)
    for row, profile in enumerate(profiles):
        rows[row, np.asarray(profile, dtype=np.int64)] = 1.0
    return rows


def sampled_mask(observed: torch.Tensor, negatives: float) -> torch.Tensor:
    """(b, n) float mask: every observed entry plus unobserved ones drawn at random.

    observed: (b, n) 0/1. Each unobserved entry of a row is kept with probability
    negatives * n_observed / n_unobserved, so a row gets about ``negatives`` unobserved
    entries per observed one (a Bernoulli draw per entry: vectorised, no rejection
    loop). negatives <= 0 keeps every entry: the loss then covers the whole vector.
    """
    if negatives <= 0:
        return torch.ones_like(observed)
    positives = observed.sum(dim=1, keepdim=True)
    rate = (negatives * positives / (observed.shape[1] - positives).clamp_min(1)).clamp(max=1)
    drawn = torch.rand(observed.shape, device=observed.device) < rate
    return torch.where(observed > 0, torch.ones_like(observed), drawn.to(observed.dtype))


class UserVectorRecommender(GradientRecommender):
    """A model fed a user's item vector; subclasses implement ``_make_module``, ``_loss``
    and ``_forward(module, vectors, users) -> (b, n_items) scores``.

    Training batches are (users, vectors) over the users with at least one training
    item (an empty row teaches nothing). The training rows are the base class's seen
    matrix, which is saved with every model, so a loaded model rebuilds its inputs.
    """

    def _prepare(self, train: Interactions) -> dict:
        self.active_ = np.flatnonzero(np.diff(self.seen_matrix().indptr))
        return {"n_users": train.n_users, "n_items": train.n_items}

    def _vectors(self, users: np.ndarray) -> np.ndarray:
        """Input rows of training users: (len(users), n_items) float32 (binary here)."""
        return self.seen_matrix()[users].toarray().astype(np.float32)

    def _profile_vectors(self, profiles: list[np.ndarray]) -> np.ndarray:
        return profile_vectors(profiles, self.n_items)

    def _forward(
        self, module: torch.nn.Module, vectors: torch.Tensor, users: torch.Tensor | None
    ) -> torch.Tensor:
        raise NotImplementedError

    def _batches(self, epoch: int) -> Batches:
        size = int(self.hyperparameters["batch_size"])

        def make():
            order = self.rng_.permutation(self.active_)
            for start in range(0, len(order), size):
                users = order[start : start + size]
                yield users, self._vectors(users)

        return Batches(make, -(-len(self.active_) // size), self.device_)

    def _user_scores(self, module: torch.nn.Module, users: torch.Tensor) -> torch.Tensor:
        vectors = torch.as_tensor(self._vectors(users.cpu().numpy()), device=users.device)
        return self._forward(module, vectors, users)

    @torch.no_grad()
    def _score_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """Scores of item vectors that belong to no training user (new profiles)."""
        self.module_.eval()
        tensor = torch.as_tensor(vectors, dtype=torch.float32, device=self.device_)
        return self._forward(self.module_, tensor, None).float().cpu().numpy()

    def _release_training_state(self) -> None:
        self.active_ = None
