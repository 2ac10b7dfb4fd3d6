"""The Recommender interface shared by every model.

Subclasses implement the private hooks ``_fit``, ``_score_users`` and
(optionally) ``_score_profiles`` / ``_score_items``, and list the arrays they need
at scoring time in ``_weights`` / ``_set_weights`` (plus small JSON facts in
``_extra`` / ``_set_extra``). The base class handles hyperparameters, side-array
checks, batching, exclusion, top-k and safetensors persistence, so every model
behaves the same way in the benchmark, the worker and the web app.

Progress: ``callback(fraction, message, **details)`` where details may carry
``epoch``, ``epochs``, ``loss``, ``metric`` (validation value), ``metric_name`` and
``seconds_left``; a callback that only takes (fraction, message) must accept
``**details`` too.
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

Callback = Callable[..., None]
FORMAT_VERSION = 1
# Below this share of candidates, a model with scores_columns scores only the candidates.
COLUMNS_SHARE = 0.7
SCORE_BATCH = 1024  # users scored at once: bounds the (users x items) block in memory


class Recommender:
    """Scores items for users of the training data or for ad-hoc profiles.

    Class attributes:
        name: registry key.
        defaults: default hyperparameters (the one place they live).
        needs: side arrays of Interactions that ``fit`` requires.
        description: one line for the UI.
        grid: values to try per hyperparameter when the benchmark tunes the model.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    needs: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    # A small hyperparameter grid for `recengine bench --grid` (chosen on validation data).
    grid: ClassVar[dict[str, list[Any]]] = {}
    # Settings for a seconds-long run on tiny data (the registry test, CI smoke runs).
    smoke: ClassVar[dict[str, Any]] = {}
    # Next-item models: at test time they read the user's whole history (train and
    # validation) as a time-ordered profile, as their papers' protocols do.
    sequential: ClassVar[bool] = False
    # Not a method but a reference line (the oracle): what it is, in words, wherever it is
    # shown. Empty for real methods.
    reference: ClassVar[str] = ""

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

    def user_index(self, external_ids: Sequence) -> np.ndarray:
        """(len(external_ids),) int64 training-user indices, -1 for users it never saw."""
        self._require_fitted()
        position = self._positions("user_ids")
        return np.asarray([position.get(str(k), -1) for k in external_ids], dtype=np.int64)

    def item_index(self, external_ids: Sequence) -> np.ndarray:
        """(len(external_ids),) int64 item indices, -1 for unknown items."""
        self._require_fitted()
        position = self._positions("item_ids")
        return np.asarray([position.get(str(k), -1) for k in external_ids], dtype=np.int64)

    def _positions(self, name: str) -> dict:
        """{id: index} of user_ids or item_ids, made once per array: serving asks for one
        user per request, and a dict of 20,000 users costs 4 ms to build each time. The
        array object and its length are the key (add_items replaces item_ids)."""
        ids = getattr(self, name)
        cache = self.__dict__.setdefault("_position_cache", {})
        found = cache.get(name)
        if found is None or found[0] is not ids or found[1] != len(ids):
            found = (ids, len(ids), {key: n for n, key in enumerate(ids.tolist())})
            cache[name] = found
        return found[2]

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
        """float32 scores of training users, computed in batches of SCORE_BATCH users.

        items None: (len(users), n_items), every item;
        items (m,): (len(users), m), the same subset for every user;
        items (len(users), m): per-user candidates (the sampled protocol); -1 entries
            are padding and score -inf.
        """
        self._require_fitted()
        users = self._check_users(users)
        items = None if items is None else np.asarray(items, dtype=np.int64)
        if items is not None and items.ndim == 2 and len(items) != len(users):
            raise ValueError(f"items has {len(items)} rows for {len(users)} users")
        parts = []
        for start in range(0, max(len(users), 1), SCORE_BATCH):
            batch = users[start : start + SCORE_BATCH]
            if items is None:
                part = self._score_users(batch)
            elif items.ndim == 1:
                part = np.asarray(self._score_users(batch))[:, items]
            else:
                candidates = items[start : start + SCORE_BATCH]
                part = np.asarray(
                    self._score_items(batch, np.maximum(candidates, 0)), dtype=np.float32
                )
                part = np.where(candidates < 0, -np.inf, part)
            parts.append(np.asarray(part, dtype=np.float32))
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(len(users), m) scores of per-user candidates; models with factors override
        this to avoid scoring the whole catalogue."""
        return np.take_along_axis(np.asarray(self._score_users(users)), items, axis=1)

    def score_profiles(self, profiles: Sequence[np.ndarray]) -> np.ndarray:
        """(len(profiles), n_items) float32 scores for arbitrary item-index profiles.

        Serves collectors with their current purchases and new visitors
        without retraining.
        """
        return np.asarray(self._score_profiles(self._checked_profiles(profiles)), np.float32)

    def _checked_profiles(self, profiles: Sequence[np.ndarray]) -> list[np.ndarray]:
        self._require_fitted()
        profiles = [np.asarray(p, dtype=np.int64).reshape(-1) for p in profiles]
        for profile in profiles:
            if len(profile) and (profile.min() < 0 or profile.max() >= self.n_items):
                raise IndexError(f"profile item indices must be in [0, {self.n_items})")
        return profiles

    def score_histories(self, users: np.ndarray, profiles: Sequence[np.ndarray]) -> np.ndarray:
        """(len(users), n_items) float32 scores of training users read with the given
        time-ordered histories (train + validation, say). Models with per-user parameters
        and a profile (Caser) use both; a user index of -1 is a new visitor, scored from
        the profile alone (fold-in). Other models read the profile alone."""
        users = np.asarray(users, dtype=np.int64).reshape(-1)
        if len(users) != len(profiles):
            raise ValueError(f"{len(users)} users for {len(profiles)} profiles")
        self.score_profiles(profiles[:0])  # the same checks and refusals
        profiles = [np.asarray(p, dtype=np.int64).reshape(-1) for p in profiles]
        return np.asarray(self._score_histories(users, profiles), dtype=np.float32)

    def _score_histories(self, users: np.ndarray, profiles: list[np.ndarray]) -> np.ndarray:
        return self.score_profiles(profiles)

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError(
            f"the {self.name} model cannot score new profiles (it only knows the training "
            f"users); use a model such as visrank or popularity for that"
        )

    # ----------------------------------------------------------- serving from an index
    def embeddings(self) -> tuple[np.ndarray | None, np.ndarray] | None:
        """(user_vectors (n_users, d) or None, item_vectors (n_items, d)) such that a
        user's score for an item is their dot product, for models of that form; None
        otherwise. Served from a faiss index (recengine.index) when available."""
        return None

    def profile_embeddings(self, profiles: Sequence[np.ndarray]) -> np.ndarray | None:
        """(len(profiles), d) query vectors for item-index profiles, for models whose
        profile score is a dot product with ``embeddings()``'s item vectors; else None."""
        return None

    # ----------------------------------------------------------- cold start
    def add_items(
        self,
        item_ids: Sequence[str],
        features: np.ndarray | None = None,
        images: Sequence | None = None,
    ) -> None:
        """Make works listed after training scorable, from their features (or images, for
        models that read pixels), without retraining. Models that only know the items
        they were trained on raise NotImplementedError."""
        raise NotImplementedError(
            f"the {self.name} model cannot score works it was not trained on; "
            "use a visual model (visrank, vbpr, dvbpr, curatornet) for new works"
        )

    def add_items_from(self, data: Interactions, items: np.ndarray) -> None:
        """The cold path for works of ``data`` (a catalogue with side arrays) that the
        model was not trained on: ``add_items`` with their features and images. Models
        whose cold path reads other side information override this."""
        items = np.asarray(items, dtype=np.int64)
        self.add_items(
            data.item_ids[items].tolist(),
            features=None if data.item_features is None else data.item_features[items],
            images=None if data.item_images is None else data.item_images[items],
        )

    def _extend_catalogue(self, item_ids: Sequence[str]) -> np.ndarray:
        """Append new external item ids; returns their new indices."""
        self._require_fitted()
        new = [str(i) for i in item_ids]
        known = set(self.item_ids.tolist())
        clash = [i for i in new if i in known]
        if clash or len(set(new)) != len(new):
            raise ValueError(f"item {(clash or new)[0]!r} is already in the catalogue")
        start = len(self.item_ids)
        self.item_ids = np.concatenate([self.item_ids, np.array(new, dtype=object)])
        self._seen_cache = None
        return np.arange(start, len(self.item_ids))

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
        items, scores = [], []
        for start in range(0, max(len(users), 1), SCORE_BATCH):
            batch = users[start : start + SCORE_BATCH]
            block = self.score(batch)
            if exclude_seen:
                for row, seen in enumerate(self.seen_profiles(batch)):
                    block[row, seen] = -np.inf
            top_items, top_scores = self._top(block, k)
            items.append(top_items)
            scores.append(top_scores)
        # Batches can differ in width when some users have fewer than k candidates.
        width = max(part.shape[1] for part in items)

        def padded(parts: list[np.ndarray], fill: float) -> np.ndarray:
            return np.concatenate(
                [np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=fill) for p in parts]
            )

        return padded(items, -1), padded(scores, -np.inf)

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
        if exclude is not None and len(exclude) != len(profiles):
            raise ValueError(f"exclude has {len(exclude)} entries for {len(profiles)} profiles")
        columns = None
        if candidates_mask is not None:
            mask = np.asarray(candidates_mask, dtype=bool)
            if mask.shape != (self.n_items,):
                raise ValueError(f"candidates_mask must have shape ({self.n_items},)")
            if self.scores_columns and mask.sum() < COLUMNS_SHARE * self.n_items:
                columns = np.flatnonzero(mask)
        if columns is not None:
            # Only the candidates are scored (the same numbers; ties still go to the lower
            # item index, as columns are in item order).
            scores = self.score_profile_columns(profiles, columns).astype(np.float64)
            if exclude is not None:
                for row, items in enumerate(exclude):
                    items = np.asarray(items, dtype=np.int64)
                    at = np.searchsorted(columns, items)
                    hit = at < len(columns)
                    hit[hit] = columns[at[hit]] == items[hit]
                    scores[row, at[hit]] = -np.inf
            top, top_scores = self._top(scores, k)
            return np.where(top >= 0, columns[np.maximum(top, 0)], -1), top_scores
        scores = self.score_profiles(profiles).astype(np.float64)
        if exclude is not None:
            for row, items in enumerate(exclude):
                scores[row, np.asarray(items, dtype=np.int64)] = -np.inf
        if candidates_mask is not None:
            scores[:, ~mask] = -np.inf
        return self._top(scores, k)

    # A model that can score a subset of the catalogue for less than the whole sets this
    # and overrides score_profile_columns (VisRank: when most works are sold, the
    # similarity product shrinks with the candidates).
    scores_columns = False

    def score_profile_columns(self, profiles: Sequence[np.ndarray], columns: np.ndarray):
        """(len(profiles), len(columns)) float32: score_profiles(profiles)[:, columns]."""
        return self.score_profiles(profiles)[:, columns]

    # ----------------------------------------------------------- persistence
    def _weights(self) -> dict[str, np.ndarray]:
        """Model-specific arrays needed by scoring (saved to weights.safetensors)."""
        return {}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Inverse of ``_weights``."""

    def _extra(self) -> dict[str, Any]:
        """Small JSON-able facts a loaded model needs (shapes, training history)."""
        return {}

    def _set_extra(self, extra: dict[str, Any]) -> None:
        """Inverse of ``_extra``; called before ``_set_weights``."""

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
            "extra": self._extra(),
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
        self._set_extra(config.get("extra", {}))
        self._set_weights(weights)

    def seen_matrix(self) -> sp.csr_matrix:
        """(n_users, n_items) binary float32 CSR of the training interactions (cached)."""
        self._require_fitted()
        cached = getattr(self, "_seen_cache", None)
        if cached is None or cached[0] is not self._seen_indices:
            data = np.ones(len(self._seen_indices), dtype=np.float32)
            matrix = sp.csr_matrix(
                (data, self._seen_indices, self._seen_indptr), shape=(self.n_users, self.n_items)
            )
            self._seen_cache = (self._seen_indices, matrix)
        return self._seen_cache[1]


def read_saved(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(config, weights) of a directory written by Recommender.save."""
    directory = Path(path)
    config = json.loads((directory / "config.json").read_text())
    if config.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"{directory} has model format {config.get('format')}, expected {FORMAT_VERSION}"
        )
    return config, load_file(str(directory / "weights.safetensors"))
