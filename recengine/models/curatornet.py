"""CuratorNet (Messina et al. 2020): a visually-aware recommender for one-of-a-kind art.

A shared item network maps features to item vectors (F -> 200 -> 200, SELU); a user is
the mean and the max of the vectors of the works in their profile, concatenated and
passed through 400 -> 300 -> 300 -> 200 (SELU); the score is the dot product of user
and item vectors. There are no per-user parameters, so a new collector is served from
a handful of chosen works without retraining, and a work listed after training is
scored from its features alone. Trained with the BPR loss and L2 (weight decay) on
uniform triplets or on CuratorNet's six sampling guidelines (sampling="guided", and
``guidelines`` to choose among them; see recengine.guided_sampling). What each guideline
produced is in ``sampling_shares_`` / ``sampling_counts_`` and in every history_ entry.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from .gradient import Batches
from .registry import register_model
from .visual import VisualRecommender, visual_defaults


def pool_profiles(vectors: torch.Tensor, owner: torch.Tensor, n_profiles: int) -> torch.Tensor:
    """(n_profiles, 2d): mean and max of each profile's item vectors; empty -> zeros.

    vectors: (total, d) item vectors, owner: (total,) profile index of each row.
    """
    d = vectors.shape[1]
    index = owner[:, None].expand(-1, d)
    empty = torch.zeros(n_profiles, d, device=vectors.device, dtype=vectors.dtype)
    mean = empty.scatter_reduce(0, index, vectors, "mean", include_self=False)
    top = empty.scatter_reduce(0, index, vectors, "amax", include_self=False)
    return torch.cat([mean, top], dim=1)


class CuratorNetModule(nn.Module):
    def __init__(self, n_features: int, tower: nn.Module | None = None) -> None:
        super().__init__()
        if tower is not None:
            self.tower = tower
        self.item = nn.Sequential(
            nn.Linear(n_features, 200), nn.SELU(), nn.Linear(200, 200), nn.SELU()
        )
        self.user = nn.Sequential(
            nn.Linear(400, 300),
            nn.SELU(),
            nn.Linear(300, 300),
            nn.SELU(),
            nn.Linear(300, 200),
            nn.SELU(),
        )

    def users(self, item_vectors: torch.Tensor, owner: torch.Tensor, n: int) -> torch.Tensor:
        return self.user(pool_profiles(item_vectors, owner, n))


def _owners(lengths: Sequence[int], device) -> torch.Tensor:
    return torch.repeat_interleave(
        torch.arange(len(lengths), device=device), torch.as_tensor(lengths, device=device)
    )


@register_model
class CuratorNet(VisualRecommender):
    name = "curatornet"
    defaults = visual_defaults(lr=1e-3, weight_decay=1e-5, epochs=30, batch_size=512)
    description = (
        "Shared item network + profile pooling (mean and max): serves new collectors and "
        "new works without retraining."
    )
    grid = {"sampling": ["uniform", "guided"], "lr": [3e-4, 1e-3]}
    smoke = {"epochs": 3, "batch_size": 8}

    def _prepare(self, train: Interactions) -> dict:
        n_features = self._prepare_features(train)
        self.sampler_ = self._sampler(train, real_users_only=False)
        return {"n_users": train.n_users, "n_items": train.n_items, "n_features": n_features}

    def _make_module(self, shape: dict) -> CuratorNetModule:
        tower = None
        if self._fine_tuning():
            from ..features.tower import ImageTower

            h = self.hyperparameters
            # Training reuses the tower _prepare built; loading builds an empty one whose
            # weights the saved state then fills.
            tower = getattr(self, "tower_", None) or ImageTower(h["backbone"], None, "last")
        return CuratorNetModule(shape["n_features"], tower)

    def _batches(self, epoch: int) -> Batches:
        size = int(self.hyperparameters["batch_size"])
        triplets = self._epoch_triplets(epoch)

        def make():
            order = self.rng_.permutation(len(triplets))
            for start in range(0, len(order), size):
                part = triplets.subset(order[start : start + size])
                lengths = np.diff(part.profile_ptr)
                yield part.positives, part.negatives, part.profile_items, lengths

        return Batches(make, -(-len(triplets) // size), self.device_)

    def _loss(self, module: CuratorNetModule, batch) -> torch.Tensor:
        positives, negatives, profile_items, lengths = batch
        items = torch.cat([profile_items, positives, negatives])
        unique, inverse = torch.unique(items, return_inverse=True)
        vectors = module.item(self._item_features(module, unique))[inverse]
        n_profile = len(profile_items)
        owner = _owners(lengths.tolist(), self.device_)
        users = module.users(vectors[:n_profile], owner, len(positives))
        positive = (users * vectors[n_profile : n_profile + len(positives)]).sum(-1)
        negative = (users * vectors[n_profile + len(positives) :]).sum(-1)
        return -F.logsigmoid(positive - negative).mean()

    # ----------------------------------------------------------- scoring
    def _item_vectors(self, module) -> torch.Tensor:
        return module.item(self._all_item_features(module))

    def _profile_vectors(self, module, profiles: list[np.ndarray], items: torch.Tensor):
        lengths = [len(p) for p in profiles]
        flat = np.concatenate(profiles) if sum(lengths) else np.zeros(0, dtype=np.int64)
        owner = _owners(lengths, self.device_)
        flat = torch.as_tensor(flat, dtype=torch.long, device=self.device_)
        return module.users(items[flat], owner, len(profiles))

    def _user_scores(self, module, users: torch.Tensor) -> torch.Tensor:
        profiles = self.seen_profiles(users.cpu().numpy())
        items = self._item_vectors(module)
        return self._profile_vectors(module, profiles, items) @ items.T

    @torch.no_grad()
    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        self.module_.eval()
        items = self._item_vectors(self.module_)
        return (self._profile_vectors(self.module_, profiles, items) @ items.T).cpu().numpy()

    @torch.no_grad()
    def explain_profiles(self, profiles: list[np.ndarray], items: np.ndarray) -> np.ndarray:
        """For each (profile, item), the profile work whose learned item vector is most
        similar (cosine) to the candidate's: the consumed work behind the suggestion."""
        self.module_.eval()
        vectors = F.normalize(self._item_vectors(self.module_), dim=1).cpu().numpy()
        items = np.asarray(items, dtype=np.int64)
        if items.ndim == 1:
            items = np.broadcast_to(items, (len(profiles), len(items)))
        result = np.full(items.shape, -1, dtype=np.int64)
        for row, profile in enumerate(profiles):
            profile = np.asarray(profile, dtype=np.int64)
            valid = items[row] >= 0
            if len(profile) and valid.any():
                similarity = vectors[items[row, valid]] @ vectors[profile].T
                result[row, valid] = profile[np.argmax(similarity, axis=1)]
        return result

    @torch.no_grad()
    def embeddings(self):
        self.module_.eval()
        return None, self._item_vectors(self.module_).float().cpu().numpy()

    @torch.no_grad()
    def profile_embeddings(self, profiles):
        self.module_.eval()
        items = self._item_vectors(self.module_)
        profiles = [np.asarray(p, dtype=np.int64) for p in profiles]
        return self._profile_vectors(self.module_, profiles, items).float().cpu().numpy()

    def add_items(self, item_ids: Sequence[str], features=None, images=None) -> None:
        self._append_features(item_ids, features, images)
