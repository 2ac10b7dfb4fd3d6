"""The K latent visual styles, and the colours (palettes, backgrounds) drawn from them."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np


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

# Background colour per style: (fixed hue or None for the style's own shifted hue,
# hue jitter +-, saturation range, value range). Confetti is drawn apart (white or black).
# fmt: off
BACKGROUNDS: dict[str, tuple[float | None, float, tuple[float, float], tuple[float, float]]] = {
    "Ember": (None, 10, (0.6, 0.9), (0.12, 0.28)),
    "Tide": (None, 15, (0.2, 0.5), (0.8, 0.95)),
    "Moss": (70, 15, (0.08, 0.2), (0.85, 0.95)),
    "Sierra": (40, 6, (0.15, 0.3), (0.85, 0.97)),
    "Lilac": (None, 30, (0.05, 0.18), (0.9, 1.0)),
    "Nocturne": (45, 8, (0.06, 0.16), (0.88, 0.96)),
    "Umber": (None, 8, (0.35, 0.6), (0.18, 0.35)),
}
# fmt: on


def _hsv(h_deg: float, s: float, v: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(
        (h_deg % 360.0) / 360.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)
    )
    return np.array([r, g, b], dtype=np.float64)


def _rgb8(colour: np.ndarray) -> tuple[int, int, int]:
    c = np.clip(np.round(np.asarray(colour) * 255.0), 0, 255).astype(int)
    return int(c[0]), int(c[1]), int(c[2])


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
    if style.name == "Confetti":
        if rng.random() < 0.7:
            return _hsv(0, 0, rng.uniform(0.95, 1.0))
        return _hsv(0, 0, rng.uniform(0.03, 0.1))
    hue, jitter, saturation, value = BACKGROUNDS.get(style.name, BACKGROUNDS["Umber"])
    if hue is None:
        hue = style.hue + hue_shift
    return _hsv(hue + rng.uniform(-jitter, jitter), rng.uniform(*saturation), rng.uniform(*value))


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
