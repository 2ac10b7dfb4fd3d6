"""What the feature-based visual models (VBPR, CuratorNet) share: where item features
come from, how they are standardised, how triplets are drawn, and cold-start items.

Frozen (default): features are the dataset's precomputed ``item_features`` (a CNN's
embeddings, handcrafted descriptors, imported vectors), standardised per dimension.
fine_tune=True: features are computed from the item images by ``backbone`` whose last
stage is trained with the model's ranking loss; after training every item's feature is
computed once, so scoring needs no images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ..data import Interactions
from ..guided_sampling import (
    STRATEGIES,
    Triplets,
    TripletSampler,
    item_artists,
    parse_guidelines,
    shares_of,
    visual_space,
)
from .gradient import GradientRecommender, with_training_defaults

VISUAL_DEFAULTS: dict[str, Any] = {
    "sampling": "uniform",  # or "guided": CuratorNet's guidelines
    # With sampling="guided": None (all of the paper's guidelines, equal shares; VBPR the
    # four with a real user), or names, comma-separated or a list, or {name: weight}.
    "guidelines": None,
    "clusters": 20,  # visual clusters for guided sampling (k-means on PCA features)
    "basket_seconds": 0.0,  # purchases this close form one basket (0: same timestamp)
    "hard_negatives": 0.6,  # guidelines 4-6: share of negatives from the anchor's cluster
    "samples_per_epoch": 0,  # 0: as many triplets as training interactions
    "fine_tune": False,  # train the backbone's last stage on the images
    "backbone": "resnet50",
    "weights": None,  # file path, "hub", or None for random init
    "image_size": 96,
    "sparse_updates": True,  # embedding tables update only the rows a batch touched
}
SCORE_CHUNK = 512  # items through the image tower at once when scoring


def visual_defaults(**model_defaults: Any) -> dict[str, Any]:
    return with_training_defaults(**{**VISUAL_DEFAULTS, **model_defaults})


class VisualRecommender(GradientRecommender):
    needs = ("item_features",)
    # A model with a vector per real user (VBPR) cannot train on an artificial profile.
    real_users_only: ClassVar[bool] = False

    def _fine_tuning(self) -> bool:
        return bool(self.hyperparameters["fine_tune"])

    def fit(self, train: Interactions, valid=None, callback=None):
        if self._fine_tuning() and train.item_images is None:
            raise ValueError(f"{self.name} with fine_tune needs item_images")
        self._check_sampling()
        self._epoch_sampling: dict[int, dict[str, int]] = {}
        self.sampling_counts_: dict[str, int] = {}
        self.sampling_shares_: dict[str, float] = {}
        return super().fit(train, valid=valid, callback=self._reporting_sampling(callback))

    # ----------------------------------------------------------- features
    def _prepare_features(self, train: Interactions) -> int:
        """Sets up the feature source; returns the feature dimension."""
        h = self.hyperparameters
        if self._fine_tuning():
            from ..features.tower import ImageBank, ImageTower

            self.tower_ = ImageTower(h["backbone"], h["weights"], "last", seed=h["seed"])
            config = self.tower_.config(h["image_size"])
            self.bank_ = ImageBank.for_training(
                train.item_images, train.item_ids, h["image_size"], config["mean"], config["std"]
            )
            # The untrained tower's features: what guided sampling clusters on.
            self.features_ = self._tower_features(range(train.n_items), self.bank_, self.tower_)
            return self.features_.shape[1]
        features = np.asarray(train.item_features, dtype=np.float32)
        self.feature_mean_ = features.mean(axis=0)
        self.feature_std_ = features.std(axis=0) + 1e-6
        self.features_ = features
        self._features_tensor = None
        return features.shape[1]

    def _standardised(self, features: np.ndarray) -> np.ndarray:
        return (features - self.feature_mean_) / self.feature_std_

    def _training_tower(self) -> bool:
        """True while fine-tuning: features come from the tower, not the stored table."""
        return self._fine_tuning() and getattr(self, "bank_", None) is not None

    def _item_features(self, module, items: torch.Tensor) -> torch.Tensor:
        """(len(items), F) features of these items, on the device."""
        if self._training_tower():
            return module.tower(self.bank_.batch(items, self.device_))
        if self._features_tensor is None:
            self._features_tensor = torch.as_tensor(
                self._standardised(self.features_), dtype=torch.float32, device=self.device_
            )
        return self._features_tensor[items]

    def _all_item_features(self, module) -> torch.Tensor:
        """(n_items, F) on the device; through the tower in chunks while fine-tuning."""
        n_items = self.n_items
        if self._training_tower():
            chunks = torch.arange(n_items).split(SCORE_CHUNK)
            return torch.cat([self._item_features(module, c) for c in chunks])
        return self._item_features(module, torch.arange(n_items, device=self.device_))

    def _after_training(self) -> None:
        for record in self.history_:
            counts = self._epoch_sampling.get(int(record["epoch"]))
            if counts is not None:
                record["sampling"] = counts
        self._finish_features()

    def _finish_features(self) -> None:
        """After fine-tuning: every item's feature from the trained tower, kept for scoring."""
        if not self._fine_tuning():
            return
        self.features_ = self._tower_features(
            range(self.bank_.pixels.shape[0]), self.bank_, self.module_.tower
        )
        self.feature_mean_ = np.zeros(self.features_.shape[1], dtype=np.float32)
        self.feature_std_ = np.ones(self.features_.shape[1], dtype=np.float32)
        self._features_tensor = None

    @torch.no_grad()
    def _tower_features(self, indices, bank, tower) -> np.ndarray:
        tower.eval().to(self.device_)
        indices = torch.as_tensor(list(indices), dtype=torch.long)
        parts = [
            tower(bank.batch(indices[s : s + SCORE_CHUNK], self.device_)).float().cpu()
            for s in range(0, len(indices), SCORE_CHUNK)
        ]
        return torch.cat(parts).numpy() if parts else np.zeros((0, 0), np.float32)

    # ----------------------------------------------------------- sampling
    def _check_sampling(self) -> None:
        """Refuses a bad sampling setting before any feature is computed."""
        h = self.hyperparameters
        if h["sampling"] not in STRATEGIES:
            raise ValueError(f"sampling must be one of {STRATEGIES}, not {h['sampling']!r}")
        if h["sampling"] == "guided":
            parse_guidelines(h["guidelines"], real_users_only=self.real_users_only, model=self.name)
        elif h["guidelines"] not in (None, ""):
            raise ValueError("guidelines choose among CuratorNet's: set sampling='guided'")

    def _sampler(self, train: Interactions, real_users_only: bool) -> TripletSampler:
        """The epoch's triplets; clusters and artists only exist for guided sampling.
        Everything is read from ``train``'s catalogue: a held-out work is in no cluster."""
        h = self.hyperparameters
        clusters = artists = embedding = None
        if h["sampling"] == "guided":
            embedding, clusters = visual_space(
                self.features_, n_clusters=int(h["clusters"]), seed=h["seed"]
            )
            artists = item_artists(train)
        self.samples_ = int(h["samples_per_epoch"]) or len(train)
        return TripletSampler(
            train,
            h["sampling"],
            guidelines=h["guidelines"],
            clusters=clusters,
            artists=artists,
            embedding=embedding,
            basket_seconds=float(h["basket_seconds"]),
            hard_negatives=float(h["hard_negatives"]),
            real_users_only=real_users_only,
            model=self.name,
        )

    def _epoch_triplets(self, epoch: int) -> Triplets:
        triplets = self.sampler_.sample(self.rng_, self.samples_)
        # Every label the sampler may produce, zeros included: a guideline that found
        # nothing shows as 0, not as a missing key.
        counts = {label: 0 for label in self.sampler_.labels} | triplets.counts()
        self._record_sampling(epoch, counts)
        return triplets

    def _record_sampling(self, epoch: int, counts: dict[str, int]) -> None:
        """Keeps what each guideline produced: per epoch (into history_) and over the
        fit (``sampling_counts_``, and ``sampling_shares_`` summing to 1), so a job's
        record shows which triplets trained the model, fallbacks included."""
        self._epoch_sampling[epoch] = dict(counts)
        total: dict[str, int] = {}
        for epoch_counts in self._epoch_sampling.values():
            for label, n in epoch_counts.items():
                total[label] = total.get(label, 0) + int(n)
        self.sampling_counts_ = total
        self.sampling_shares_ = shares_of(total)

    def _reporting_sampling(self, callback):
        """The progress callback, with the shares so far among its details."""
        if callback is None:
            return None

        def report(fraction: float, message: str = "", **details) -> None:
            if self.sampling_shares_:
                details.setdefault("sampling_shares", dict(self.sampling_shares_))
            callback(fraction, message, **details)

        return report

    # ----------------------------------------------------------- cold start
    def _new_item_features(self, features, images) -> np.ndarray:
        if self._fine_tuning():
            if images is None:
                raise ValueError(f"{self.name} was fine-tuned: give the new works' images")
            from ..features.tower import ImageBank

            h = self.hyperparameters
            config = self.module_.tower.config(h["image_size"])
            bank = ImageBank(list(images), h["image_size"], config["mean"], config["std"])
            return self._tower_features(range(len(images)), bank, self.module_.tower)
        if features is None:
            raise ValueError(f"{self.name} needs one feature vector per new work")
        return np.asarray(features, dtype=np.float32)

    def _append_features(self, item_ids: Sequence[str], features, images) -> np.ndarray:
        new = self._new_item_features(features, images)
        if len(new) != len(item_ids):
            raise ValueError(f"{len(item_ids)} new works but {len(new)} feature vectors")
        positions = self._extend_catalogue(item_ids)
        self.features_ = np.concatenate([self.features_, new])
        self._features_tensor = None
        return positions

    # ----------------------------------------------------------- persistence
    def _weights(self) -> dict[str, np.ndarray]:
        return {
            **super()._weights(),
            "features": self.features_,
            "feature_mean": self.feature_mean_,
            "feature_std": self.feature_std_,
        }

    def _extra(self) -> dict[str, Any]:
        return {
            **super()._extra(),
            "sampling_shares": getattr(self, "sampling_shares_", {}),
            "sampling_counts": getattr(self, "sampling_counts_", {}),
        }

    def _set_extra(self, extra: dict[str, Any]) -> None:
        super()._set_extra(extra)
        self.sampling_shares_ = dict(extra.get("sampling_shares", {}))
        self.sampling_counts_ = dict(extra.get("sampling_counts", {}))

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.features_ = weights.pop("features")
        self.feature_mean_ = weights.pop("feature_mean")
        self.feature_std_ = weights.pop("feature_std")
        self._features_tensor = None
        super()._set_weights(weights)

    def _release_training_state(self) -> None:
        self.sampler_ = None
        self.bank_ = None
