"""Pixels into a trainable backbone: the part DVBPR and fine-tuned VBPR / CuratorNet share.

``ImageBank`` decodes every item image once into a uint8 tensor at the training size
(3 x s x s bytes per item), so an epoch never touches the disk; ``ImageTower`` is a
timm backbone whose trainable part is chosen (nothing, the last stage, or all).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from .backbones import create_backbone, data_config, resolve_weights, set_trainable
from .base import open_rgb

logger = logging.getLogger(__name__)


class ImageBank:
    """All item images, resized (shorter side) and centre-cropped to s x s, as uint8.

    paths: one per item; "" or a missing file gives a grey image (``loaded`` False there)
    rather than failing a whole training run on one bad file.
    """

    def __init__(self, paths: Sequence[str], image_size: int, mean, std) -> None:
        self.image_size = int(image_size)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.pixels = torch.full((len(paths), 3, image_size, image_size), 128, dtype=torch.uint8)
        self.loaded = np.zeros(len(paths), dtype=bool)
        for index, path in enumerate(paths):
            image = self._load(path)
            if image is None:
                continue
            self.loaded[index] = True
            self.pixels[index] = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)

    def _load(self, path) -> Image.Image | None:
        if not path:
            return None
        try:
            image = open_rgb(path)
        except (OSError, ValueError):
            return None
        size = self.image_size
        scale = size / min(image.size)
        resized = image.resize(
            (max(size, round(image.width * scale)), max(size, round(image.height * scale))),
            Image.Resampling.BICUBIC,
        )
        left, top = (resized.width - size) // 2, (resized.height - size) // 2
        return resized.crop((left, top, left + size, top + size))

    @classmethod
    def for_training(cls, paths, item_ids, image_size: int, mean, std) -> ImageBank:
        """The bank a pixel-trained model learns from: no images at all is an error (it
        would learn from grey squares); a few missing ones are named in the log."""
        if paths is None:
            raise ValueError("this model learns from the works' images, and none were given")
        bank = cls(paths, image_size, mean, std)
        missing = [item_ids[i] for i in np.flatnonzero(~bank.loaded)]
        if len(missing) == len(paths):
            raise ValueError(
                f"this model learns from the works' images, and none of the {len(paths)} "
                f"works has a readable one (first: {', '.join(map(str, missing[:3]))}); "
                "import the images or choose a method that uses features"
            )
        if missing:
            logger.warning(
                "%d of %d works have no readable image and are seen as grey: %s",
                len(missing),
                len(paths),
                ", ".join(map(str, missing[:5])),
            )
        return bank

    def extend(self, paths: Sequence[str]) -> None:
        more = ImageBank(paths, self.image_size, self.mean.flatten(), self.std.flatten())
        self.pixels = torch.cat([self.pixels, more.pixels])
        self.loaded = np.concatenate([self.loaded, more.loaded])

    def batch(self, items: torch.Tensor, device: torch.device) -> torch.Tensor:
        """(len(items), 3, s, s) float32, normalised with the backbone's mean and std."""
        pixels = self.pixels[items.cpu()].to(device, non_blocking=True).float() / 255.0
        return (pixels - self.mean.to(device)) / self.std.to(device)


class ImageTower(nn.Module):
    """backbone(image) -> (b, dim) with ``trainable`` in none / last / all."""

    def __init__(self, backbone: str, weights: str | None, trainable: str, seed: int = 0) -> None:
        super().__init__()
        self.weights = resolve_weights(weights, seed=seed)
        self.backbone = create_backbone(backbone, self.weights)
        set_trainable(self.backbone, trainable)
        self.trainable = trainable

    def config(self, image_size: int | None) -> dict:
        return data_config(self.backbone, image_size)

    def output_dim(self, image_size: int) -> int:
        was_training = self.backbone.training
        self.backbone.eval()
        with torch.no_grad():
            dim = int(self.backbone(torch.zeros(1, 3, image_size, image_size)).shape[1])
        self.backbone.train(was_training)
        return dim

    def train(self, mode: bool = True):
        super().train(mode)
        if self.trainable == "last":
            # Frozen layers keep their batch-norm statistics: only the last stage adapts.
            self.backbone.eval()
            for module in _last_stage_modules(self.backbone):
                module.train(mode)
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)


def _last_stage_modules(model) -> list[nn.Module]:
    from .backbones import last_stage_parameters

    wanted = {id(p) for p in last_stage_parameters(model)}
    return [m for m in model.modules() if any(id(p) in wanted for p in m.parameters(recurse=False))]
