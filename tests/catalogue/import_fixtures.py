"""Builders for small import fixtures (CSV files, 16×16 images, embeddings) under tmp_path."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.core.management import call_command
from django.test import TestCase
from PIL import Image

from tests.acting import trainer
from webapp.catalogue.importing import ImportReport, gallery_import
from webapp.catalogue.importing.rows import (
    INTERACTION_OPTIONAL,
    INTERACTION_REQUIRED,
    ITEM_OPTIONAL,
    ITEM_REQUIRED,
)

#: The columns the importer knows, required ones first.
ITEM_HEADER = [*ITEM_REQUIRED, *ITEM_OPTIONAL]
INTERACTION_HEADER = [*INTERACTION_REQUIRED, *INTERACTION_OPTIONAL]


def import_committed(**kwargs) -> ImportReport:
    """gallery_import as if its transaction committed. A test runs inside a transaction of
    its own that never commits, so the on-commit work (moving the staged files into place,
    deleting replaced images) runs when this returns instead."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return gallery_import(**kwargs)


def command_committed(*args, **kwargs) -> None:
    """call_command("import_gallery", ...) as if its transaction committed."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("import_gallery", *args, **kwargs)


def image_bytes(seed: int = 0, size: tuple[int, int] = (16, 16), fmt: str = "PNG") -> bytes:
    """A small noisy RGB image (noise so a PNG is big enough to truncate meaningfully)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def write_image(path: Path, seed: int = 0, size=(16, 16), fmt: str | None = None) -> bytes:
    """Write an image; the format follows the extension unless given. Returns the bytes."""
    if fmt is None:
        fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".gif": "GIF"}.get(
            path.suffix.lower(), "PNG"
        )
    data = image_bytes(seed, size, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def truncate_file(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def write_csv(path: Path, header: list[str], rows: list[dict | list]) -> Path:
    """Rows are dicts (missing keys are empty) or lists written as they are."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            if isinstance(row, dict):
                writer.writerow([row.get(column, "") for column in header])
            else:
                writer.writerow(row)
    return path


def default_items() -> list[dict]:
    """Three works; line 2 = 101 (image by path in a subfolder), 3 = 102 (102.jpg), 4 = 103.

    101 and 102 are sold, and bought in default_interactions; 103 is for sale."""
    return [
        {
            "item_id": "101",
            "title": "Sunset over the harbour",
            "artist": "Ada Palette",
            "year": "2019",
            "medium": "oil on canvas",
            "style_tags": "impressionist; warm|seascape",
            "width_cm": "60",
            "height_cm": "40.5",
            "price": "1200.50",
            "listed_at": "2024-03-01",
            "sold": "yes",  # u1 bought it (interactions line 2)
            "image": "paintings/sunset.png",
        },
        {
            "item_id": "102",
            "title": "Blue study",
            "artist": "Ada Palette",
            "year": "2021",
            "medium": "acrylic",
            "style_tags": "abstract",
            "price": "800",
            "listed_at": "1709251200",
            "sold": "true",
        },
        {
            "item_id": "103",
            "title": "Night garden",
            "artist": "Bo Brush",
            "listed_at": "2024-03-05T10:30:00Z",
        },
    ]


def default_interactions() -> list[dict]:
    """Line 2..6 of interactions.csv: purchases of 101 (u1) and 102 (u3), one each."""
    return [
        {"user_id": "u1", "item_id": "101", "timestamp": "2024-04-01T12:00:00Z"},
        {"user_id": "u1", "item_id": "102", "timestamp": "1712000000", "kind": "like"},
        {
            "user_id": "u2",
            "item_id": "103",
            "timestamp": "2024-04-02",
            "kind": "rating",
            "rating": "4.5",
            "evaluation": "yes",
        },
        {"user_id": "u2", "item_id": "101", "timestamp": "2024-04-03 08:00", "kind": "view"},
        {
            "user_id": "u3",
            "item_id": "102",
            "timestamp": "2024-04-04T09:00:00+02:00",
            "evaluation": "1",
        },
    ]


@dataclass
class Gallery:
    root: Path
    items: Path
    interactions: Path
    images: Path

    def kwargs(self, **extra) -> dict:
        """Keyword arguments for gallery_import."""
        return {
            "items_path": self.items,
            "interactions_path": self.interactions,
            "images_dir": self.images,
            **extra,
        }

    def argv(self, *extra: str) -> list[str]:
        """Arguments for call_command('import_gallery', ...), as a user who may import."""
        return [
            "--user",
            trainer().username,
            "--items",
            str(self.items),
            "--interactions",
            str(self.interactions),
            "--images",
            str(self.images),
            *extra,
        ]

    def write_items(self, rows: list[dict | list], header: list[str] = ITEM_HEADER) -> None:
        write_csv(self.items, header, rows)

    def write_interactions(
        self, rows: list[dict | list], header: list[str] = INTERACTION_HEADER
    ) -> None:
        write_csv(self.interactions, header, rows)


def make_gallery(tmp_path: Path, *, items=None, interactions=None) -> Gallery:
    """A valid gallery under tmp_path/data (the tests' MEDIA_ROOT is tmp_path/media)."""
    root = tmp_path / "data"
    images = root / "images"
    images.mkdir(parents=True)
    gallery = Gallery(root, root / "items.csv", root / "interactions.csv", images)
    gallery.write_items(default_items() if items is None else items)
    gallery.write_interactions(default_interactions() if interactions is None else interactions)
    write_image(images / "paintings" / "sunset.png", seed=1)
    write_image(images / "102.jpg", seed=2)
    write_image(images / "103.png", seed=3)
    return gallery


def write_npy(path: Path, ids: list[int], dim: int = 4, seed: int = 0) -> np.ndarray:
    """Rows [item_id, v1..v_dim]; returns the vectors."""
    vectors = np.random.default_rng(seed).normal(size=(len(ids), dim))
    np.save(path, np.column_stack([np.asarray(ids, dtype=np.float64), vectors]))
    return vectors


def write_npz(path: Path, ids: list, dim: int = 3, seed: int = 0, key: str = "vectors"):
    vectors = np.random.default_rng(seed).normal(size=(len(ids), dim)).astype(np.float32)
    np.savez(path, ids=np.asarray(ids), **{key: vectors})
    return vectors
