"""Attractiveness metrics of an image (San Pedro and Siersdorfer 2009), the hand-made
"visual appeal" features the art-recommendation tutorial set beside CNN embeddings.

Seven numbers per image, each on its own scale; ``AttractivenessExtractor`` standardises
nothing (a model that mixes them with other features should), but returns them in a
fixed, documented order.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .base import ImageExtractor
from .registry import register_extractor

METRICS = (
    "brightness",
    "saturation",
    "sharpness",
    "colourfulness",
    "naturalness",
    "contrast",
    "rgb_contrast",
)

# Naturalness: hue ranges (degrees) and the mean saturation an observer finds most
# natural for skin, grass and sky, with the spread of that preference (from the paper).
_NATURAL_GROUPS = (
    ((25.0, 70.0), 0.76, 0.52),  # skin
    ((95.0, 135.0), 0.81, 0.53),  # grass
    ((185.0, 260.0), 0.43, 0.22),  # sky
)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def _hsl(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees, saturation and lightness in [0, 1] of an (..., 3) array in [0, 1]."""
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    lightness = (high + low) / 2
    spread = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        saturation = np.where(
            spread == 0, 0.0, spread / (1 - np.abs(2 * lightness - 1)).clip(1e-12)
        )
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        hue = np.where(
            high == r,
            ((g - b) / spread) % 6,
            np.where(high == g, (b - r) / spread + 2, (r - g) / spread + 4),
        )
    hue = np.where(spread == 0, 0.0, hue * 60.0)
    return hue, np.clip(saturation, 0, 1), lightness


def attractiveness(rgb: np.ndarray) -> np.ndarray:
    """(7,) float32 metrics of an (H, W, 3) uint8 image, in the order of METRICS.

    brightness: mean luma in [0, 1]; saturation: mean HSV saturation; sharpness:
    variance of the luma's Laplacian; colourfulness: Hasler and Suesstrunk's measure;
    naturalness: weighted agreement of skin / grass / sky pixels with their natural
    saturation; contrast: RMS contrast of the luma; rgb_contrast: RMS distance of the
    RGB vectors from their mean.
    """
    rgb = np.asarray(rgb, dtype=np.float64) / 255.0
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {rgb.shape}")
    luma = _luma(rgb)
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        hsv_saturation = np.where(high > 0, (high - low) / high, 0.0)
    if luma.shape[0] >= 3 and luma.shape[1] >= 3:
        laplacian = (
            luma[:-2, 1:-1]
            + luma[2:, 1:-1]
            + luma[1:-1, :-2]
            + luma[1:-1, 2:]
            - 4 * luma[1:-1, 1:-1]
        )
        sharpness = float(laplacian.var())
    else:
        sharpness = 0.0
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colourfulness = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    hue, hsl_saturation, lightness = _hsl(rgb)
    usable = (lightness >= 0.2) & (lightness <= 0.8) & (hsl_saturation > 0.1)
    naturalness, total = 0.0, 0
    for (start, stop), ideal, spread in _NATURAL_GROUPS:
        group = usable & (hue >= start) & (hue <= stop)
        count = int(group.sum())
        if count:
            mean_saturation = hsl_saturation[group].mean()
            naturalness += count * np.exp(-0.5 * ((mean_saturation - ideal) / spread) ** 2)
            total += count
    naturalness = naturalness / total if total else 0.0
    contrast = float(luma.std())
    rgb_contrast = float(np.sqrt(((rgb - rgb.reshape(-1, 3).mean(axis=0)) ** 2).sum(-1).mean()))
    return np.array(
        [
            luma.mean(),
            hsv_saturation.mean(),
            sharpness,
            colourfulness,
            naturalness,
            contrast,
            rgb_contrast,
        ],
        dtype=np.float32,
    )


@register_extractor
class AttractivenessExtractor(ImageExtractor):
    """The seven attractiveness metrics of each image (no weights)."""

    name = "attractiveness"
    dim = len(METRICS)

    def describe_one(self, image: Image.Image) -> np.ndarray:
        return attractiveness(np.asarray(image))
