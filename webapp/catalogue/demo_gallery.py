"""A procedural demo gallery: abstract paintings, artists, collectors and their history.

Everything is drawn with numpy + Pillow from one seed (nothing is downloaded), so the same
seed gives byte-identical images, the same titles and the same interactions. The model
behind it (latent styles, tastes, the softmax purchase rule) is documented in
docs/demo_gallery.md; the names of the constants below match the formulas there.

`generate_gallery` is pure (no Django, returns dataclasses); `demo_gallery_create` is the
service that writes one generated gallery into the database in a single transaction.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# --------------------------------------------------------------------------- constants

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


# --------------------------------------------------------------------------- styles


@dataclass(frozen=True)
class Style:
    """One latent visual style: palette, motif, composition and texture."""

    index: int
    name: str
    palette_name: str
    hue: float  # palette hue centre, degrees
    hue_spread: float  # +- degrees
    saturation: tuple[float, float]
    value: tuple[float, float]
    motif: str
    composition: str
    texture: str
    grain: float  # std of per-pixel luminance noise, in [0, 1] units
    colour_words: tuple[str, ...]


# fmt: off
STYLES: tuple[Style, ...] = (
    Style(0, "Ember", "glowing reds and oranges", 12, 18, (0.65, 1.0), (0.75, 1.0),
          "concentric circles", "centred", "smooth glow", 0.012,
          ("Vermilion", "Ember", "Coral", "Scarlet", "Cinnabar")),
    Style(1, "Tide", "sea blues and teals", 200, 22, (0.45, 0.9), (0.35, 0.95),
          "wavy bands", "horizontal bands", "fine grain", 0.03,
          ("Cobalt", "Tide", "Lagoon", "Cerulean", "Harbour")),
    Style(2, "Moss", "greens and olives", 95, 30, (0.3, 0.7), (0.3, 0.8),
          "nested squares", "grid", "canvas weave", 0.03,
          ("Moss", "Olive", "Fern", "Verdigris", "Sage")),
    Style(3, "Sierra", "ochres and sand", 32, 14, (0.35, 0.75), (0.6, 0.95),
          "triangles", "diagonal", "dry grain", 0.06,
          ("Ochre", "Sienna", "Sand", "Terracotta", "Amber")),
    Style(4, "Lilac", "soft violets and pinks", 295, 30, (0.3, 0.65), (0.7, 1.0),
          "soft blobs", "scattered", "misty", 0.004,
          ("Lilac", "Mauve", "Heather", "Orchid", "Lavender")),
    Style(5, "Nocturne", "ink on cream paper", 225, 25, (0.0, 0.25), (0.05, 0.35),
          "ink lines", "cross-hatched", "paper fibre", 0.03,
          ("Ink", "Graphite", "Charcoal", "Slate", "Sepia")),
    Style(6, "Confetti", "saturated primaries", 0, 180, (0.85, 1.0), (0.9, 1.0),
          "confetti dots", "scattered all-over", "flat", 0.0,
          ("Primary", "Neon", "Candy", "Signal", "Carnival")),
    Style(7, "Umber", "earth browns", 25, 15, (0.3, 0.65), (0.25, 0.7),
          "brush strokes", "all-over flow", "impasto", 0.04,
          ("Umber", "Bistre", "Walnut", "Earth", "Peat")),
)
# fmt: on
N_STYLES = len(STYLES)
CONFETTI_HUES = (0, 48, 130, 195, 280, 325)


# --------------------------------------------------------------------------- data classes


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


# --------------------------------------------------------------------------- names

# fmt: off
FIRST_NAMES = (
    "Ada", "Bruno", "Clara", "Dario", "Elif", "Farah", "Goran", "Hana", "Ines", "Jonas",
    "Kaia", "Luca", "Mira", "Nils", "Odile", "Pavel", "Quinn", "Rosa", "Sami", "Tove",
    "Ugo", "Vera", "Wim", "Xenia", "Yusuf", "Zofia", "Anouk", "Basil", "Cleo", "Emil",
)
SURNAMES = (
    "Almeida", "Berger", "Castell", "Duval", "Eriksen", "Ferrante", "Grau", "Halloran",
    "Ibarra", "Janssen", "Kovac", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov",
    "Quaresma", "Rossi", "Sato", "Thorne", "Urquhart", "Valdes", "Weiss", "Yilmaz", "Zeller",
    "Abbott", "Brandt", "Conti", "Dahl", "Esposito",
)
TITLE_ADJECTIVES = (
    "Quiet", "Late", "Distant", "Folded", "Open", "Broken", "Still", "Slow", "Hidden",
    "Bright", "Low", "Small", "Northern", "Lost", "Warm", "Restless", "Second", "Pale",
)
TITLE_NOUNS = (
    "Harbour", "Garden", "Field", "Window", "Orbit", "Tide", "Signal", "Meadow", "Ridge",
    "Echo", "Threshold", "Season", "Horizon", "Room", "Passage", "Weather", "Island", "Choir",
)
# fmt: on


def _unique_names(rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct 'First Surname' names (a roman numeral is added past 900)."""
    pairs = [(f, s) for f in FIRST_NAMES for s in SURNAMES]
    order = rng.permutation(len(pairs))
    names = []
    for n in range(count):
        first, last = pairs[order[n % len(pairs)]]
        suffix = "" if n < len(pairs) else f" {'I' * (n // len(pairs) + 1)}"
        names.append(f"{first} {last}{suffix}")
    return names


def _title(rng: np.random.Generator, style: Style) -> str:
    adjective = TITLE_ADJECTIVES[rng.integers(len(TITLE_ADJECTIVES))]
    noun = TITLE_NOUNS[rng.integers(len(TITLE_NOUNS))]
    colour = style.colour_words[rng.integers(len(style.colour_words))]
    number = int(rng.integers(1, 20))
    pattern = int(rng.integers(5))
    if pattern == 0:
        return f"{adjective} {noun}"
    if pattern == 1:
        return f"{noun} in {colour}"
    if pattern == 2:
        return f"Study for {adjective} {noun} No. {number}"
    if pattern == 3:
        return f"Untitled ({colour} {number})"
    return f"{colour} {noun}"


# --------------------------------------------------------------------------- colours


def _hsv(h_deg: float, s: float, v: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(
        (h_deg % 360.0) / 360.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)
    )
    return np.array([r, g, b], dtype=np.float64)


def _palette(rng: np.random.Generator, style: Style, hue_shift: float, n: int) -> np.ndarray:
    """n colours (n, 3) in [0, 1] from a style's hue range."""
    colours = []
    for _ in range(n):
        if style.name == "Confetti":
            hue = CONFETTI_HUES[rng.integers(len(CONFETTI_HUES))] + rng.uniform(-8, 8)
        else:
            hue = style.hue + hue_shift + rng.uniform(-style.hue_spread, style.hue_spread)
        colours.append(_hsv(hue, rng.uniform(*style.saturation), rng.uniform(*style.value)))
    return np.array(colours)


def _background(rng: np.random.Generator, style: Style, hue_shift: float) -> np.ndarray:
    h = style.hue + hue_shift
    if style.name == "Ember":
        return _hsv(h + rng.uniform(-10, 10), rng.uniform(0.6, 0.9), rng.uniform(0.12, 0.28))
    if style.name == "Tide":
        return _hsv(h + rng.uniform(-15, 15), rng.uniform(0.2, 0.5), rng.uniform(0.8, 0.95))
    if style.name == "Moss":
        return _hsv(70 + rng.uniform(-15, 15), rng.uniform(0.08, 0.2), rng.uniform(0.85, 0.95))
    if style.name == "Sierra":
        return _hsv(40 + rng.uniform(-6, 6), rng.uniform(0.15, 0.3), rng.uniform(0.85, 0.97))
    if style.name == "Lilac":
        return _hsv(h + rng.uniform(-30, 30), rng.uniform(0.05, 0.18), rng.uniform(0.9, 1.0))
    if style.name == "Nocturne":
        return _hsv(45 + rng.uniform(-8, 8), rng.uniform(0.06, 0.16), rng.uniform(0.88, 0.96))
    if style.name == "Confetti":
        if rng.random() < 0.7:
            return _hsv(0, 0, rng.uniform(0.95, 1.0))
        return _hsv(0, 0, rng.uniform(0.03, 0.1))
    return _hsv(h + rng.uniform(-8, 8), rng.uniform(0.35, 0.6), rng.uniform(0.18, 0.35))


class _Colours:
    """Picks element colours: mostly the main palette, sometimes the secondary style's."""

    def __init__(self, rng, main: np.ndarray, accent: np.ndarray, accent_p: float):
        self.rng, self.main, self.accent, self.accent_p = rng, main, accent, accent_p

    def pick(self, jitter: float = 0.0) -> tuple[int, int, int]:
        source = self.accent if self.rng.random() < self.accent_p else self.main
        colour = source[self.rng.integers(len(source))]
        if jitter:
            colour = colour * (1.0 + self.rng.normal(0.0, jitter))
        return _rgb8(colour)


def _rgb8(colour: np.ndarray) -> tuple[int, int, int]:
    c = np.clip(np.round(np.asarray(colour) * 255.0), 0, 255).astype(int)
    return int(c[0]), int(c[1]), int(c[2])


# --------------------------------------------------------------------------- motifs
# Each draws on a PIL image of side s (twice the output size, for anti-aliasing).


def _rotated_polygon(cx, cy, radius, n_sides, angle):
    return [
        (
            cx + radius * math.cos(angle + 2 * math.pi * k / n_sides),
            cy + radius * math.sin(angle + 2 * math.pi * k / n_sides),
        )
        for k in range(n_sides)
    ]


def _draw_circles(draw, s, rng, colours, density):
    cx, cy = s * (0.5 + rng.normal(0, 0.05, 2))
    radius = s * rng.uniform(0.3, 0.44)
    rings = int(rng.integers(3, 8))
    for j in range(rings):
        r = radius * (1 - j / rings) * rng.uniform(0.92, 1.05)
        ox, oy = rng.normal(0, 0.012 * s, 2)
        draw.ellipse([cx + ox - r, cy + oy - r, cx + ox + r, cy + oy + r], fill=colours.pick())
    for _ in range(int(rng.integers(0, 4 * density + 1))):
        r = s * rng.uniform(0.02, 0.07)
        x, y = rng.uniform(0.08, 0.92, 2) * s
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colours.pick())


def _draw_bands(draw, s, rng, colours, density):
    n = int(rng.integers(4, 9))
    levels = np.sort(rng.uniform(0.1, 0.95, n)) * s
    xs = np.linspace(0, s, 48)
    draw.rectangle([0, 0, s, s], fill=colours.pick())
    for level in levels:
        amplitude = s * rng.uniform(0.005, 0.045)
        freq = rng.uniform(0.5, 3.0)
        phase = rng.uniform(0, 2 * math.pi)
        ys = level + amplitude * np.sin(2 * math.pi * freq * xs / s + phase)
        top = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
        draw.polygon(top + [(s, s), (0, s)], fill=colours.pick())
    for _ in range(int(rng.integers(0, 3))):
        y = rng.uniform(0.1, 0.9) * s
        draw.line([(0, y), (s, y)], fill=colours.pick(), width=max(1, int(s * 0.006)))


def _draw_squares(draw, s, rng, colours, density):
    rows = int(rng.integers(2, 5))
    cols = int(rng.integers(2, 5)) if rng.random() < 0.5 else rows
    gap = s * rng.uniform(0.01, 0.04)
    cw, ch = (s - gap) / cols, (s - gap) / rows
    for r in range(rows):
        for c in range(cols):
            x0, y0 = gap + c * cw, gap + r * ch
            x1, y1 = x0 + cw - gap, y0 + ch - gap
            draw.rectangle([x0, y0, x1, y1], fill=colours.pick())
            inset = rng.uniform(0.15, 0.3)
            w, h = x1 - x0, y1 - y0
            drop = rng.uniform(0.0, 0.12) * h
            draw.rectangle(
                [
                    x0 + inset * w,
                    y0 + inset * h + drop,
                    x1 - inset * w,
                    y1 - inset * h + drop * 0.5,
                ],
                fill=colours.pick(),
            )
            if rng.random() < 0.4:
                inner = inset + rng.uniform(0.1, 0.15)
                draw.rectangle(
                    [
                        x0 + inner * w,
                        y0 + inner * h + drop,
                        x1 - inner * w,
                        y1 - inner * h + drop * 0.5,
                    ],
                    fill=colours.pick(),
                )


def _draw_triangles(draw, s, rng, colours, density):
    anti = rng.random() < 0.5
    corner = [(s, 0), (0, s), (s, s)] if not anti else [(0, 0), (s, s), (0, s)]
    draw.polygon(corner, fill=colours.pick())
    for _ in range(int(rng.integers(10, 22) * density)):
        t = rng.uniform(0.05, 0.95)
        offset = rng.normal(0, 0.12)
        x = (t + offset) * s
        y = ((1 - t) if anti else t) * s + rng.normal(0, 0.05) * s
        r = s * rng.uniform(0.06, 0.2)
        draw.polygon(_rotated_polygon(x, y, r, 3, rng.uniform(0, 2 * math.pi)), fill=colours.pick())


def _draw_lines(draw, s, rng, colours, density):
    width = max(1, int(round(s * 0.006)))
    for _ in range(int(rng.integers(3, 7) * density)):
        angle = rng.uniform(0, math.pi)
        dx, dy = math.cos(angle), math.sin(angle)
        nx, ny = -dy, dx
        cx, cy = rng.uniform(0.15, 0.85, 2) * s
        length = s * rng.uniform(0.2, 0.55)
        spacing = s * rng.uniform(0.012, 0.025)
        colour = colours.pick()
        for k in range(int(rng.integers(8, 22))):
            off = (k - 10) * spacing
            half = length / 2 * rng.uniform(0.7, 1.0)
            x0, y0 = cx + off * nx - half * dx, cy + off * ny - half * dy
            draw.line(
                [(x0, y0), (x0 + 2 * half * dx, y0 + 2 * half * dy)], fill=colour, width=width
            )
    for _ in range(int(rng.integers(2, 5))):
        points = [tuple(rng.uniform(0, 1, 2) * s)]
        heading = rng.uniform(0, 2 * math.pi)
        for _ in range(12):
            heading += rng.normal(0, 0.5)
            step = s * 0.06
            x, y = points[-1]
            points.append((x + step * math.cos(heading), y + step * math.sin(heading)))
        draw.line(points, fill=colours.pick(), width=width * 2, joint="curve")
    for _ in range(int(rng.integers(0, 3))):
        r = s * rng.uniform(0.01, 0.03)
        x, y = rng.uniform(0.1, 0.9, 2) * s
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colours.pick())


def _draw_confetti(draw, s, rng, colours, density):
    for _ in range(int(rng.integers(60, 150) * density)):
        x, y = rng.uniform(0, 1, 2) * s
        r = s * rng.uniform(0.012, 0.045)
        kind = rng.random()
        colour = colours.pick()
        if kind < 0.55:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        elif kind < 0.8:
            draw.rectangle([x - r, y - r, x + r, y + r], fill=colour)
        else:
            angle = rng.uniform(0, math.pi)
            draw.line(
                [
                    (x - 2 * r * math.cos(angle), y - 2 * r * math.sin(angle)),
                    (x + 2 * r * math.cos(angle), y + 2 * r * math.sin(angle)),
                ],
                fill=colour,
                width=max(1, int(r * 0.7)),
            )


def _draw_strokes(draw, s, rng, colours, density):
    base = rng.uniform(0, math.pi)
    fx, fy, phase = rng.uniform(1, 3), rng.uniform(1, 3), rng.uniform(0, 2 * math.pi)
    for _ in range(int(rng.integers(140, 240) * density)):
        x, y = rng.uniform(-0.05, 1.05, 2) * s
        angle = (
            base
            + 0.9 * math.sin(fx * x / s * 2 * math.pi + phase)
            + 0.6 * math.cos(fy * y / s * 2 * math.pi)
            + rng.normal(0, 0.15)
        )
        length = s * rng.uniform(0.1, 0.25)
        width = s * rng.uniform(0.035, 0.07)
        dx, dy = math.cos(angle), math.sin(angle)
        nx, ny = -dy, dx
        bristles = int(rng.integers(5, 9))
        base_colour = colours.pick()
        for b in range(bristles):
            off = (b / (bristles - 1) - 0.5) * width
            shade = np.array(base_colour) / 255.0 * (1 + rng.normal(0, 0.1))
            half = length / 2 * rng.uniform(0.75, 1.0)
            x0, y0 = x + off * nx - half * dx, y + off * ny - half * dy
            draw.line(
                [(x0, y0), (x0 + 2 * half * dx, y0 + 2 * half * dy)],
                fill=_rgb8(shade),
                width=max(1, int(width / bristles * 1.6)),
            )


MOTIF_DRAWERS = {
    "concentric circles": _draw_circles,
    "wavy bands": _draw_bands,
    "nested squares": _draw_squares,
    "triangles": _draw_triangles,
    "ink lines": _draw_lines,
    "confetti dots": _draw_confetti,
    "brush strokes": _draw_strokes,
}


def _blobs(rng, size, background, colours, density) -> np.ndarray:
    """Soft Gaussian colour clouds composited over the background, in numpy."""
    grid = (np.arange(size, dtype=np.float64) + 0.5) / size
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    canvas = np.broadcast_to(background, (size, size, 3)).copy()
    for _ in range(int(rng.integers(5, 12) * density)):
        cx, cy = rng.uniform(0.05, 0.95, 2)
        sx, sy = rng.uniform(0.08, 0.22, 2)
        alpha = rng.uniform(0.5, 0.9) * np.exp(
            -((xx - cx) ** 2 / (2 * sx**2) + (yy - cy) ** 2 / (2 * sy**2))
        )
        colour = np.array(colours.pick(), dtype=np.float64) / 255.0
        canvas = canvas * (1 - alpha[..., None]) + colour * alpha[..., None]
    return canvas


# --------------------------------------------------------------------------- rendering


def render_artwork(
    *,
    rng: np.random.Generator,
    style_vector: np.ndarray,
    main_style: int,
    hue_shift: float = 0.0,
    density: float = 1.0,
    grain_scale: float = 1.0,
    size: int = 128,
) -> np.ndarray:
    """One painting (size, size, 3) uint8 in the work's main style.

    The work's second-strongest latent style lends accent colours, with probability
    min(0.5, 1.5 * its weight), so the image follows the whole style vector a little.
    """
    style = STYLES[main_style]
    weights = np.array(style_vector, dtype=np.float64).copy()
    weights[main_style] = -1.0
    secondary = int(np.argmax(weights))
    accent_p = min(0.5, 1.5 * max(0.0, float(weights[secondary])))
    colours = _Colours(
        rng,
        _palette(rng, style, hue_shift, 5),
        _palette(rng, STYLES[secondary], 0.0, 3),
        accent_p,
    )
    background = _background(rng, style, hue_shift)

    if style.motif == "soft blobs":
        canvas = _blobs(rng, size, background, colours, density)
    else:
        big = 2 * size
        image = Image.new("RGB", (big, big), _rgb8(background))
        MOTIF_DRAWERS[style.motif](ImageDraw.Draw(image), big, rng, colours, density)
        image = image.reduce(2)
        if style.texture == "misty":
            image = image.filter(ImageFilter.GaussianBlur(size / 40))
        canvas = np.asarray(image, dtype=np.float64) / 255.0

    grid = (np.arange(size, dtype=np.float64) + 0.5) / size
    if style.texture == "smooth glow":  # dark vignette around the glowing centre
        yy, xx = np.meshgrid(grid, grid, indexing="ij")
        radius = np.sqrt((xx - 0.5) ** 2 + (yy - 0.5) ** 2)
        canvas = canvas * (1.0 - 0.55 * np.clip(radius - 0.25, 0, None) / 0.46)[..., None]
    elif style.texture == "canvas weave":  # periodic linen weave
        period = max(3.0, size / 40)
        idx = np.arange(size, dtype=np.float64)
        weave = np.sin(2 * math.pi * idx / period)
        canvas = canvas * (1.0 + 0.05 * np.outer(weave, weave))[..., None]
    elif style.texture == "paper fibre":  # low-frequency blotches of the paper
        coarse = rng.normal(0.0, 1.0, (max(2, size // 10), max(2, size // 10)))
        coarse_img = Image.fromarray(((np.clip(coarse, -3, 3) + 3) / 6 * 255).astype(np.uint8))
        fibre = np.asarray(coarse_img.resize((size, size), Image.Resampling.BICUBIC))
        canvas = canvas * (1.0 + 0.06 * (fibre[..., None] / 255.0 - 0.5))
    elif style.texture == "dry grain":  # horizontal dry-brush streaks
        streaks = rng.normal(0.0, 1.0, (size, 1)) * 0.04
        canvas = canvas * (1.0 + streaks[..., None])

    grain = style.grain * grain_scale
    if grain > 0:
        noise = rng.normal(0.0, grain, (size, size, 1)) + rng.normal(
            0.0, grain / 3, (size, size, 3)
        )
        canvas = canvas + noise
    return np.clip(np.round(canvas * 255.0), 0, 255).astype(np.uint8)


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


# --------------------------------------------------------------------------- generation


def _timestamp(seconds: int) -> datetime:
    return HISTORY_START + timedelta(seconds=int(seconds))


def _purchase_targets(rng, n_collectors: int, n_warm: int) -> np.ndarray:
    """How many works each collector will try to buy: MIN..MAX, within the sellable stock.

    budget B = floor(SELL_FRACTION * n_warm); floor m = min(MIN_PURCHASES, B // M); the
    rest of the budget is shared by Gamma(0.8) weights (some collectors buy a lot).
    """
    budget = int(SELL_FRACTION * n_warm)
    floor = min(MIN_PURCHASES, budget // max(1, n_collectors))
    targets = np.full(n_collectors, floor, dtype=np.int64)
    extra_budget = min(budget - floor * n_collectors, (MAX_PURCHASES - floor) * n_collectors)
    weights = rng.gamma(0.8, 1.0, n_collectors)
    for _ in range(max(0, extra_budget)):
        open_ = targets < MAX_PURCHASES
        if not open_.any():
            break
        w = np.where(open_, weights, 0.0)
        targets[int(rng.choice(n_collectors, p=w / w.sum()))] += 1
    return targets


def _gumbel_top(rng, logits: np.ndarray, k: int) -> np.ndarray:
    """k indices sampled without replacement with P proportional to exp(logits)."""
    keys = logits + rng.gumbel(size=logits.shape)
    if k >= len(keys):
        return np.argsort(-keys, kind="stable")
    top = np.argpartition(-keys, k - 1)[:k]
    return top[np.argsort(-keys[top], kind="stable")]


def generate_gallery(
    n_artworks: int = 600,
    n_collectors: int = 150,
    seed: int = 7,
    image_size: int = 128,
    progress: ProgressCallback | None = None,
) -> Gallery:
    """Generate a whole gallery in memory (no database): deterministic for a seed."""
    if n_artworks < 10:
        raise ValueError("n_artworks must be at least 10")
    if n_collectors < 1:
        raise ValueError("n_collectors must be at least 1")
    if not 16 <= image_size <= 1024:
        raise ValueError("image_size must be between 16 and 1024")
    K = N_STYLES
    structure = np.random.default_rng([seed, 1])
    taste_rng = np.random.default_rng([seed, 2])
    sim_rng = np.random.default_rng([seed, 3])

    # Artists: each keeps one main style, round-robin over a shuffled style order.
    n_artists = max(min(K, n_artworks), round(n_artworks / 12))
    style_order = structure.permutation(K)
    artist_names = _unique_names(structure, n_artists)
    artists = []
    for a in range(n_artists):
        main = int(style_order[a % K])
        vector = (1 - ARTIST_DRIFT) * np.eye(K)[main] + ARTIST_DRIFT * structure.dirichlet(
            np.ones(K)
        )
        artists.append(
            ArtistSpec(
                index=a,
                external_id=f"demo-a{a + 1:04d}",
                name=artist_names[a],
                main_style=main,
                hidden_style=[float(x) for x in vector],
                medium=MEDIA[int(structure.integers(len(MEDIA)))],
                hue_shift=float(structure.uniform(-10, 10)),
                density=float(structure.uniform(0.75, 1.3)),
            )
        )

    # Works per artist: one each, the rest by Dirichlet(2) shares.
    counts = 1 + structure.multinomial(
        n_artworks - n_artists, structure.dirichlet(np.full(n_artists, 2.0))
    )
    work_artist = np.repeat(np.arange(n_artists), counts)

    # Listing times (integer seconds since HISTORY_START).
    horizon = HISTORY_DAYS * DAY
    t_end = int(INTERACTIONS_END_FRACTION * horizon)
    n_cold = max(1, round(COLD_START_FRACTION * n_artworks))
    cold = np.zeros(n_artworks, dtype=bool)
    cold[structure.choice(n_artworks, n_cold, replace=False)] = True
    opening = structure.random(n_artworks) < OPENING_STOCK_FRACTION
    listed = np.where(
        opening,
        structure.integers(0, 14 * DAY, n_artworks),
        structure.integers(0, t_end - 7 * DAY, n_artworks),
    )
    listed = np.where(cold, structure.integers(t_end + DAY, horizon, n_artworks), listed)
    order = np.lexsort((np.arange(n_artworks), listed))  # ids follow listing order
    work_artist, listed, cold = work_artist[order], listed[order], cold[order]

    artworks: list[ArtworkSpec] = []
    for i in range(n_artworks):
        artist = artists[int(work_artist[i])]
        mix = structure.uniform(0, WORK_MIX_MAX)
        vector = (1 - mix) * np.array(artist.hidden_style) + mix * structure.dirichlet(
            np.full(K, 0.5)
        )
        style = STYLES[artist.main_style]
        medium = (
            artist.medium
            if structure.random() < 0.7
            else MEDIA[int(structure.integers(len(MEDIA)))]
        )
        small = medium in ("watercolour", "ink")
        width = float(5 * structure.integers(4, 14 if small else 30))
        height = float(5 * structure.integers(4, 14 if small else 30))
        if style.composition == "horizontal bands":
            width, height = max(width, height), min(width, height)
        price = (
            150
            * MEDIUM_PRICE[medium]
            * ((width * height) / 900) ** 0.6
            * math.exp(structure.normal(0, 0.35))
        )
        price = max(80.0, round(price / 10) * 10)
        listed_at = _timestamp(int(listed[i]))
        secondary = [k for k in np.argsort(-vector) if k != artist.main_style][0]
        tags = [style.name, style.motif, style.palette_name, style.composition, style.texture]
        if vector[secondary] >= 0.12:
            tags.append(f"hint of {STYLES[secondary].name}")
        artworks.append(
            ArtworkSpec(
                index=i,
                external_id=f"demo-w{i + 1:05d}",
                title=_title(structure, style),
                artist_index=artist.index,
                main_style=artist.main_style,
                hidden_style=[float(x) for x in vector],
                year=listed_at.year - int(structure.integers(0, 3)),
                medium=medium,
                style_tags=tags,
                width_cm=width,
                height_cm=height,
                price=Decimal(f"{price:.2f}"),
                listed_at=listed_at,
                is_cold_start=bool(cold[i]),
            )
        )

    # Images: work i's pixels depend only on (seed, i) and its style.
    for work in artworks:
        artist = artists[work.artist_index]
        image_rng = np.random.default_rng([seed, 4, work.index])
        pixels = render_artwork(
            rng=image_rng,
            style_vector=np.array(work.hidden_style),
            main_style=work.main_style,
            hue_shift=artist.hue_shift,
            density=artist.density,
            grain_scale=float(0.75 + 0.5 * (artist.index % 3) / 2),
            size=image_size,
        )
        work.image = encode_png(pixels)
        if progress:
            progress("drawing", 1)

    # Collectors: taste_u = lambda * Dirichlet(alpha) over the K styles.
    collector_names = _unique_names(taste_rng, n_collectors)
    early = taste_rng.random(n_collectors) < EARLY_COLLECTOR_FRACTION
    joined = np.where(
        early,
        taste_rng.integers(0, 30 * DAY, n_collectors),
        taste_rng.integers(0, int(0.8 * t_end), n_collectors),
    )
    tastes = TASTE_SCALE * taste_rng.dirichlet(np.full(K, TASTE_CONCENTRATION), n_collectors)
    collectors = [
        CollectorSpec(
            index=u,
            external_id=f"demo-c{u + 1:04d}",
            name=collector_names[u],
            joined_at=_timestamp(int(joined[u])),
            hidden_taste=[float(x) for x in tastes[u]],
        )
        for u in range(n_collectors)
    ]

    interactions = _simulate(sim_rng, artworks, tastes, joined, listed, cold, t_end)
    if progress:
        progress("simulating", 1)
    return Gallery(
        seed=seed,
        image_size=image_size,
        artists=artists,
        artworks=artworks,
        collectors=collectors,
        interactions=interactions,
    )


def _simulate(rng, artworks, tastes, joined, listed, cold, t_end) -> list[InteractionSpec]:
    """Visits in time order: views, likes, and (on purchase visits) one softmax purchase."""
    n_collectors, n_artworks = len(tastes), len(artworks)
    styles = np.array([w.hidden_style for w in artworks])
    affinity = tastes @ styles.T  # a_ui = taste_u . style_i
    like_threshold = affinity.mean(axis=1) + LIKE_MARGIN  # c_u
    n_warm = int((~cold).sum())
    targets = _purchase_targets(rng, n_collectors, n_warm)

    visits = []  # (time, collector, is_purchase_visit)
    for u in range(n_collectors):
        n_browse = 1 + int(rng.poisson(MEAN_BROWSE_VISITS))
        for buy, n in ((True, int(targets[u])), (False, n_browse)):
            for t in rng.integers(int(joined[u]), t_end - 3600, n):
                visits.append((int(t), u, buy))
    visits.sort()

    sold = np.zeros(n_artworks, dtype=bool)
    liked: set[tuple[int, int]] = set()
    seen: set[tuple[int, int, str, int]] = set()
    events: list[tuple[int, int, int, str]] = []  # (time, collector, artwork, kind)

    def emit(t, u, i, kind):
        key = (u, i, kind, t)
        if key not in seen:
            seen.add(key)
            events.append((t, u, i, kind))

    for t, u, buy in visits:
        on_wall = np.flatnonzero(listed <= t)  # cold works are listed after t_end
        if len(on_wall) == 0:
            continue
        n_views = min(len(on_wall), 3 + int(rng.poisson(MEAN_EXTRA_VIEWS)))
        viewed = on_wall[_gumbel_top(rng, affinity[u, on_wall] / VIEW_TEMPERATURE, n_views)]
        clock = t
        for i in viewed:
            i = int(i)
            emit(clock, u, i, "view")
            p_like = 1 / (1 + math.exp(-(affinity[u, i] - like_threshold[u]) / LIKE_TEMPERATURE))
            if (u, i) not in liked and rng.random() < p_like:
                liked.add((u, i))
                emit(clock + 30, u, i, "like")
            clock += 90
        if buy:
            available = on_wall[~sold[on_wall]]
            if len(available) == 0:
                continue
            choice = int(available[_gumbel_top(rng, affinity[u, available] / TEMPERATURE, 1)[0]])
            if choice not in {int(i) for i in viewed}:
                emit(clock, u, choice, "view")
                clock += 90
            emit(clock, u, choice, "purchase")
            sold[choice] = True
            artworks[choice].is_sold = True

    events.sort()
    return [InteractionSpec(u, i, kind, _timestamp(t)) for t, u, i, kind in events]


def contact_sheet(gallery: Gallery, *, count: int = 24, columns: int = 6) -> Image.Image:
    """A grid of `count` works, taking works of each style in turn (for a quick look)."""
    by_style: dict[int, list[ArtworkSpec]] = {}
    for work in gallery.artworks:
        by_style.setdefault(work.main_style, []).append(work)
    chosen: list[ArtworkSpec] = []
    depth = 0
    while len(chosen) < min(count, len(gallery.artworks)):
        for k in sorted(by_style):
            if depth < len(by_style[k]) and len(chosen) < count:
                chosen.append(by_style[k][depth])
        depth += 1
    chosen.sort(key=lambda w: (w.main_style, w.index))
    size, pad = gallery.image_size, 4
    rows = math.ceil(len(chosen) / columns)
    sheet = Image.new("RGB", (columns * (size + pad) + pad, rows * (size + pad) + pad), "white")
    for n, work in enumerate(chosen):
        tile = Image.open(io.BytesIO(work.image)).convert("RGB")
        sheet.paste(tile, (pad + (n % columns) * (size + pad), pad + (n // columns) * (size + pad)))
    return sheet


# --------------------------------------------------------------------------- service


@dataclass
class DemoGalleryResult:
    artists: int
    artworks: int
    collectors: int
    interactions: dict[str, int]
    cold_start: int
    sold: int


def demo_gallery_steps(n_artworks: int) -> int:
    """Progress units demo_gallery_create reports: draw + store each work, simulate, write."""
    return 2 * n_artworks + 2


def demo_gallery_create(
    *,
    n_artworks: int = 600,
    n_collectors: int = 150,
    seed: int = 7,
    image_size: int = 128,
    progress: ProgressCallback | None = None,
) -> DemoGalleryResult:
    """Generate a gallery and write it in one transaction; image files are removed on failure.

    Raises ValueError when demo rows (the demo-* external ids) are already present.
    """
    # Django is imported here so that the generator above stays importable without it.
    from django.core.files.storage import default_storage
    from django.db import transaction

    from webapp.catalogue.models import Artist, Artwork, Collector, Interaction
    from webapp.catalogue.services import artwork_image_save

    gallery = generate_gallery(n_artworks, n_collectors, seed, image_size, progress=progress)
    saved_files: list[str] = []
    try:
        with transaction.atomic():
            if (
                Artist.objects.filter(external_id__startswith="demo-a").exists()
                or Artwork.objects.filter(external_id__startswith="demo-w").exists()
                or Collector.objects.filter(external_id__startswith="demo-c").exists()
            ):
                raise ValueError("a demo gallery is already in the database")
            artists = Artist.objects.bulk_create(
                [
                    Artist(name=a.name, external_id=a.external_id, hidden_style=a.hidden_style)
                    for a in gallery.artists
                ]
            )
            artworks = Artwork.objects.bulk_create(
                [
                    Artwork(
                        external_id=w.external_id,
                        title=w.title,
                        artist=artists[w.artist_index],
                        year=w.year,
                        medium=w.medium,
                        style_tags=w.style_tags,
                        width_cm=w.width_cm,
                        height_cm=w.height_cm,
                        price=w.price,
                        listed_at=w.listed_at,
                        is_sold=w.is_sold,
                        hidden_style=w.hidden_style,
                    )
                    for w in gallery.artworks
                ]
            )
            for spec, artwork in zip(gallery.artworks, artworks, strict=True):
                artwork_image_save(artwork=artwork, data=spec.image, extension=spec.image_extension)
                saved_files.append(artwork.image.name)
                if progress:
                    progress("saving", 1)
            collectors = Collector.objects.bulk_create(
                [
                    Collector(
                        external_id=c.external_id,
                        name=c.name,
                        joined_at=c.joined_at,
                        hidden_taste=c.hidden_taste,
                    )
                    for c in gallery.collectors
                ]
            )
            Interaction.objects.bulk_create(
                [
                    Interaction(
                        collector=collectors[e.collector_index],
                        artwork=artworks[e.artwork_index],
                        kind=e.kind,
                        timestamp=e.timestamp,
                    )
                    for e in gallery.interactions
                ],
                batch_size=2000,
            )
            if progress:
                progress("interactions", 1)
    except BaseException:
        for name in saved_files:
            default_storage.delete(name)
        raise

    kinds: dict[str, int] = {}
    for e in gallery.interactions:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    return DemoGalleryResult(
        artists=len(gallery.artists),
        artworks=len(gallery.artworks),
        collectors=len(gallery.collectors),
        interactions=kinds,
        cold_start=sum(w.is_cold_start for w in gallery.artworks),
        sold=sum(w.is_sold for w in gallery.artworks),
    )
