"""A procedural demo gallery: abstract paintings, artists, collectors and their history.

Everything is drawn with numpy + Pillow from one seed (nothing is downloaded), so the same
seed gives byte-identical images, the same titles and the same interactions. The model
behind it (latent styles, tastes, the softmax purchase rule) is documented in
docs/demo_gallery.md; the names of the constants in `model` match the formulas there.

`generate_gallery` is pure (no Django, returns dataclasses); `demo_gallery_create` is the
service that writes one generated gallery into the database in a single transaction.

Modules: `styles` (the K latent styles, palettes, colours), `model` (constants and the
generated records), `names` (names and titles), `painting` (image rendering, the contact
sheet), `simulation` (artists, works, collectors, the event simulation), `writing` (the
database service).
"""

from .model import (
    ARTIST_DRIFT,
    COLD_START_FRACTION,
    DAY,
    EARLY_COLLECTOR_FRACTION,
    HISTORY_DAYS,
    HISTORY_START,
    INTERACTIONS_END_FRACTION,
    LIKE_MARGIN,
    LIKE_TEMPERATURE,
    MAX_PURCHASES,
    MEAN_BROWSE_VISITS,
    MEAN_EXTRA_VIEWS,
    MEDIA,
    MEDIUM_PRICE,
    MIN_PURCHASES,
    OPENING_STOCK_FRACTION,
    SELL_FRACTION,
    TASTE_CONCENTRATION,
    TASTE_SCALE,
    TEMPERATURE,
    VIEW_TEMPERATURE,
    WORK_MIX_MAX,
    ArtistSpec,
    ArtworkSpec,
    CollectorSpec,
    Gallery,
    InteractionSpec,
    ProgressCallback,
)
from .names import FIRST_NAMES, SURNAMES, TITLE_ADJECTIVES, TITLE_NOUNS
from .painting import MOTIF_DRAWERS, contact_sheet, encode_png, render_artwork
from .simulation import generate_gallery
from .styles import CONFETTI_HUES, N_STYLES, STYLES, Style
from .writing import DemoGalleryResult, demo_gallery_create, demo_gallery_steps

__all__ = [
    "ARTIST_DRIFT",
    "COLD_START_FRACTION",
    "CONFETTI_HUES",
    "DAY",
    "EARLY_COLLECTOR_FRACTION",
    "FIRST_NAMES",
    "HISTORY_DAYS",
    "HISTORY_START",
    "INTERACTIONS_END_FRACTION",
    "LIKE_MARGIN",
    "LIKE_TEMPERATURE",
    "MAX_PURCHASES",
    "MEAN_BROWSE_VISITS",
    "MEAN_EXTRA_VIEWS",
    "MEDIA",
    "MEDIUM_PRICE",
    "MIN_PURCHASES",
    "MOTIF_DRAWERS",
    "N_STYLES",
    "OPENING_STOCK_FRACTION",
    "SELL_FRACTION",
    "STYLES",
    "SURNAMES",
    "TASTE_CONCENTRATION",
    "TASTE_SCALE",
    "TEMPERATURE",
    "TITLE_ADJECTIVES",
    "TITLE_NOUNS",
    "VIEW_TEMPERATURE",
    "WORK_MIX_MAX",
    "ArtistSpec",
    "ArtworkSpec",
    "CollectorSpec",
    "DemoGalleryResult",
    "Gallery",
    "InteractionSpec",
    "ProgressCallback",
    "Style",
    "contact_sheet",
    "demo_gallery_create",
    "demo_gallery_steps",
    "encode_png",
    "generate_gallery",
    "render_artwork",
]
