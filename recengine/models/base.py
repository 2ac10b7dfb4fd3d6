"""The Recommender interface shared by every model.

Subclasses implement the private hooks ``_fit``, ``_score_users`` and
(optionally) ``_score_profiles``, and list the arrays they need at scoring time
in ``_weights`` / ``_set_weights``. The base class handles hyperparameters,
side-array checks, exclusion, top-k and safetensors persistence, so every model
behaves the same way in the web app.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file

from ..data import Interactions
from ..metrics import top_k

Callback = Callable[[float, str], None]
FORMAT_VERSION = 1


class Recommender:
    """Scores items for users of the training data or for ad-hoc profiles.

    Class attributes:
        name: registry key.
        defaults: default hyperparameters (the one place they live).
        needs: side arrays of Interactions that ``fit`` requires.
        description: one line for the UI.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    needs: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def __init__(self, **hyperparameters: Any) -> None:
        unknown = sorted(set(hyperparameters) - set(self.defaults))
        if unknown:
            raise TypeError(
                f"{self.name or type(self).__name__} got unknown hyperparameters {unknown}; "
                f"known: {sorted(self.defaults)}"
            )
        self.hyperparameters: dict[str, Any] = {**self.defaults, **hyperparameters}
        self.user_ids: np.ndarray | None = None
        self.item_ids: np.ndarray | None = None
        # Training matrix (CSR arrays), kept so recommend(exclude_seen=True)
        # and profile-based models work after load without the original data.
        self._seen_indptr: np.ndarray | None = None
        self._seen_indices: np.ndarray | None = None

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({params})"

    # ----------------------------------------------------------- fitting
    @property
    def is_fitted(self) -> bool:
        return self.item_ids is not None

    @property
    def n_users(self) -> int:
        self._require_fitted()
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        self._require_fitted()
        return len(self.item_ids)

    def _require_fitted(self) -> None:
        if self.item_ids is None:
            raise RuntimeError(f"{self.name} model is not fitted; call fit() or load_model()")

    def fit(
        self,
        train: Interactions,
        valid: Interactions | None = None,
        callback: Callback | None = None,
    ) -> Recommender:
        """Learn from ``train`` (``valid`` is for models that early-stop). Returns self."""
        for needed in self.needs:
            if getattr(train, needed, None) is None:
                raise ValueError(f"{self.name} needs {needed}; extract features first")
        self.user_ids = train.user_ids.copy()
        self.item_ids = train.item_ids.copy()
        matrix = train.matrix()
        self._seen_indptr = matrix.indptr.astype(np.int64)
        self._seen_indices = matrix.indices.astype(np.int64)
        self._fit(train, valid, callback)
        if callback is not None:
            callback(1.0, f"{self.name} fitted")
        return self

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------- scoring
    def seen_profiles(self, users: np.ndarray) -> list[np.ndarray]:
        """Training item indices of each user (sorted by index, not time)."""
        self._require_fitted()
        ptr, idx = self._seen_indptr, self._seen_indices
        return [idx[ptr[u] : ptr[u + 1]] for u in np.asarray(users, dtype=np.int64)]

    def _check_users(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64).reshape(-1)
        if len(users) and (users.min() < 0 or users.max() >= self.n_users):
            raise IndexError(f"user indices must be in [0, {self.n_users})")
        return users

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """(len(users), n_items) float32 scores, or (len(users), len(items)) for a subset."""
        self._require_fitted()
        users = self._check_users(users)
        scores = np.asarray(self._score_users(users), dtype=np.float32)
        return scores if items is None else scores[:, np.asarray(items, dtype=np.int64)]

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score_profiles(self, profiles: Sequence[np.ndarray]) -> np.ndarray:
        """(len(profiles), n_items) float32 scores for arbitrary item-index profiles.

        Serves collectors with their current purchases and new visitors
        without retraining.
        """
        self._require_fitted()
        profiles = [np.asarray(p, dtype=np.int64).reshape(-1) for p in profiles]
        for profile in profiles:
            if len(profile) and (profile.min() < 0 or profile.max() >= self.n_items):
                raise IndexError(f"profile item indices must be in [0, {self.n_items})")
        return np.asarray(self._score_profiles(profiles), dtype=np.float32)

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError(
            f"the {self.name} model cannot score new profiles (it only knows the training "
            f"users); use a model such as visrank or popularity for that"
        )

    # ----------------------------------------------------------- recommending
    @staticmethod
    def _top(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top k per row; width shrinks to the most candidates any row has, rest padded.

        Padding is item -1 with score -inf, for rows with fewer candidates.
        """
        finite = np.isfinite(scores)
        width = int(min(k, finite.sum(axis=1).max(initial=0)))
        items = top_k(scores, width)
        top_scores = np.take_along_axis(scores, items, axis=1).astype(np.float32)
        items[~np.isfinite(top_scores)] = -1
        return items, top_scores

    def recommend(
        self, users: np.ndarray, k: int, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items for training users: (items (n, k) int64, scores (n, k) float32).

        With ``exclude_seen`` the user's training items are never returned. If
        fewer than k items remain the width shrinks (padded with -1 / -inf in
        rows that have fewer than the widest row).
        """
        users = self._check_users(users)
        scores = self.score(users).astype(np.float64)
        if exclude_seen:
            for row, seen in enumerate(self.seen_profiles(users)):
                scores[row, seen] = -np.inf
        return self._top(scores, k)

    def recommend_profiles(
        self,
        profiles: Sequence[np.ndarray],
        k: int,
        exclude: Sequence[np.ndarray] | None = None,
        candidates_mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k for ad-hoc profiles: (items (n, <=k) int64, scores float32).

        exclude: per-profile item indices never to return (e.g. the profile itself).
        candidates_mask: (n_items,) bool, only these items may be returned
        (e.g. unsold works). Fewer than k columns when fewer candidates remain;
        short rows are padded with item -1 and score -inf.
        """
        scores = self.score_profiles(profiles).astype(np.float64)
        if exclude is not None:
            if len(exclude) != len(scores):
                raise ValueError(f"exclude has {len(exclude)} entries for {len(scores)} profiles")
            for row, items in enumerate(exclude):
                scores[row, np.asarray(items, dtype=np.int64)] = -np.inf
        if candidates_mask is not None:
            mask = np.asarray(candidates_mask, dtype=bool)
            if mask.shape != (self.n_items,):
                raise ValueError(f"candidates_mask must have shape ({self.n_items},)")
            scores[:, ~mask] = -np.inf
        return self._top(scores, k)

    # ----------------------------------------------------------- persistence
    def _weights(self) -> dict[str, np.ndarray]:
        """Model-specific arrays needed by scoring (saved to weights.safetensors)."""
        return {}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Inverse of ``_weights``."""

    def save(self, path: str | Path) -> Path:
        """Write ``path/config.json`` and ``path/weights.safetensors`` (no pickle)."""
        self._require_fitted()
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "model": self.name,
            "hyperparameters": self.hyperparameters,
            "user_ids": [str(u) for u in self.user_ids],
            "item_ids": [str(i) for i in self.item_ids],
            "format": FORMAT_VERSION,
        }
        (directory / "config.json").write_text(json.dumps(config, indent=1))
        weights = {
            "seen_indptr": self._seen_indptr,
            "seen_indices": self._seen_indices,
            **self._weights(),
        }
        save_file(
            {k: np.ascontiguousarray(v) for k, v in weights.items()},
            str(directory / "weights.safetensors"),
        )
        return directory

    def _restore(self, config: dict[str, Any], weights: dict[str, np.ndarray]) -> None:
        """Called by load_model on a fresh instance built from the saved hyperparameters."""
        self.user_ids = np.array(config["user_ids"], dtype=object)
        self.item_ids = np.array(config["item_ids"], dtype=object)
        self._seen_indptr = weights.pop("seen_indptr")
        self._seen_indices = weights.pop("seen_indices")
        self._set_weights(weights)

    def seen_matrix(self) -> sp.csr_matrix:
        """(n_users, n_items) binary float32 CSR of the training interactions."""
        self._require_fitted()
        data = np.ones(len(self._seen_indices), dtype=np.float32)
        return sp.csr_matrix(
            (data, self._seen_indices, self._seen_indptr), shape=(self.n_users, self.n_items)
        )


def read_saved(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(config, weights) of a directory written by Recommender.save."""
    directory = Path(path)
    config = json.loads((directory / "config.json").read_text())
    if config.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"{directory} has model format {config.get('format')}, expected {FORMAT_VERSION}"
        )
    return config, load_file(str(directory / "weights.safetensors"))
