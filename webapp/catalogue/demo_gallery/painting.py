"""Rendering the paintings: one motif per style, textures, grain, PNG encoding."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .styles import STYLES, _background, _Colours, _palette, _rgb8

if TYPE_CHECKING:
    from .model import ArtworkSpec, Gallery

# --------------------------------------------------------------------------- shapes


def _unit_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(yy, xx): pixel-centre coordinates in [0, 1] of a size x size image."""
    grid = (np.arange(size, dtype=np.float64) + 0.5) / size
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    return yy, xx


def _disc(draw, x, y, r, fill) -> None:
    draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


def _scatter_discs(draw, s, rng, colours, count, r_min, r_max, margin) -> None:
    """`count` discs of radius U(r_min, r_max) * s, centred at least `margin` * s inside."""
    for _ in range(count):
        r = s * rng.uniform(r_min, r_max)
        x, y = rng.uniform(margin, 1 - margin, 2) * s
        _disc(draw, x, y, r, colours.pick())


def _segment(x, y, dx, dy, off, half):
    """A line of half-length `half` along (dx, dy), centred `off` across it from (x, y)."""
    nx, ny = -dy, dx
    x0, y0 = x + off * nx - half * dx, y + off * ny - half * dy
    return [(x0, y0), (x0 + 2 * half * dx, y0 + 2 * half * dy)]


def _rotated_polygon(cx, cy, radius, n_sides, angle):
    return [
        (
            cx + radius * math.cos(angle + 2 * math.pi * k / n_sides),
            cy + radius * math.sin(angle + 2 * math.pi * k / n_sides),
        )
        for k in range(n_sides)
    ]


# --------------------------------------------------------------------------- motifs
# Each draws on a PIL image of side s (twice the output size, for anti-aliasing).


def _draw_circles(draw, s, rng, colours, density):
    cx, cy = s * (0.5 + rng.normal(0, 0.05, 2))
    radius = s * rng.uniform(0.3, 0.44)
    rings = int(rng.integers(3, 8))
    for j in range(rings):
        r = radius * (1 - j / rings) * rng.uniform(0.92, 1.05)
        ox, oy = rng.normal(0, 0.012 * s, 2)
        _disc(draw, cx + ox, cy + oy, r, colours.pick())
    _scatter_discs(draw, s, rng, colours, int(rng.integers(0, 4 * density + 1)), 0.02, 0.07, 0.08)


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


def _inset_box(x0, y0, x1, y1, inset, drop):
    """The box inset by `inset` of its size, dropped by `drop` (half as much at the bottom)."""
    w, h = x1 - x0, y1 - y0
    return [x0 + inset * w, y0 + inset * h + drop, x1 - inset * w, y1 - inset * h + drop * 0.5]


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
            drop = rng.uniform(0.0, 0.12) * (y1 - y0)
            draw.rectangle(_inset_box(x0, y0, x1, y1, inset, drop), fill=colours.pick())
            if rng.random() < 0.4:
                inner = inset + rng.uniform(0.1, 0.15)
                draw.rectangle(_inset_box(x0, y0, x1, y1, inner, drop), fill=colours.pick())


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
        cx, cy = rng.uniform(0.15, 0.85, 2) * s
        length = s * rng.uniform(0.2, 0.55)
        spacing = s * rng.uniform(0.012, 0.025)
        colour = colours.pick()
        for k in range(int(rng.integers(8, 22))):
            off = (k - 10) * spacing
            half = length / 2 * rng.uniform(0.7, 1.0)
            draw.line(_segment(cx, cy, dx, dy, off, half), fill=colour, width=width)
    for _ in range(int(rng.integers(2, 5))):
        points = [tuple(rng.uniform(0, 1, 2) * s)]
        heading = rng.uniform(0, 2 * math.pi)
        for _ in range(12):
            heading += rng.normal(0, 0.5)
            step = s * 0.06
            x, y = points[-1]
            points.append((x + step * math.cos(heading), y + step * math.sin(heading)))
        draw.line(points, fill=colours.pick(), width=width * 2, joint="curve")
    _scatter_discs(draw, s, rng, colours, int(rng.integers(0, 3)), 0.01, 0.03, 0.1)


def _draw_confetti(draw, s, rng, colours, density):
    for _ in range(int(rng.integers(60, 150) * density)):
        x, y = rng.uniform(0, 1, 2) * s
        r = s * rng.uniform(0.012, 0.045)
        kind = rng.random()
        colour = colours.pick()
        if kind < 0.55:
            _disc(draw, x, y, r, colour)
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
        bristles = int(rng.integers(5, 9))
        base_colour = colours.pick()
        for b in range(bristles):
            off = (b / (bristles - 1) - 0.5) * width
            shade = np.array(base_colour) / 255.0 * (1 + rng.normal(0, 0.1))
            half = length / 2 * rng.uniform(0.75, 1.0)
            draw.line(
                _segment(x, y, dx, dy, off, half),
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
    yy, xx = _unit_grid(size)
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

    if style.texture == "smooth glow":  # dark vignette around the glowing centre
        yy, xx = _unit_grid(size)
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
