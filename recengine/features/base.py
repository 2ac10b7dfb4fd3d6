"""What every feature extractor shares: a name, a dimension, a key for the cache, and
``extract(images, callback)`` -> (n, dim) float32.

``ImageExtractor`` is the base of the weight-free extractors that look at one image at
a time (colour, texture, attractiveness); the CNN extractor batches instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

ImageLike = Image.Image | str | Path
Callback = Callable[..., None]


def open_rgb(image: ImageLike) -> Image.Image:
    """An RGB PIL image from a path or an image (files are closed at once)."""
    if isinstance(image, (str, Path)):
        with Image.open(image) as opened:
            return opened.convert("RGB")
    return image.convert("RGB")


class ImageExtractor:
    """Per-image descriptors of a resized copy of the image; no learned weights."""

    name = ""
    dim = 0
    weights_id = "none"

    def __init__(self, image_size: int = 128) -> None:
        self.image_size = int(image_size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(image_size={self.image_size})"

    @property
    def key(self) -> str:
        """Identifies what produced a vector: cached vectors are shared only under it."""
        return f"{self.name}:{self.weights_id}:{self.image_size}px"

    @property
    def description(self) -> str:
        return f"{self.name} ({self.image_size} px, no weights)"

    def _load(self, image: ImageLike) -> Image.Image:
        return open_rgb(image).resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)

    def describe_one(self, image: Image.Image) -> np.ndarray:
        """(dim,) descriptor of a loaded, resized RGB image."""
        raise NotImplementedError

    def extract_one(self, image: ImageLike) -> np.ndarray:
        return np.asarray(self.describe_one(self._load(image)), dtype=np.float32)

    def extract(self, images: Sequence[ImageLike], callback: Callback | None = None) -> np.ndarray:
        """(len(images), dim) float32, one row per image in order."""
        features = np.zeros((len(images), self.dim), dtype=np.float32)
        for n, image in enumerate(images):
            features[n] = self.extract_one(image)
            if callback is not None:
                callback((n + 1) / len(images), f"extracted {n + 1}/{len(images)} images")
        return features
