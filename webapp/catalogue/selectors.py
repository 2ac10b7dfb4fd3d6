"""Reads from the catalogue."""

import numpy as np
from django.core.files.storage import default_storage

from webapp.catalogue.models import FeatureSet


def feature_set_latest(*, name: str) -> FeatureSet | None:
    return FeatureSet.objects.filter(name=name).order_by("-created_at", "-id").first()


def feature_set_load(*, feature_set: FeatureSet) -> tuple[np.ndarray, np.ndarray]:
    """Return (artwork_ids (n,), vectors (n, dim)) of a stored feature set."""
    with default_storage.open(feature_set.file.name, "rb") as handle:
        with np.load(handle, allow_pickle=False) as data:
            return data["artwork_ids"].copy(), data["vectors"].copy()
