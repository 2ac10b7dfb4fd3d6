"""Random baseline: the floor every real model must beat."""

from __future__ import annotations

import numpy as np

from ..data import Interactions
from .base import Callback, Recommender
from .registry import register_model


@register_model
class RandomModel(Recommender):
    name = "random"
    defaults = {"seed": 0}
    needs = ()
    description = "Uniform random scores (seeded): the chance baseline."

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        pass  # nothing to learn

    def add_items(self, item_ids, features=None, images=None) -> None:
        self._extend_catalogue(item_ids)  # a random score needs nothing to know a work

    def _draw(self, stream: int, keys: np.ndarray) -> np.ndarray:
        # One generator per row, seeded by (seed, stream, key): a user's scores
        # do not depend on which batch it arrives in, and a loaded model agrees.
        seed = int(self.hyperparameters["seed"])
        return (
            np.stack(
                [
                    np.random.default_rng((seed, stream, int(key))).random(self.n_items)
                    for key in keys
                ]
            )
            if len(keys)
            else np.zeros((0, self.n_items))
        )

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._draw(0, users)

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        # Profiles have no identity: each call draws afresh from the seeded stream (the
        # call count keys it), so two single-profile calls never share a ranking, and a
        # run of the same calls from a fresh model repeats exactly.
        self._calls = getattr(self, "_calls", 0) + 1
        rng = np.random.default_rng((int(self.hyperparameters["seed"]), 1, self._calls))
        return rng.random((len(profiles), self.n_items))
