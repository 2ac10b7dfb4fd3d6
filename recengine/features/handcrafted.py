"""Hand-crafted image descriptors: HSV colour histogram + uniform LBP texture.

No learned weights, so they run anywhere instantly; a baseline for (and
complement to) CNN embeddings.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .base import ImageExtractor
from .registry import register_extractor

HSV_BINS = (8, 4, 4)  # hue gets most bins: it carries most of a palette's identity
LBP_BINS = 59  # 58 uniform 8-bit patterns + 1 shared bin for every non-uniform one

# Neighbour offsets (dy, dx), clockwise from the top-left; neighbour p sets bit p.
LBP_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def _uniform_lookup() -> np.ndarray:
    """(256,) bin per 8-bit code: uniform codes (<= 2 circular 0/1 transitions)
    get bins 0..57 in increasing code order, all others bin 58."""
    codes = np.arange(256)
    rotated = ((codes >> 1) | ((codes & 1) << 7)) & 0xFF  # circular neighbour of each bit
    transitions = np.array([bin(c).count("1") for c in codes ^ rotated])
    uniform = transitions <= 2
    lookup = np.full(256, LBP_BINS - 1, dtype=np.int64)
    lookup[uniform] = np.arange(uniform.sum())
    return lookup


LBP_LOOKUP = _uniform_lookup()


def _l1(histogram: np.ndarray) -> np.ndarray:
    total = histogram.sum()
    return histogram / total if total > 0 else histogram


def colour_histogram(rgb: np.ndarray, bins: tuple[int, int, int] = HSV_BINS) -> np.ndarray:
    """(prod(bins),) float32 joint HSV histogram of an (H, W, 3) uint8 RGB image, L1-normalised."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {rgb.shape}")
    hsv = np.asarray(Image.fromarray(rgb).convert("HSV"), dtype=np.int64)
    # Each channel is 0..255; integer scaling maps it onto 0..bins-1.
    h, s, v = (hsv[..., c] * bins[c] >> 8 for c in range(3))
    index = (h * bins[1] + s) * bins[2] + v
    counts = np.bincount(index.ravel(), minlength=int(np.prod(bins)))
    return _l1(counts.astype(np.float32))


def lbp_codes(gray: np.ndarray) -> np.ndarray:
    """(H-2, W-2) uint8 LBP codes of the interior pixels (8 neighbours, radius 1).

    Bit p is set when neighbour p (see LBP_OFFSETS) is >= the centre pixel.
    """
    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 2:
        raise ValueError(f"expected an (H, W) grayscale array, got shape {gray.shape}")
    height, width = gray.shape
    if height < 3 or width < 3:
        return np.zeros((max(height - 2, 0), max(width - 2, 0)), dtype=np.uint8)
    centre = gray[1:-1, 1:-1]
    codes = np.zeros(centre.shape, dtype=np.int64)
    for bit, (dy, dx) in enumerate(LBP_OFFSETS):
        neighbour = gray[1 + dy : height - 1 + dy, 1 + dx : width - 1 + dx]
        codes |= (neighbour >= centre).astype(np.int64) << bit
    return codes.astype(np.uint8)


def lbp_histogram(gray: np.ndarray) -> np.ndarray:
    """(59,) float32 uniform-LBP histogram of an (H, W) grayscale image, L1-normalised.

    Images smaller than 3x3 have no interior pixel and give all zeros.
    """
    bins = LBP_LOOKUP[lbp_codes(gray).ravel()]
    return _l1(np.bincount(bins, minlength=LBP_BINS).astype(np.float32))


def _hellinger_block(histogram: np.ndarray) -> np.ndarray:
    # sqrt turns the dot product of L1 histograms into the Bhattacharyya
    # coefficient; L2-normalising then makes cosine similarity meaningful and
    # gives both blocks equal weight.
    root = np.sqrt(histogram)
    norm = np.linalg.norm(root)
    return root / norm if norm > 0 else root


@register_extractor
class ColourExtractor(ImageExtractor):
    """Joint HSV histogram (8 x 4 x 4 bins), L1-normalised."""

    name = "colour"
    dim = int(np.prod(HSV_BINS))

    def describe_one(self, image: Image.Image) -> np.ndarray:
        return colour_histogram(np.asarray(image))


@register_extractor
class LBPExtractor(ImageExtractor):
    """Uniform local binary patterns of the grey image: 59 bins, L1-normalised."""

    name = "lbp"
    dim = LBP_BINS

    def describe_one(self, image: Image.Image) -> np.ndarray:
        return lbp_histogram(np.asarray(image.convert("L")))


@register_extractor
class HandcraftedExtractor(ImageExtractor):
    """Colour + texture: both histograms, each Hellinger- and L2-normalised, so cosine
    similarity weighs palette and texture equally."""

    name = "handcrafted"
    dim = int(np.prod(HSV_BINS)) + LBP_BINS

    def describe_one(self, image: Image.Image) -> np.ndarray:
        colour = colour_histogram(np.asarray(image))
        texture = lbp_histogram(np.asarray(image.convert("L")))
        return np.concatenate([_hellinger_block(colour), _hellinger_block(texture)])
