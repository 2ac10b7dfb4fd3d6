"""Reads from the catalogue."""

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import QuerySet

from webapp.catalogue.models import Artwork, FeatureSet, Interaction


def artworks_available() -> QuerySet[Artwork]:
    """Works a collector can still buy: every place that recommends or lists candidates
    asks this. A sold work never is one, whether the items file said so (``is_sold``) or
    a purchase event did (``artwork_sales_apply`` sets the flag; the purchase itself is
    checked too, so a purchase stored without that service still takes the work away).
    A work listed through the API is a candidate once a worker has described its image."""
    return Artwork.objects.filter(is_sold=False, features_pending=False).exclude(
        pk__in=Interaction.objects.filter(kind=Interaction.Kind.PURCHASE).values("artwork_id")
    )


def artworks_pending_count() -> int:
    """Works listed through the API that no worker has described yet. Asked on every API
    request: `features_pending=True` compiles to a bare column test, which SQLite answers
    by scanning the table (3 ms at 100,000 works); `IN (True)` takes the index (0.05 ms)."""
    return Artwork.objects.filter(features_pending__in=[True]).count()


def feature_set_latest(*, name: str) -> FeatureSet | None:
    return FeatureSet.objects.filter(name=name).order_by("-created_at", "-id").first()


def feature_set_load(*, feature_set: FeatureSet) -> tuple[np.ndarray, np.ndarray]:
    """Return (artwork_ids (n,), vectors (n, dim)) of a stored feature set."""
    with feature_set.file.storage.open(feature_set.file.name, "rb") as handle:
        with np.load(handle, allow_pickle=False) as data:
            return data["artwork_ids"].copy(), data["vectors"].copy()


def feature_set_arrays(*, feature_set: FeatureSet) -> dict[str, np.ndarray]:
    """The arrays stored beside the vectors (e.g. a PCA projection), by name."""
    with feature_set.file.storage.open(feature_set.file.name, "rb") as handle:
        with np.load(handle, allow_pickle=False) as data:
            return {k: data[k].copy() for k in data.files if k not in ("artwork_ids", "vectors")}


def artwork_image_files(artworks) -> tuple[list[str], list[str]]:
    """(local file paths, sha256 checksums) of the artworks' images. Storage without local
    paths (S3) is copied once into the feature cache folder, named by checksum."""
    paths = []
    for artwork in artworks:
        try:
            paths.append(default_storage.path(artwork.image.name))
        except NotImplementedError:
            local = settings.VITRINE_FEATURE_CACHE / "images" / artwork.image_checksum
            if not local.exists():
                local.parent.mkdir(parents=True, exist_ok=True)
                with default_storage.open(artwork.image.name, "rb") as handle:
                    local.write_bytes(handle.read())
            paths.append(str(local))
    return paths, [a.image_checksum for a in artworks]
