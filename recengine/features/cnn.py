"""CNN embeddings: the penultimate layer of a timm backbone, batched through a
DataLoader (decoding and resizing in worker processes), in inference mode, with
channels_last and autocast on a GPU."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np

from .backbones import (
    BACKBONES,
    MODERN_BACKBONES,
    TEST_BACKBONES,
    create_backbone,
    data_config,
    eval_transform,
    resolve_weights,
)
from .base import Callback, ImageLike, open_rgb
from .pretrained import INSTALLED, installed_weights
from .registry import register_extractor_factory


class ImageDataset:
    """Images (paths or PIL images) through a transform; a torch Dataset by duck typing."""

    def __init__(self, images: Sequence[ImageLike], transform) -> None:
        self.images, self.transform = list(images), transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        return self.transform(open_rgb(self.images[index]))


def default_workers() -> int:
    """Decoding workers: leave one core to the model, at most four."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def workers_allowed(asked: int) -> int:
    """A daemonic process (a Celery prefork child) may not start processes: decode in the
    process itself there, rather than fail at the first batch."""
    import multiprocessing

    return 0 if multiprocessing.current_process().daemon else asked


class CNNExtractor:
    """Pooled penultimate features of ``backbone``; ``extract`` -> (n, dim) float32.

    weights: a file path, "hub", or None / "random" (seeded random init).
    image_size: square input size; default the model's own.
    l2_normalise: scale each vector to unit length.
    """

    def __init__(
        self,
        backbone: str,
        weights: str | None = None,
        image_size: int | None = None,
        batch_size: int = 32,
        num_workers: int | None = None,
        device: str = "auto",
        l2_normalise: bool = False,
        seed: int = 0,
        name: str | None = None,
        label: str | None = None,
    ) -> None:
        from ..device import resolve_device

        self.backbone = backbone
        self.name = name or backbone
        self.label = label or backbone
        self.weights = resolve_weights(weights, seed=seed)
        self.batch_size = int(batch_size)
        asked = default_workers() if num_workers is None else int(num_workers)
        self.num_workers = workers_allowed(asked)
        self.device = resolve_device(device)
        self.l2_normalise = bool(l2_normalise)
        self.model = create_backbone(backbone, self.weights).eval().to(self.device)
        self.config = data_config(self.model, image_size)
        self.image_size = int(self.config["input_size"][-1])
        self.transform = eval_transform(self.model, self.image_size)
        if self.device.type == "cuda":
            import torch

            self.model = self.model.to(memory_format=torch.channels_last)
        self._dim: int | None = None

    def __repr__(self) -> str:
        return f"CNNExtractor({self.backbone}, {self.weights.label}, {self.image_size}px)"

    @property
    def weights_id(self) -> str:
        return self.weights.id

    @property
    def key(self) -> str:
        norm = ":l2" if self.l2_normalise else ""
        return f"{self.backbone}:{self.weights.id}:{self.image_size}px{norm}"

    @property
    def description(self) -> str:
        return f"{self.label} ({self.weights.label}, {self.image_size} px)"

    @property
    def dim(self) -> int:
        if self._dim is None:
            import torch

            probe = torch.zeros(1, 3, self.image_size, self.image_size, device=self.device)
            with torch.inference_mode():
                self._dim = int(self.model(probe).shape[1])
        return self._dim

    def forward(self, batch):
        """(b, 3, s, s) float tensor -> (b, dim) float32 features, no gradient."""
        import torch

        batch = batch.to(self.device, non_blocking=True)
        if self.device.type == "cuda":
            batch = batch.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.float16):
                return self.model(batch).float()
        return self.model(batch)

    def extract(self, images: Sequence[ImageLike], callback: Callback | None = None) -> np.ndarray:
        """(len(images), dim) float32 in the order given."""
        import torch
        from torch.utils.data import DataLoader

        if not len(images):
            return np.zeros((0, self.dim), dtype=np.float32)
        loader = DataLoader(
            ImageDataset(images, self.transform),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )
        parts, done, started = [], 0, time.perf_counter()
        with torch.inference_mode():
            for batch in loader:
                parts.append(self.forward(batch).cpu().numpy().astype(np.float32))
                done += len(batch)
                if callback is not None:
                    rate = done / max(time.perf_counter() - started, 1e-9)
                    callback(
                        done / len(images),
                        f"{self.backbone}: {done}/{len(images)} images ({rate:.1f}/s)",
                        seconds_left=(len(images) - done) / rate,
                    )
        features = np.concatenate(parts)
        if self.l2_normalise:
            norms = np.linalg.norm(features, axis=1, keepdims=True)
            features = features / np.where(norms > 0, norms, 1.0)
        return features


def _factory(backbone: str):
    def make(**kwargs) -> CNNExtractor:
        return CNNExtractor(backbone, **kwargs)

    make.__name__ = backbone
    return make


def _installed_factory(name: str):
    """An extractor whose weights are an installed package's, converted on first use."""
    entry = INSTALLED[name]

    def make(weights_dir=None, weights=None, **kwargs) -> CNNExtractor:
        if weights not in (None, ""):
            raise ValueError(
                f"{entry.label} uses its installed weights; for other weights choose "
                f"{entry.architecture} and name a file"
            )
        file = installed_weights(name, weights_dir)
        return CNNExtractor(
            entry.architecture, weights=str(file), name=name, label=entry.label, **kwargs
        )

    make.__name__ = name
    make.label = entry.label
    make.pretrained = True
    return make


for _backbone in BACKBONES + MODERN_BACKBONES + TEST_BACKBONES:
    register_extractor_factory(_backbone, _factory(_backbone))
for _name in INSTALLED:
    register_extractor_factory(_name, _installed_factory(_name))
