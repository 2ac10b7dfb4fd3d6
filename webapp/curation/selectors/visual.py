"""Visual similarity under the active feature extractor: a work's neighbours and how
varied a list of works looks.

The active extractor is the newest feature set made with pretrained weights (the installed
EfficientNet-Lite0, or a file or hub model a user chose), else the one the serving VisRank
job was trained on, else the newest feature set. Its vectors
are loaded once per process as unit rows, so cosine is one matrix-vector product (exact,
under a millisecond at 10,000 works; numpy rather than faiss keeps the engine and torch
out of a process that only browses); a new feature set has a new checksum, so nothing
stale is served.
"""

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from webapp.catalogue.models import Artwork, FeatureSet
from webapp.catalogue.selectors import artworks_available, feature_set_load
from webapp.jobs.selectors import training_job_active

logger = logging.getLogger(__name__)
NEIGHBOURS_SHOWN = 12


@dataclass
class FeatureSpace:
    feature_set: FeatureSet
    artwork_ids: np.ndarray  # (n,) int64, row order
    positions: dict[int, int]  # artwork id -> row
    vectors: np.ndarray  # (n, dim) float32 unit rows
    extra: dict[int, np.ndarray] = field(default_factory=dict)  # works described later

    def vector(self, artwork_id: int) -> np.ndarray | None:
        row = self.positions.get(artwork_id)
        return self.vectors[row] if row is not None else self.extra.get(artwork_id)


@dataclass
class Neighbours:
    feature_set: FeatureSet | None
    items: list[tuple[Artwork, float]]  # (artwork, cosine similarity), most similar first
    note: str = ""


_spaces: dict[tuple[int, str], FeatureSpace] = {}
_lock = threading.Lock()


def feature_set_active() -> FeatureSet | None:
    """Pretrained features first: a network that has seen the world knows "looks like"
    better than colour histograms or random weights (docs/benchmarks.md measures it)."""
    pretrained = (
        FeatureSet.objects.filter(params__weights__kind__in=["file", "hub"])
        .order_by("-created_at", "-id")
        .first()
    )
    if pretrained is not None:
        return pretrained
    job = training_job_active(method="visrank")
    if job is not None and job.feature_set is not None:
        return job.feature_set
    return FeatureSet.objects.order_by("-created_at", "-id").first()


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def feature_space(feature_set: FeatureSet) -> FeatureSpace:
    key = (feature_set.pk, feature_set.sha256)
    with _lock:
        if key in _spaces:
            return _spaces[key]
    ids, vectors = feature_set_load(feature_set=feature_set)
    space = FeatureSpace(
        feature_set=feature_set,
        artwork_ids=np.asarray(ids, dtype=np.int64),
        positions={int(pk): row for row, pk in enumerate(ids)},
        vectors=_unit_rows(vectors),
    )
    with _lock:
        # One feature set in use at a time: older ones only hold memory.
        _spaces.clear()
        _spaces[key] = space
    return space


def _vector_for(space: FeatureSpace, artwork: Artwork) -> np.ndarray | None:
    """The work's vector; a work listed after the extraction is described now, the same
    way (extractor, weights, projection), once per process."""
    vector = space.vector(artwork.pk)
    if vector is not None or not artwork.image:
        return vector
    from webapp.jobs.features import FeatureError, features_for_artworks

    try:
        raw = features_for_artworks(feature_set=space.feature_set, artworks=[artwork])
    except (FeatureError, NotImplementedError, ValueError, OSError) as error:
        logger.info("no visual vector for artwork %s: %s", artwork.pk, error)
        return None
    vector = _unit_rows(raw)[0]
    with _lock:
        space.extra[artwork.pk] = vector
    return vector


def artwork_neighbours(*, artwork: Artwork, k: int = NEIGHBOURS_SHOWN) -> Neighbours:
    """The k available works that look most like this one (cosine): a sold work is never
    suggested, here as on every other page that proposes works."""
    feature_set = feature_set_active()
    if feature_set is None:
        return Neighbours(None, [], "No features have been extracted yet.")
    space = feature_space(feature_set)
    vector = _vector_for(space, artwork)
    if vector is None:
        return Neighbours(feature_set, [], "This work has no vector under these features.")
    cosine = space.vectors @ vector
    available = np.asarray(artworks_available().values_list("id", flat=True), dtype=np.int64)
    rows = np.flatnonzero(np.isin(space.artwork_ids, available) & (space.artwork_ids != artwork.pk))
    wanted = min(k, len(rows))
    top = rows[np.argpartition(-cosine[rows], wanted - 1)[:wanted]] if wanted else rows[:0]
    top = top[np.argsort(-cosine[top], kind="stable")]
    found = [(int(space.artwork_ids[i]), float(cosine[i])) for i in top]
    artworks = Artwork.objects.select_related("artist").in_bulk([pk for pk, _ in found])
    return Neighbours(feature_set, [(artworks[pk], s) for pk, s in found if pk in artworks])


def list_diversity(*, artwork_ids: list[int], space: FeatureSpace | None) -> float | None:
    """Mean pairwise cosine distance (1 - cosine) of the works' vectors; None under two."""
    if space is None:
        return None
    vectors = [v for v in (space.vector(pk) for pk in artwork_ids) if v is not None]
    if len(vectors) < 2:
        return None
    stacked = np.stack(vectors)
    similarity = stacked @ stacked.T
    upper = np.triu_indices(len(stacked), k=1)
    return float(np.mean(1.0 - similarity[upper]))


def active_feature_space() -> FeatureSpace | None:
    feature_set = feature_set_active()
    return feature_space(feature_set) if feature_set is not None else None
