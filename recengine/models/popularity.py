"""Most-popular baseline: how many training users touched each item."""

from __future__ import annotations

import numpy as np

from ..data import Interactions
from .base import Callback, Recommender
from .registry import register_model


@register_model
class Popularity(Recommender):
    name = "popularity"
    defaults: dict = {}
    needs = ()
    description = "Most popular works first: number of distinct collectors per work."

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        # Distinct users per item (repeat events count once). Equal counts tie;
        # top-k breaks ties by the lower item index, so rankings are deterministic.
        self.counts = np.bincount(self._seen_indices, minlength=train.n_items).astype(np.float32)

    def add_items(self, item_ids, features=None, images=None) -> None:
        # Nobody has touched a work the model has not seen: its count is 0, its documented
        # cold path.
        self._extend_catalogue(item_ids)
        self.counts = np.concatenate([self.counts, np.zeros(len(item_ids), np.float32)])

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(users), len(self.counts))).copy()

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        return self._score_users(np.zeros(len(profiles), dtype=np.int64))

    def _weights(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.counts = weights["counts"]
