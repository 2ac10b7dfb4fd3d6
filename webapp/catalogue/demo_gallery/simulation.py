"""Generating a gallery: artists, works, collectors and the event simulation (no Django)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

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
from .names import _pick, _title, _unique_names
from .painting import encode_png, render_artwork
from .styles import N_STYLES, STYLES


def _timestamp(seconds: int) -> datetime:
    return HISTORY_START + timedelta(seconds=int(seconds))


def _drift(rng, base: np.ndarray, weight: float, alpha: np.ndarray) -> np.ndarray:
    """(1 - weight) * base + weight * Dirichlet(alpha)."""
    return (1 - weight) * base + weight * rng.dirichlet(alpha)


def _early_or_late(rng, early: np.ndarray, early_end: int, late_end: int) -> np.ndarray:
    """Integer seconds: U[0, early_end) where `early`, else U[0, late_end)."""
    n = len(early)
    return np.where(early, rng.integers(0, early_end, n), rng.integers(0, late_end, n))


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


def _make_artists(structure, n_artists: int) -> list[ArtistSpec]:
    """Each artist keeps one main style, round-robin over a shuffled style order."""
    K = N_STYLES
    style_order = structure.permutation(K)
    artist_names = _unique_names(structure, n_artists)
    artists = []
    for a in range(n_artists):
        main = int(style_order[a % K])
        vector = _drift(structure, np.eye(K)[main], ARTIST_DRIFT, np.ones(K))
        artists.append(
            ArtistSpec(
                index=a,
                external_id=f"demo-a{a + 1:04d}",
                name=artist_names[a],
                main_style=main,
                hidden_style=[float(x) for x in vector],
                medium=_pick(structure, MEDIA),
                hue_shift=float(structure.uniform(-10, 10)),
                density=float(structure.uniform(0.75, 1.3)),
            )
        )
    return artists


def _make_artworks(structure, artists: list[ArtistSpec], n_artworks: int, t_end: int):
    """(artworks, listed seconds, cold-start mask), ids in listing order; no images yet."""
    K, n_artists = N_STYLES, len(artists)
    # Works per artist: one each, the rest by Dirichlet(2) shares.
    counts = 1 + structure.multinomial(
        n_artworks - n_artists, structure.dirichlet(np.full(n_artists, 2.0))
    )
    work_artist = np.repeat(np.arange(n_artists), counts)

    # Listing times (integer seconds since HISTORY_START).
    horizon = HISTORY_DAYS * DAY
    n_cold = max(1, round(COLD_START_FRACTION * n_artworks))
    cold = np.zeros(n_artworks, dtype=bool)
    cold[structure.choice(n_artworks, n_cold, replace=False)] = True
    opening = structure.random(n_artworks) < OPENING_STOCK_FRACTION
    listed = _early_or_late(structure, opening, 14 * DAY, t_end - 7 * DAY)
    listed = np.where(cold, structure.integers(t_end + DAY, horizon, n_artworks), listed)
    order = np.lexsort((np.arange(n_artworks), listed))  # ids follow listing order
    work_artist, listed, cold = work_artist[order], listed[order], cold[order]

    artworks: list[ArtworkSpec] = []
    for i in range(n_artworks):
        artist = artists[int(work_artist[i])]
        mix = structure.uniform(0, WORK_MIX_MAX)
        vector = _drift(structure, np.array(artist.hidden_style), mix, np.full(K, 0.5))
        style = STYLES[artist.main_style]
        medium = artist.medium if structure.random() < 0.7 else _pick(structure, MEDIA)
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
    return artworks, listed, cold


def _paint(artworks, artists, seed: int, image_size: int, progress) -> None:
    """Draw every work's image: work i's pixels depend only on (seed, i) and its style."""
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


def _make_collectors(taste_rng, n_collectors: int, t_end: int):
    """(collectors, tastes, joined seconds): taste_u = lambda * Dirichlet(alpha) over styles."""
    collector_names = _unique_names(taste_rng, n_collectors)
    early = taste_rng.random(n_collectors) < EARLY_COLLECTOR_FRACTION
    joined = _early_or_late(taste_rng, early, 30 * DAY, int(0.8 * t_end))
    tastes = TASTE_SCALE * taste_rng.dirichlet(np.full(N_STYLES, TASTE_CONCENTRATION), n_collectors)
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
    return collectors, tastes, joined


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
    structure = np.random.default_rng([seed, 1])
    taste_rng = np.random.default_rng([seed, 2])
    sim_rng = np.random.default_rng([seed, 3])
    t_end = int(INTERACTIONS_END_FRACTION * (HISTORY_DAYS * DAY))

    n_artists = max(min(N_STYLES, n_artworks), round(n_artworks / 12))
    artists = _make_artists(structure, n_artists)
    artworks, listed, cold = _make_artworks(structure, artists, n_artworks, t_end)
    _paint(artworks, artists, seed, image_size, progress)
    collectors, tastes, joined = _make_collectors(taste_rng, n_collectors, t_end)

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
