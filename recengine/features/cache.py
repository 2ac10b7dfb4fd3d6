"""Feature vectors cached on disk per (extractor key, image checksum).

A re-run skips every image already done under the same extractor, weights and size; an
image whose file changed has a new checksum and is extracted again. One small .npy file
per vector, written to a temporary name and renamed, so concurrent workers and crashes
never leave a half-written vector behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import Callback, ImageLike


class FeatureCache:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _folder(self, key: str) -> Path:
        # Keys hold ':' and '/' (file paths never do, but be safe): hash them into a name.
        readable = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[:60]
        return self.directory / f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"

    def _path(self, key: str, checksum: str) -> Path:
        if not checksum or not all(c in "0123456789abcdef" for c in checksum.lower()):
            raise ValueError(f"image checksum {checksum!r} is not a hex digest")
        return self._folder(key) / checksum[:2] / f"{checksum.lower()}.npy"

    def get(self, key: str, checksum: str) -> np.ndarray | None:
        path = self._path(key, checksum)
        try:
            return np.load(path, allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError):
            return None  # missing or unreadable: extract again

    def put(self, key: str, checksum: str, vector: np.ndarray) -> None:
        path = self._path(key, checksum)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                np.save(file, np.asarray(vector, dtype=np.float32), allow_pickle=False)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def extract_cached(
    extractor,
    images: Sequence[ImageLike],
    checksums: Sequence[str],
    cache: FeatureCache | None,
    callback: Callback | None = None,
) -> tuple[np.ndarray, int]:
    """(len(images), dim) features, extracting only the images the cache lacks.

    Returns the features and how many images were extracted now.
    """
    if len(images) != len(checksums):
        raise ValueError(f"{len(images)} images but {len(checksums)} checksums")
    if cache is None:
        return extractor.extract(images, callback=callback), len(images)
    found: dict[int, np.ndarray] = {}
    for position, checksum in enumerate(checksums):
        vector = cache.get(extractor.key, checksum)
        if vector is not None and vector.shape == (extractor.dim,):
            found[position] = vector
    missing = [p for p in range(len(images)) if p not in found]
    if missing:
        fresh = extractor.extract([images[p] for p in missing], callback=callback)
        for position, vector in zip(missing, fresh, strict=True):
            cache.put(extractor.key, checksums[position], vector)
            found[position] = vector
    elif callback is not None:
        callback(1.0, f"all {len(images)} images were already extracted")
    features = np.zeros((len(images), extractor.dim), dtype=np.float32)
    for position, vector in found.items():
        features[position] = vector
    return features, len(missing)
