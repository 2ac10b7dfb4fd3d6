"""A map of the catalogue: every work at its place on the first two principal components
of a feature set's unit vectors, so a curator sees what "looks like" means under it.

PCA (scikit-learn) rather than t-SNE or UMAP: it is deterministic, fast at 100k works,
and its axes and distances mean something (cosine neighbours stay close, the share of
variance says how much of the space two dimensions show). The layout is computed once
per feature set and process, like feature_space; a new set has a new checksum. Above
MAP_CAP works a seeded sample is drawn, always with the highlighted works in it.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np

from webapp.catalogue.models import Artwork, Collector, FeatureSet, Interaction
from webapp.catalogue.selectors import artworks_available, feature_set_load

MAP_CAP = 3000
MAP_SEED = 0
MAP_WIDTH, MAP_HEIGHT, MAP_MARGIN = 1000, 700, 36
RECOMMENDATIONS_HIGHLIGHTED = 20
# Tableau 10 without its grey, which stands for "other".
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
)
OTHER_COLOUR = "#bab0ac"
AVAILABILITY_COLOURS = {"available": "#59a14f", "sold": "#9c755f"}
_LAYOUTS_KEPT = 4  # a curator switches between a few feature sets: keep their layouts


@dataclass
class MapLayout:
    feature_set: FeatureSet
    artwork_ids: np.ndarray  # (n,) int64
    xy: np.ndarray  # (n, 2) float32, PCA coordinates scaled into [0, 1] (same scale)
    explained: tuple[float, ...]  # share of the variance of each component shown


@dataclass
class MapPoint:
    artwork: Artwork
    x: float  # top-left corner of the thumbnail, in SVG units
    y: float
    colour: str
    group: str
    bought: bool = False
    recommended: bool = False
    pad: float = 3.0  # the coloured frame around the thumbnail

    @property
    def frame_x(self) -> float:
        return round(self.x - self.pad, 1)

    @property
    def frame_y(self) -> float:
        return round(self.y - self.pad, 1)


@dataclass
class Highlights:
    collector: Collector | None = None
    bought: set[int] = field(default_factory=set)
    recommended: set[int] = field(default_factory=set)
    method: str | None = None  # a recommender choice: "visrank" or "job:12"
    label: str = ""
    job_id: int | None = None
    note: str = ""


@dataclass
class CatalogueMap:
    feature_set: FeatureSet
    points: list[MapPoint]
    legend: list[tuple[str, str, int]]  # (group, colour, works drawn)
    explained: tuple[float, ...]
    n_total: int
    sampled: bool
    colour_by: str
    thumb: int
    width: int = MAP_WIDTH
    height: int = MAP_HEIGHT

    @property
    def explained_total(self) -> float:
        return float(sum(self.explained))

    @property
    def explained_label(self) -> str:
        """e.g. "PC1 31.2% + PC2 12.0% = 43.2%" of the variance."""
        if not self.explained:
            return "too few works for components"
        parts = " + ".join(f"PC{n} {100 * r:.1f}%" for n, r in enumerate(self.explained, 1))
        return f"{parts} = {100 * self.explained_total:.1f}%"

    @property
    def frame(self) -> int:
        return self.thumb + 2 * self.pad

    @property
    def pad(self) -> int:
        return max(2, self.thumb // 8)


_layouts: OrderedDict[tuple[int, str], MapLayout] = OrderedDict()
_lock = threading.Lock()


def feature_sets_all() -> list[FeatureSet]:
    return list(FeatureSet.objects.order_by("-created_at", "-id"))


def _pca_layout(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, ...]]:
    from recengine.features.projection import l2_normalise

    n = len(vectors)
    if n < 3:
        return np.zeros((n, 2), dtype=np.float32), ()
    from sklearn.decomposition import PCA

    unit = l2_normalise(vectors)
    components = min(2, unit.shape[1])
    pca = PCA(n_components=components, random_state=MAP_SEED)
    xy = pca.fit_transform(unit).astype(np.float32)
    if components == 1:
        xy = np.column_stack([xy[:, 0], np.zeros(n, dtype=np.float32)])
    # One scale for both axes, so distances on the page are distances in the space.
    low = xy.min(axis=0)
    span = float((xy.max(axis=0) - low).max()) or 1.0
    explained = tuple(float(r) for r in pca.explained_variance_ratio_)
    return (xy - low) / span, explained


def map_layout(feature_set: FeatureSet) -> MapLayout:
    """Every work of the feature set on its first two principal components (cached)."""
    key = (feature_set.pk, feature_set.sha256)
    with _lock:
        if key in _layouts:
            _layouts.move_to_end(key)
            return _layouts[key]
    ids, vectors = feature_set_load(feature_set=feature_set)
    xy, explained = _pca_layout(np.asarray(vectors, dtype=np.float32))
    layout = MapLayout(feature_set, np.asarray(ids, dtype=np.int64), xy, explained)
    with _lock:
        _layouts[key] = layout
        while len(_layouts) > _LAYOUTS_KEPT:
            _layouts.popitem(last=False)
    return layout


def map_highlights(*, collector: Collector | None) -> Highlights:
    """The collector's purchases, and the top recommendations of the method their page
    opens with (none when no method is trained: then the page says so)."""
    if collector is None:
        return Highlights()
    from webapp.curation.selectors.collectors import method_choose
    from webapp.curation.selectors.default_method import default_method
    from webapp.curation.selectors.recommenders import collector_recommendations_served
    from webapp.jobs.methods import method_references, methods_first
    from webapp.jobs.selectors import trained_methods
    from webapp.jobs.serving import collector_consumed

    consumed = list(collector_consumed(collector=collector))
    highlights = Highlights(
        collector=collector,
        bought={i.artwork_id for i in consumed if i.kind == Interaction.Kind.PURCHASE},
    )
    # The collector page's default: the best evaluated method, else a served one (never
    # a reference line).
    default = default_method()
    if default is not None:
        method, label = default.value, default.label
    else:
        references = method_references()
        methods = [m for m in methods_first(trained_methods()) if m not in references]
        method = label = method_choose(requested=None, methods=methods)
    served = (
        collector_recommendations_served(
            collector=collector, method=method, consumed=consumed, k=RECOMMENDATIONS_HIGHLIGHTED
        )
        if method
        else None
    )
    if served is None:
        highlights.note = "No recommender has been trained: only the purchases are highlighted."
        return highlights
    highlights.method, highlights.label, highlights.job_id = method, label, served.job.pk
    highlights.recommended = {r.artwork.pk for r in served.items}
    return highlights


def _drawn_rows(layout: MapLayout, highlighted: set[int]) -> tuple[np.ndarray, bool]:
    """Rows to draw: all, or a seeded sample of MAP_CAP plus the highlighted works."""
    n = len(layout.artwork_ids)
    if n <= MAP_CAP:
        return np.arange(n), False
    sample = np.random.default_rng(MAP_SEED).choice(n, MAP_CAP, replace=False)
    wanted = np.flatnonzero(np.isin(layout.artwork_ids, list(highlighted)))
    return np.union1d(sample, wanted), True


def _placement(layout: MapLayout, thumb: int):
    """(x, y) in [0, 1] -> the thumbnail's top-left corner in the SVG, one scale for both
    axes (distances on the page stay distances in the space), centred in the frame."""
    room = np.array([MAP_WIDTH, MAP_HEIGHT], dtype=np.float64) - 2 * MAP_MARGIN - thumb
    spans = layout.xy.max(axis=0).astype(np.float64) if len(layout.xy) else np.ones(2)
    scale = float(np.min(room / np.maximum(spans, 1e-9)))
    offset = MAP_MARGIN + (room - spans * scale) / 2

    def place(xy) -> tuple[float, float]:
        x, y = offset + np.asarray(xy, dtype=np.float64) * scale
        return round(float(x), 1), round(float(y), 1)

    return place


def _group_of(artwork: Artwork, colour_by: str, available: set[int]) -> str:
    if colour_by == "artist":
        return artwork.artist.name
    if colour_by == "availability":
        return "available" if artwork.pk in available else "sold"
    return artwork.style_tags[0] if artwork.style_tags else "no style tag"


def _colours(groups: Counter, colour_by: str) -> dict[str, str]:
    if colour_by == "availability":
        return dict(AVAILABILITY_COLOURS)
    common = [g for g, _ in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))]
    return {g: PALETTE[n] for n, g in enumerate(common[: len(PALETTE)])}


def catalogue_map(
    *, feature_set: FeatureSet, colour_by: str, highlights: Highlights | None = None
) -> CatalogueMap:
    """The works to draw with their position, colour group and highlight.

    colour_by: "style" (a work's first style tag), "artist" or "availability"; the nine
    largest groups get a colour of their own, the rest share "other".
    """
    highlights = highlights or Highlights()
    layout = map_layout(feature_set)
    rows, sampled = _drawn_rows(layout, highlights.bought | highlights.recommended)
    artworks = (
        Artwork.objects.select_related("artist")
        .only("id", "title", "image", "image_checksum", "style_tags", "is_sold", "artist__name")
        .in_bulk([int(pk) for pk in layout.artwork_ids[rows]])
    )
    available = set(artworks_available().filter(pk__in=list(artworks)).values_list("id", flat=True))
    rows = [r for r in rows if int(layout.artwork_ids[r]) in artworks]
    groups = {
        r: _group_of(artworks[int(layout.artwork_ids[r])], colour_by, available) for r in rows
    }
    counts = Counter(groups.values())
    colours = _colours(counts, colour_by)
    thumb = int(np.clip(1400 / np.sqrt(max(len(rows), 1)), 14, 56))
    place = _placement(layout, thumb)
    points = []
    for r in rows:
        artwork = artworks[int(layout.artwork_ids[r])]
        group = groups[r] if groups[r] in colours else "other"
        x, y = place(layout.xy[r])
        points.append(
            MapPoint(
                artwork=artwork,
                x=x,
                y=y,
                colour=colours.get(group, OTHER_COLOUR),
                group=group,
                bought=artwork.pk in highlights.bought,
                recommended=artwork.pk in highlights.recommended,
                pad=max(2, thumb // 8),
            )
        )
    # Highlighted works last, so no other thumbnail covers them.
    points.sort(key=lambda p: (p.bought, p.recommended))
    drawn = Counter(p.group for p in points)
    legend = [(g, c, drawn[g]) for g, c in colours.items() if drawn[g]]
    if drawn["other"]:
        legend.append(("other", OTHER_COLOUR, drawn["other"]))
    return CatalogueMap(
        feature_set=feature_set,
        points=points,
        legend=legend,
        explained=layout.explained,
        n_total=len(layout.artwork_ids),
        sampled=sampled,
        colour_by=colour_by,
        thumb=thumb,
    )
