"""Hybrids of a collaborative and a content-based (visual) model: the seeds' weighted and
switching strategies. Both parts are any registered models, fitted on the same data.

Scores of different models live on different scales (BPR logits, cosines, counts), so
each part's scores are z-normalised per user before they are combined.

hybrid_weighted: score = w * z(collaborative) + (1 - w) * z(visual). With validation
    interactions, w is chosen among 0, 0.1, ..., 1 by NDCG@20 on them (full ranking with
    recengine.evaluation.evaluate, at most VALID_USERS users; equal values go to the w
    closest to the ``weight`` hyperparameter); without them, w = ``weight``.
hybrid_switching: works with fewer than ``min_interactions`` training interactions
    (including works listed after training) are scored by the visual part, the others by
    the collaborative part; each part is z-normalised per user over the works it scores,
    so the best of each side meet on one scale and cold works can be recommended.

A work added after training reaches every part that can take it (the switching hybrid
needs only its visual part to); a weighted part that cannot score it counts as its
average (z = 0) there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data import Interactions
from ..evaluation import evaluate
from .base import SCORE_BATCH
from .composite import CompositeRecommender, zscore
from .registry import register_model

WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 1)
VALID_USERS = 5000  # users the weight is chosen on (sampled beyond that, seed 0)


class _FixedScores:
    """Just enough of a Recommender for ``evaluate``: precomputed rows for some users."""

    name = "hybrid_weighted"

    def __init__(self, users: np.ndarray, scores: np.ndarray) -> None:
        self.position = {int(u): n for n, u in enumerate(users)}
        self.scores = scores

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.scores[[self.position[int(u)] for u in users]].astype(np.float32)


@register_model
class HybridWeighted(CompositeRecommender):
    name = "hybrid_weighted"
    parts = ("collaborative", "visual")
    needs = ("item_features",)
    defaults = {
        "collaborative": "bpr",
        "visual": "visrank",
        "weight": 0.5,
        "collaborative_params": {},
        "visual_params": {},
    }
    description = (
        "Weighted hybrid: w * z(collaborative) + (1 - w) * z(visual), w chosen on validation."
    )
    # Not "weight": with validation data it is chosen anyway.
    grid = {"collaborative": ["bpr", "wmf"]}
    smoke = {"collaborative_params": {"epochs": 2}}

    def __init__(self, **hyperparameters) -> None:
        super().__init__(**hyperparameters)
        if not 0.0 <= float(self.hyperparameters["weight"]) <= 1.0:
            raise ValueError("weight must be in [0, 1]")
        self.weight_ = float(self.hyperparameters["weight"])
        self.weight_ndcg_: dict[str, float] = {}

    def _fit_combination(self, train: Interactions, valid: Interactions | None) -> None:
        self.weight_ = float(self.hyperparameters["weight"])
        self.weight_ndcg_ = {}
        if valid is None or not len(valid):
            return
        users = np.unique(valid.users)
        if len(users) > VALID_USERS:
            users = np.sort(np.random.default_rng(0).choice(users, VALID_USERS, replace=False))
        totals, counted = np.zeros(len(WEIGHTS)), 0
        for start in range(0, len(users), SCORE_BATCH):
            batch = users[start : start + SCORE_BATCH]
            collaborative, visual = self._parts_z(self.part_scores, batch)
            subset = valid.select(np.isin(valid.users, batch))
            for n, weight in enumerate(WEIGHTS):
                fixed = _FixedScores(batch, self._mix(collaborative, visual, weight))
                result = evaluate(fixed, train, subset, ks=(20,), metrics=("NDCG",))
                totals[n] += np.nansum(result.per_user.get("NDCG@20", np.zeros(0)))
            counted += result.n_users
        if not counted:
            return
        ndcg = totals / counted
        best = np.flatnonzero(ndcg >= ndcg.max() - 1e-12)
        prior = float(self.hyperparameters["weight"])
        self.weight_ = float(WEIGHTS[min(best, key=lambda n: (abs(WEIGHTS[n] - prior), n))])
        self.weight_ndcg_ = {f"{w:.1f}": float(v) for w, v in zip(WEIGHTS, ndcg, strict=True)}

    def _parts_z(self, scorer, rows) -> tuple[np.ndarray, np.ndarray]:
        return zscore(scorer("collaborative", rows)), zscore(scorer("visual", rows))

    @staticmethod
    def _mix(collaborative: np.ndarray, visual: np.ndarray, weight: float) -> np.ndarray:
        # NaN: a work this part was not given after training counts as its average.
        return weight * np.nan_to_num(collaborative, nan=0.0) + (1 - weight) * np.nan_to_num(
            visual, nan=0.0
        )

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._mix(*self._parts_z(self.part_scores, users), self.weight_)

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        return self._mix(*self._parts_z(self.part_profile_scores, profiles), self.weight_)

    def add_items(self, item_ids: Sequence[str], features=None, images=None) -> None:
        self._add_to_parts(item_ids, features, images, required=(), optional=self.parts)

    def _extra(self) -> dict[str, Any]:
        return {**super()._extra(), "weight": self.weight_, "weight_ndcg": self.weight_ndcg_}

    def _set_extra(self, extra: dict[str, Any]) -> None:
        super()._set_extra(extra)
        self.weight_ = float(extra["weight"])
        self.weight_ndcg_ = dict(extra.get("weight_ndcg", {}))


@register_model
class HybridSwitching(CompositeRecommender):
    name = "hybrid_switching"
    parts = ("collaborative", "visual")
    needs = ("item_features",)
    defaults = {
        "collaborative": "bpr",
        "visual": "visrank",
        "min_interactions": 5,
        "collaborative_params": {},
        "visual_params": {},
    }
    description = (
        "Switching hybrid: visual scores for works with few interactions, collaborative "
        "scores for the others."
    )
    grid = {"min_interactions": [2, 5, 10]}
    smoke = {"collaborative_params": {"epochs": 2}, "min_interactions": 2}

    def cold_items(self) -> np.ndarray:
        """(n_items,) bool: works the visual part scores (fewer than min_interactions
        training users; works added after training have none)."""
        counts = np.bincount(self._seen_indices, minlength=self.n_items)
        return counts < int(self.hyperparameters["min_interactions"])

    def _switch(self, collaborative: np.ndarray, visual: np.ndarray) -> np.ndarray:
        cold = self.cold_items()
        return np.where(cold[None, :], zscore(visual, cold), zscore(collaborative, ~cold))

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._switch(
            self.part_scores("collaborative", users), self.part_scores("visual", users)
        )

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        return self._switch(
            self.part_profile_scores("collaborative", profiles),
            self.part_profile_scores("visual", profiles),
        )

    def add_items(self, item_ids: Sequence[str], features=None, images=None) -> None:
        # New works are cold: only the visual part ever scores them.
        self._add_to_parts(item_ids, features, images, required=("visual",))
