"""Two-stage recommendation (Covington et al. 2016, YouTube): candidate generation,
then ranking, as a pipeline over any two registered models.

Both models are fitted on the training data (each with its own loss and settings:
``generator_params``, ``ranker_params``). For a user, the generator's top ``candidates``
works the user has not already got are the candidates (their own training works would
only waste slots: they are never recommended); the score of a candidate is the ranker's,
and every other work gets NOT_CANDIDATE.

NOT_CANDIDATE is -1e9 rather than -inf: score() stays finite (every model's contract, so
metrics such as AUC and the round-trip checks work), top-k still returns every candidate
before any other work, and sums and squares of it stay far from float32 overflow (unlike
-1e30). Non-candidates tie among themselves: the pipeline has no opinion on their order.
Ranker scores are clipped to at least NOT_CANDIDATE / 2 so a candidate always ranks above.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..metrics import top_k
from .composite import CompositeRecommender
from .registry import register_model

NOT_CANDIDATE = np.float32(-1e9)


@register_model
class TwoStage(CompositeRecommender):
    name = "twostage"
    parts = ("generator", "ranker")
    defaults = {
        "generator": "itemknn",
        "ranker": "bpr",
        "candidates": 200,
        "generator_params": {},
        "ranker_params": {},
    }
    description = (
        "Two-stage pipeline (YouTube): a generator picks candidates, a ranker orders them."
    )
    grid = {"candidates": [100, 200, 500]}
    smoke = {"candidates": 5, "ranker_params": {"epochs": 2}}

    def __init__(self, **hyperparameters) -> None:
        super().__init__(**hyperparameters)
        if int(self.hyperparameters["candidates"]) < 1:
            raise ValueError("candidates must be at least 1")

    def candidates(self, generated: np.ndarray, owned: Sequence[np.ndarray]) -> np.ndarray:
        """(n, <= candidates) work indices, -1 padding: the generator's best works per row
        among those not in ``owned`` and with a finite score."""
        generated = np.where(np.isnan(generated), -np.inf, generated)
        for row, items in enumerate(owned):
            generated[row, items] = -np.inf
        width = min(int(self.hyperparameters["candidates"]), generated.shape[1])
        chosen = top_k(generated, width)
        finite = np.isfinite(np.take_along_axis(generated, chosen, axis=1))
        return np.where(finite, chosen, -1)

    @staticmethod
    def _place(chosen: np.ndarray, ranked: np.ndarray, n_items: int) -> np.ndarray:
        scores = np.full((len(chosen), n_items), NOT_CANDIDATE, dtype=np.float32)
        rows, columns = np.nonzero(chosen >= 0)
        picked = np.maximum(ranked[rows, columns], NOT_CANDIDATE / 2)
        scores[rows, chosen[rows, columns]] = picked
        return scores

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        chosen = self.candidates(self.part_scores("generator", users), self.seen_profiles(users))
        ranked = self.models_["ranker"].score(users, chosen)
        return self._place(chosen, ranked, self.n_items)

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        chosen = self.candidates(self.part_profile_scores("generator", profiles), profiles)
        full = self.part_profile_scores("ranker", profiles)
        ranked = np.take_along_axis(full, np.maximum(chosen, 0), axis=1)
        return self._place(chosen, ranked, self.n_items)

    def add_items(self, item_ids: Sequence[str], features=None, images=None) -> None:
        # Both stages must know a new work: a work only the generator can see would never
        # be ranked, one only the ranker can see never becomes a candidate.
        self._add_to_parts(item_ids, features, images, required=self.parts)
