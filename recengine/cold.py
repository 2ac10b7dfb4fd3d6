"""Training without the held-out works, and scoring them through the cold path.

In a cold-start split the held-out works do not exist for training: the model is fitted on
a catalogue without them (``Interactions.with_items``), so they are in no ID table, no
negative sample and no cluster. They reach the model afterwards through its documented
cold path (``Recommender.add_items_from``: features, images, or a model's own fallback);
a model without one says it cannot. ``CatalogueView`` then presents the model in the full
catalogue's index, so the usual evaluation code ranks it like any other model; a work the
model does not know scores -inf (not a candidate).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .data import Interactions


class CatalogueView:
    """A fitted model seen through another item index (the full catalogue's).

    columns: (n_full_items,) position of each catalogue item in the model, -1 if unknown.
    """

    def __init__(self, model, item_ids: Sequence[str]) -> None:
        position = {str(key): n for n, key in enumerate(model.item_ids)}
        self.model = model
        self.name = model.name
        self.sequential = getattr(model, "sequential", False)
        self.columns = np.asarray([position.get(str(i), -1) for i in item_ids], dtype=np.int64)
        self.known = self.columns >= 0

    def __getattr__(self, name):
        # Everything else (best_epoch_, history_, hyperparameters, ...) is the model's.
        return getattr(self.model, name)

    def _spread(self, block: np.ndarray) -> np.ndarray:
        out = np.full((len(block), len(self.columns)), -np.inf, dtype=np.float32)
        out[:, self.known] = np.asarray(block, dtype=np.float32)[:, self.columns[self.known]]
        return out

    def _profiles(self, profiles: Sequence[np.ndarray]) -> list[np.ndarray]:
        mapped = [self.columns[np.asarray(p, dtype=np.int64)] for p in profiles]
        return [p[p >= 0] for p in mapped]

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        full = self._spread(self.model.score(users))
        if items is None:
            return full
        items = np.asarray(items, dtype=np.int64)
        if items.ndim == 1:
            return full[:, items]
        picked = np.take_along_axis(full, np.maximum(items, 0), axis=1)
        return np.where(items < 0, -np.inf, picked).astype(np.float32)

    def score_profiles(self, profiles: Sequence[np.ndarray]) -> np.ndarray:
        return self._spread(self.model.score_profiles(self._profiles(profiles)))

    def score_histories(self, users: np.ndarray, profiles: Sequence[np.ndarray]) -> np.ndarray:
        return self._spread(self.model.score_histories(users, self._profiles(profiles)))


def fit_without(
    model,
    train: Interactions,
    unseen: np.ndarray,
    callback=None,
) -> CatalogueView:
    """Fit ``model`` on ``train`` with the works in ``unseen`` ((n_items,) bool) removed
    from the catalogue, then add them through the model's cold path.

    Raises NotImplementedError (with the model's reason) when the model has no cold path.
    Gradient models run their full epoch count: early stopping would need the held-out
    works, which the model may not see while it trains.
    """
    unseen = np.asarray(unseen, dtype=bool)
    model.fit(train.with_items(~unseen), valid=None, callback=callback)
    if unseen.any():
        model.add_items_from(train, np.flatnonzero(unseen))
    return CatalogueView(model, train.item_ids)
