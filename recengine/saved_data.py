"""A benchmark dataset saved to one .npz file, for runs outside the process that built it.

The gallery exists only through the site's database; `manage.py bench_gallery --export`
writes the events, features and stock times it would benchmark to a file, and engine-side
benchmarks that must not import Django (the peer benchmark) read it back here. Arrays
only: the file loads without pickle. Images and categorical attributes are not saved
(no saved-data consumer reads them).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .data import Interactions
from .datasets import BenchmarkData, DatasetError

# Interactions' array fields that travel; None is stored as an absent key.
_FIELDS = (
    "user_ids",
    "item_ids",
    "users",
    "items",
    "timestamps",
    "ratings",
    "item_features",
    "user_latent",
    "item_latent",
    "kinds",
    "kind_names",
    "weights",
)
_TEXT = ("user_ids", "item_ids", "kind_names")
_TIMES = ("item_listed_at", "item_sold_at")


def save_benchmark_data(data: BenchmarkData, path: str | Path) -> Path:
    """Write ``data.interactions`` (and the stock times) to ``path``, atomically: a run
    that crashes half-way leaves no file that looks complete."""
    if data.interactions is None:
        raise ValueError("only a dataset held as one interactions log can be saved")
    arrays = {"name": np.array(data.name)}
    for field in _FIELDS:
        value = getattr(data.interactions, field)
        if value is not None:
            arrays[field] = np.asarray(value, dtype=str if field in _TEXT else None)
    for field in _TIMES:
        value = getattr(data, field)
        if value is not None:
            arrays[field] = np.asarray(value, dtype=np.float64)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as handle:
            np.savez_compressed(handle, **arrays)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def load_benchmark_data(path: str | Path) -> BenchmarkData:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (write it with manage.py bench_gallery --export)")
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {key: saved[key] for key in saved.files}
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: not a saved dataset ({error})") from None
    missing = [
        key for key in ("name", "user_ids", "item_ids", "users", "items") if key not in arrays
    ]
    if missing:
        raise DatasetError(f"{path}: not a saved dataset (lacks {', '.join(missing)})")
    interactions = Interactions(**{f: arrays[f] for f in _FIELDS if f in arrays})
    return BenchmarkData(
        name=str(arrays["name"]),
        train=None,
        valid=None,
        test=None,
        interactions=interactions,
        negatives=None,
        **{f: arrays.get(f) for f in _TIMES},
    )
