"""VisRank: content-based ranking by visual similarity to what a user consumed.

Score of candidate i for profile P = aggregate_{j in P} cosine(f_i, f_j), with aggregate
max (the closest consumed work), mean, or the mean of the top_k closest. Only item
features are involved, so unseen profiles and works listed after training are scored
without retraining, and every score is explained by the consumed work most similar to
the candidate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data import Interactions
from .base import Callback, Recommender
from .registry import register_model

AGGREGATIONS = ("max", "mean", "topk_mean")
# Rows of the (profile items x n_items) similarity block computed at once; bounds memory.
_BLOCK_ROWS = 2048


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; all-zero rows stay zero (cosine 0, not NaN)."""
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norms > 0, norms, 1.0)


@register_model
class VisRank(Recommender):
    name = "visrank"
    defaults = {"aggregation": "max", "top_k": 3}
    needs = ("item_features",)
    description = "Visual similarity to the works a collector consumed (max, mean or top-k)."
    grid = {"aggregation": ["max", "mean", "topk_mean"]}

    def __init__(self, **hyperparameters) -> None:
        super().__init__(**hyperparameters)
        if self.hyperparameters["aggregation"] not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}")
        if int(self.hyperparameters["top_k"]) < 1:
            raise ValueError("top_k must be at least 1")

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        self.features = unit_rows(train.item_features)

    def add_items(self, item_ids: Sequence[str], features=None, images=None) -> None:
        if features is None or len(features) != len(item_ids):
            raise ValueError("visrank needs one feature vector per new work")
        self._extend_catalogue(item_ids)
        self.features = np.concatenate([self.features, unit_rows(features)])

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._score_profiles(self.seen_profiles(users))

    scores_columns = True

    def score_profile_columns(self, profiles, columns: np.ndarray) -> np.ndarray:
        """Only the candidates' similarities: at 100,000 works of which a fifth are unsold,
        a fifth of the product. The candidates' rows are gathered once and kept while the
        candidates stay the same (a sale changes them)."""
        profiles = self._checked_profiles(profiles)
        cached = getattr(self, "_columns_kept", None)
        if (
            cached is None
            or cached[0] is not self.features
            or not np.array_equal(cached[1], columns)
        ):
            cached = (
                self.features,
                np.array(columns),
                np.ascontiguousarray(self.features[columns]),
            )
            self._columns_kept = cached  # one tuple, replaced whole: safe across threads
        return self._score_profiles(profiles, targets=cached[2])

    def _score_profiles(self, profiles: list[np.ndarray], targets=None) -> np.ndarray:
        """(len(profiles), len(targets)), the targets being every work's features unless
        given; an empty profile scores 0 everywhere."""
        targets = self.features if targets is None else targets
        scores = np.zeros((len(profiles), len(targets)), dtype=np.float32)
        aggregation = self.hyperparameters["aggregation"]
        if aggregation == "mean":
            # mean_j f_i . f_j = f_i . mean_j f_j: one matrix product for all profiles.
            centroids = np.zeros((len(profiles), self.features.shape[1]), dtype=np.float32)
            for row, profile in enumerate(profiles):
                if len(profile):
                    centroids[row] = self.features[profile].mean(axis=0)
            return centroids @ targets.T
        rows = [r for r, p in enumerate(profiles) if len(p)]
        start = 0
        while start < len(rows):
            # Group profiles until the stacked similarity block is big enough.
            stop, size = start, 0
            while stop < len(rows) and (
                size == 0 or size + len(profiles[rows[stop]]) <= _BLOCK_ROWS
            ):
                size += len(profiles[rows[stop]])
                stop += 1
            group = rows[start:stop]
            stacked = np.concatenate([profiles[r] for r in group])
            similarity = self.features[stacked] @ targets.T  # (size, len(targets))
            if aggregation == "max":
                offsets = np.cumsum([0] + [len(profiles[r]) for r in group[:-1]])
                scores[group] = np.maximum.reduceat(similarity, offsets, axis=0)
            else:
                offset = 0
                for r in group:
                    block = similarity[offset : offset + len(profiles[r])]
                    offset += len(profiles[r])
                    k = min(int(self.hyperparameters["top_k"]), len(block))
                    top = -np.partition(-block, k - 1, axis=0)[:k]
                    scores[r] = top.mean(axis=0)
            start = stop
        return scores

    def explain_profiles(self, profiles: list[np.ndarray], items: np.ndarray) -> np.ndarray:
        """For each (profile, item), the profile item with the highest cosine to it.

        profiles: n lists of item indices; items: (n, m) item indices (e.g. from
        recommend_profiles), or (m,) shared by all profiles. Returns (n, m)
        int64 item indices of the consumed works that drove each score; -1
        where the profile is empty or the item is -1 (padding).
        """
        self._require_fitted()
        items = np.asarray(items, dtype=np.int64)
        if items.ndim == 1:
            items = np.broadcast_to(items, (len(profiles), len(items)))
        if len(items) != len(profiles):
            raise ValueError(f"items has {len(items)} rows for {len(profiles)} profiles")
        result = np.full(items.shape, -1, dtype=np.int64)
        for row, profile in enumerate(profiles):
            profile = np.asarray(profile, dtype=np.int64)
            valid = items[row] >= 0
            if not len(profile) or not valid.any():
                continue
            similarity = self.features[items[row, valid]] @ self.features[profile].T  # (m, |P|)
            result[row, valid] = profile[np.argmax(similarity, axis=1)]
        return result

    def embeddings(self):
        # Only the mean is a dot product (with the profile's centroid); max is not.
        if self.hyperparameters["aggregation"] != "mean":
            return None
        return None, self.features

    def profile_embeddings(self, profiles):
        if self.hyperparameters["aggregation"] != "mean":
            return None
        dim = self.features.shape[1]
        return np.stack(
            [
                self.features[p].mean(axis=0) if len(p) else np.zeros(dim, np.float32)
                for p in profiles
            ]
        ).astype(np.float32)

    def _weights(self) -> dict[str, np.ndarray]:
        return {"features": self.features}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.features = weights["features"]
