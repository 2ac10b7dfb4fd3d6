"""What a collector's works look like together: dominant colours, styles and artists.

Each work contributes a 12 x 12 pixel sample of its image (cached by image checksum, so
it is read once); the collector's palette is a small seeded k-means over the pooled
samples, cached per set of works. A few hundred pixels per work describe its colour mass
as well as the full image does, at a fraction of the cost.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

from webapp.catalogue.models import Artwork, Interaction

SAMPLE_SIDE = 12
PALETTE_COLOURS = 5
KMEANS_ROUNDS = 12
CACHE_SECONDS = 7 * 24 * 3600


@dataclass
class Swatch:
    hex: str
    share: float  # of the sampled pixels, 0 to 1

    @property
    def percent(self) -> int:
        return round(100 * self.share)

    @property
    def light(self) -> bool:
        """Dark text reads better on it (relative luminance above one half)."""
        r, g, b = (int(self.hex[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5


@dataclass
class CollectorProfile:
    palette: list[Swatch]
    tags: list[tuple[str, int]]
    artists: list[tuple[str, int, int]]  # (name, artist id, works)
    purchases: int
    likes: int
    works: int


def artwork_pixels(artwork: Artwork) -> np.ndarray | None:
    """(SAMPLE_SIDE**2, 3) uint8 RGB sample of the work's image, or None without one."""
    if not artwork.image or not artwork.image_checksum:
        return None
    key = f"vitrine:pixels:v1:{artwork.image_checksum}"
    data = cache.get(key)
    if data is None:
        try:
            with default_storage.open(artwork.image.name, "rb") as handle:
                with Image.open(handle) as image:
                    image.draft("RGB", (64, 64))  # JPEG: decode at a reduced scale
                    small = image.convert("RGB").resize(
                        (SAMPLE_SIDE, SAMPLE_SIDE), Image.Resampling.BOX
                    )
                    data = small.tobytes()
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
            data = b""
        cache.set(key, data, CACHE_SECONDS)
    if not data:
        return None
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, 3)


def _kmeans(pixels: np.ndarray, k: int) -> list[Swatch]:
    """k colours (by share, largest first) of (n, 3) pixels; seeded, so stable."""
    points = pixels.astype(np.float32)
    # Distinct colours, counted as packed 24-bit integers: np.unique over rows sorts
    # structured records and took a fifth of the palette's time.
    rgb = pixels.astype(np.uint32)
    k = min(k, len(np.unique((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2])))
    rng = np.random.default_rng(0)
    centres = points[rng.choice(len(points), size=1)]
    for _ in range(1, k):  # k-means++ seeding: spread the first centres apart
        distance = ((points[:, None, :] - centres[None]) ** 2).sum(-1).min(1)
        centres = np.vstack([centres, points[rng.choice(len(points), p=distance / distance.sum())]])
    for _ in range(KMEANS_ROUNDS):
        labels = ((points[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        # Each centre moves to its pixels' mean (one bincount per channel, not a mask per
        # centre); a centre left without pixels stays where it was.
        sizes = np.bincount(labels, minlength=k)
        sums = np.stack(
            [np.bincount(labels, weights=points[:, j], minlength=k) for j in range(3)], axis=1
        )
        moved = np.where(sizes[:, None] > 0, sums / np.maximum(sizes, 1)[:, None], centres).astype(
            np.float32
        )
        if np.allclose(moved, centres, atol=0.5):
            break
        centres = moved
    counts = np.bincount(labels, minlength=k)
    order = np.argsort(-counts, kind="stable")
    return [
        Swatch(
            "#{:02x}{:02x}{:02x}".format(*np.clip(centres[c].round(), 0, 255).astype(int)),
            float(counts[c] / counts.sum()),
        )
        for c in order
        if counts[c]
    ]


def palette_of(artworks: list[Artwork], k: int = PALETTE_COLOURS) -> list[Swatch]:
    checksums = sorted({a.image_checksum for a in artworks if a.image and a.image_checksum})
    if not checksums:
        return []
    digest = hashlib.sha256(",".join(checksums).encode()).hexdigest()[:32]
    key = f"vitrine:palette:v1:{k}:{digest}"
    palette = cache.get(key)
    if palette is None:
        samples = [p for p in (artwork_pixels(a) for a in artworks) if p is not None]
        palette = _kmeans(np.concatenate(samples), k) if samples else []
        cache.set(key, palette, CACHE_SECONDS)
    return palette


def collector_profile(*, consumed: list[Interaction]) -> CollectorProfile:
    """Summary of what the collector bought and liked (each work counted once)."""
    works = list({i.artwork_id: i.artwork for i in consumed}.values())
    tags = Counter(tag for work in works for tag in (work.style_tags or []))
    artists = Counter((work.artist.name, work.artist_id) for work in works)
    kinds = Counter(i.kind for i in consumed)
    return CollectorProfile(
        palette=palette_of(works),
        tags=tags.most_common(6),
        artists=[(name, pk, n) for (name, pk), n in artists.most_common(5)],
        purchases=kinds.get(Interaction.Kind.PURCHASE, 0),
        likes=kinds.get(Interaction.Kind.LIKE, 0),
        works=len(works),
    )
