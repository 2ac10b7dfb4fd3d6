"""Reads from the catalogue."""

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage

from webapp.catalogue.models import FeatureSet


def feature_set_latest(*, name: str) -> FeatureSet | None:
    return FeatureSet.objects.filter(name=name).order_by("-created_at", "-id").first()


def feature_set_load(*, feature_set: FeatureSet) -> tuple[np.ndarray, np.ndarray]:
    """Return (artwork_ids (n,), vectors (n, dim)) of a stored feature set."""
    with default_storage.open(feature_set.file.name, "rb") as handle:
        with np.load(handle, allow_pickle=False) as data:
            return data["artwork_ids"].copy(), data["vectors"].copy()


def feature_set_arrays(*, feature_set: FeatureSet) -> dict[str, np.ndarray]:
    """The arrays stored beside the vectors (e.g. a PCA projection), by name."""
    with default_storage.open(feature_set.file.name, "rb") as handle:
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
