"""The model's constants (named as in docs/demo_gallery.md) and the generated records."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from .styles import STYLES, Style

HISTORY_START = datetime(2023, 1, 1, tzinfo=UTC)
HISTORY_DAYS = 730  # two years of gallery history
DAY = 86_400  # seconds
INTERACTIONS_END_FRACTION = 0.94  # every view/like/purchase happens before this point
COLD_START_FRACTION = 0.08  # works listed after the last interaction
OPENING_STOCK_FRACTION = 0.25  # warm works already on the walls in the first two weeks
EARLY_COLLECTOR_FRACTION = 0.30  # collectors who join in the first month
SELL_FRACTION = 0.85  # at most this share of the warm works gets sold
MIN_PURCHASES = 3
MAX_PURCHASES = 12

TASTE_SCALE = 3.0  # lambda: taste_u = lambda * Dirichlet(alpha_taste)
TASTE_CONCENTRATION = 0.25  # alpha_taste: small, so most collectors love one or two styles
ARTIST_DRIFT = 0.10  # artist style = (1 - d) onehot + d * Dirichlet(1)
WORK_MIX_MAX = 0.25  # work style = (1 - e) artist + e * Dirichlet(0.5), e ~ U(0, 0.25)
TEMPERATURE = 0.5  # tau: purchase softmax exp(a_ui / tau)
VIEW_TEMPERATURE = 1.0  # tau_view: browsing is more exploratory than buying
LIKE_TEMPERATURE = 0.35  # tau_like: P(like) = sigmoid((a_ui - c_u) / tau_like)
LIKE_MARGIN = 0.75  # delta: c_u = mean_i a_ui + delta
MEAN_BROWSE_VISITS = 3.0
MEAN_EXTRA_VIEWS = 2.0  # views per visit = 3 + Poisson(2)

MEDIA = ["oil", "acrylic", "watercolour", "ink", "mixed media"]
MEDIUM_PRICE = {"oil": 1.6, "acrylic": 1.2, "watercolour": 0.8, "ink": 0.6, "mixed media": 1.0}

ProgressCallback = Callable[[str, int], None]


@dataclass
class ArtistSpec:
    index: int
    external_id: str
    name: str
    main_style: int
    hidden_style: list[float]
    medium: str
    hue_shift: float  # the artist's signature, degrees
    density: float  # the artist's signature, element count multiplier


@dataclass
class ArtworkSpec:
    index: int
    external_id: str
    title: str
    artist_index: int
    main_style: int
    hidden_style: list[float]
    year: int
    medium: str
    style_tags: list[str]
    width_cm: float
    height_cm: float
    price: Decimal
    listed_at: datetime
    is_cold_start: bool
    is_sold: bool = False
    image: bytes = b""
    image_extension: str = ".png"

    @property
    def image_checksum(self) -> str:
        return hashlib.sha256(self.image).hexdigest()


@dataclass
class CollectorSpec:
    index: int
    external_id: str
    name: str
    joined_at: datetime
    hidden_taste: list[float]


@dataclass(frozen=True)
class InteractionSpec:
    collector_index: int
    artwork_index: int
    kind: str  # "purchase", "like" or "view"
    timestamp: datetime


@dataclass
class Gallery:
    seed: int
    image_size: int
    artists: list[ArtistSpec]
    artworks: list[ArtworkSpec]
    collectors: list[CollectorSpec]
    interactions: list[InteractionSpec]
    temperature: float = TEMPERATURE
    styles: tuple[Style, ...] = field(default=STYLES)

    def style_matrix(self) -> np.ndarray:
        """(n_artworks, K) latent item vectors."""
        return np.array([w.hidden_style for w in self.artworks], dtype=np.float64)

    def taste_matrix(self) -> np.ndarray:
        """(n_collectors, K) latent user vectors."""
        return np.array([c.hidden_taste for c in self.collectors], dtype=np.float64)

    def affinity(self) -> np.ndarray:
        """a_ui = taste_u . style_i for every collector and work: the oracle's scores."""
        return self.taste_matrix() @ self.style_matrix().T
