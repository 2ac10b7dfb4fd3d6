"""Oracle: the demo gallery's hidden tastes, a reference line, not a method.

It knows each collector's taste but not the generator's chance, prices or stock, so it is
no ceiling: other methods can and do score above it on some protocols."""

from __future__ import annotations

import numpy as np

from ..data import Interactions
from .base import Callback, Recommender
from .registry import register_model


@register_model
class Oracle(Recommender):
    name = "oracle"
    defaults: dict = {}
    needs = ("user_latent", "item_latent")
    description = (
        "Scores with the synthetic gallery's hidden user/item tastes: a reference to compare "
        "against, not a method."
    )
    reference = "reference: the generator's hidden tastes"

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        self.user_latent = train.user_latent
        self.item_latent = train.item_latent

    def add_items_from(self, data: Interactions, items: np.ndarray) -> None:
        """New works are known by their hidden style, as every work is."""
        if data.item_latent is None:
            raise ValueError("the oracle needs the hidden styles of the new works")
        self._extend_catalogue(data.item_ids[items].tolist())
        self.item_latent = np.concatenate([self.item_latent, data.item_latent[items]])

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        # (len(users), d) @ (d, n_items)
        return self.user_latent[users] @ self.item_latent.T

    def embeddings(self):
        return self.user_latent, self.item_latent

    def _weights(self) -> dict[str, np.ndarray]:
        return {"user_latent": self.user_latent, "item_latent": self.item_latent}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.user_latent = weights["user_latent"]
        self.item_latent = weights["item_latent"]
