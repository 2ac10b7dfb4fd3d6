"""Models built from other registered models (the two-stage pipeline, the hybrids).

A composite names its parts (``parts``: hyperparameters holding model names, each with
a ``<part>_params`` dict), fits each on the same training data and combines their
scores. Persistence keeps the one config.json + weights.safetensors of every model:
each part's arrays are stored under "<part>." prefixes and its model name, full
hyperparameters, item count and ``_extra`` under ``extra["parts"]``; a part's
training matrix is the composite's own, so it is stored once. Composites nest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..data import Interactions
from .base import Callback, Recommender
from .registry import create_model


def zscore(scores: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
    """Per-row (x - mean) / std over the finite entries of ``columns`` (bool (n_items,),
    None: all); NaN outside them, -inf stays -inf, a constant row gives 0."""
    scores = np.asarray(scores, dtype=np.float64)
    if columns is not None:
        scores = np.where(columns[None, :], scores, np.nan)
    finite = np.isfinite(scores)
    count = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    values = np.where(finite, scores, 0.0)
    mean = values.sum(axis=1, keepdims=True) / count
    spread = np.sqrt((np.where(finite, values - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / count)
    z = (scores - mean) / np.where(spread > 0, spread, 1.0)
    return np.where(np.isnan(scores), np.nan, np.where(finite, z, scores))


def _scaled(callback: Callback | None, low: float, high: float, part: str) -> Callback | None:
    if callback is None:
        return None

    def report(fraction: float, message: str, **details: Any) -> None:
        callback(low + (high - low) * fraction, f"{part}: {message}", **details)

    return report


def _can_add_items(model: Recommender) -> bool:
    return type(model).add_items is not Recommender.add_items


class CompositeRecommender(Recommender):
    parts: ClassVar[tuple[str, ...]] = ()

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        h = self.hyperparameters
        self.models_: dict[str, Recommender] = {}
        share = 1.0 / (len(self.parts) + 1)  # the last share: the composite's own work
        for n, part in enumerate(self.parts):
            model = create_model(h[part], **dict(h[f"{part}_params"] or {}))
            model.fit(
                train, valid=valid, callback=_scaled(callback, n * share, (n + 1) * share, part)
            )
            self.models_[part] = model
        self._fit_combination(train, valid)

    def _fit_combination(self, train: Interactions, valid: Interactions | None) -> None:
        """What the composite learns itself once its parts are fitted."""

    # ----------------------------------------------------------- parts' scores
    def part_scores(self, part: str, users: np.ndarray) -> np.ndarray:
        """(len(users), n_items) float64; NaN for works added after training that this
        part was not given (see ``add_items``)."""
        return self._pad(part, self.models_[part].score(users))

    def part_profile_scores(self, part: str, profiles: list[np.ndarray]) -> np.ndarray:
        model = self.models_[part]
        known = [p[p < model.n_items] for p in profiles]
        try:
            return self._pad(part, model.score_profiles(known))
        except NotImplementedError as error:
            raise NotImplementedError(
                f"the {self.name} model cannot score new profiles: its {part} ({model.name}) "
                f"cannot ({error})"
            ) from None

    def _pad(self, part: str, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        missing = self.n_items - scores.shape[1]
        return np.pad(scores, ((0, 0), (0, missing)), constant_values=np.nan) if missing else scores

    # ----------------------------------------------------------- cold start
    def _add_to_parts(
        self,
        item_ids: Sequence[str],
        features: np.ndarray | None,
        images: Sequence | None,
        required: Sequence[str],
        optional: Sequence[str] = (),
    ) -> None:
        """Give new works to the ``required`` parts (all able to take them, checked before
        anything changes) and to those ``optional`` parts that can."""
        self._require_fitted()
        for part in required:
            if not _can_add_items(self.models_[part]):
                raise NotImplementedError(
                    f"the {self.name} model cannot score works it was not trained on: its "
                    f"{part} ({self.models_[part].name}) cannot"
                )
        chosen = list(required) + [p for p in optional if _can_add_items(self.models_[p])]
        if not chosen:
            raise NotImplementedError(
                f"the {self.name} model cannot score works it was not trained on: none of "
                "its parts can"
            )
        for part in chosen:
            self.models_[part].add_items(item_ids, features=features, images=images)
        self._extend_catalogue(item_ids)

    # ----------------------------------------------------------- persistence
    def _weights(self) -> dict[str, np.ndarray]:
        weights = {}
        for part, model in self.models_.items():
            weights.update({f"{part}.{key}": value for key, value in model._weights().items()})
        return weights

    def _extra(self) -> dict[str, Any]:
        return {
            "parts": {
                part: {
                    "model": model.name,
                    "hyperparameters": model.hyperparameters,
                    "n_items": model.n_items,
                    "extra": model._extra(),
                }
                for part, model in self.models_.items()
            }
        }

    def _set_extra(self, extra: dict[str, Any]) -> None:
        self._part_configs = dict(extra["parts"])

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.models_ = {}
        for part in self.parts:
            saved = self._part_configs[part]
            prefix = f"{part}."
            own = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
            model = create_model(saved["model"], **saved["hyperparameters"])
            config = {
                "user_ids": self.user_ids,
                "item_ids": self.item_ids[: saved["n_items"]],
                "extra": saved["extra"],
            }
            own.update(seen_indptr=self._seen_indptr, seen_indices=self._seen_indices)
            model._restore(config, own)
            self.models_[part] = model
