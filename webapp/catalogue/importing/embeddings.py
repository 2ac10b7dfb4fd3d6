"""The optional embeddings file: a .npy of rows [item_id, v1, ...] or a .npz of ids/vectors."""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from webapp.catalogue.importing.report import ImportReport, Problem, short_error


@dataclass
class Embeddings:
    item_ids: list[str]
    vectors: np.ndarray
    source: str


def _id_text(value) -> str | None:
    """An embeddings id as an item_id string, or None if it is not a usable id."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    if isinstance(value, (np.floating, float)):
        number = float(value)
        if math.isfinite(number) and number.is_integer():
            return str(int(number))
    return None


def load_embeddings(path: Path, report: ImportReport) -> Embeddings | None:
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in {".npy", ".npz"}:
        report.problems.append(Problem(name, None, "embeddings must be a .npy or .npz file"))
        return None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        report.problems.append(Problem(name, None, f"file not found: {path}"))
        return None
    except OSError as error:
        report.problems.append(Problem(name, None, f"cannot open: {short_error(error)}"))
        return None
    source = f"{name[:200]} sha256:{hashlib.sha256(data).hexdigest()[:16]}"
    try:
        if suffix == ".npy":
            array = np.load(io.BytesIO(data), allow_pickle=False)
            if not isinstance(array, np.ndarray) or array.ndim != 2 or array.shape[1] < 2:
                report.problems.append(
                    Problem(
                        name,
                        None,
                        "a .npy must be a 2-D array of rows [item_id, v1, v2, ...], "
                        f"got shape {getattr(array, 'shape', '?')}",
                    )
                )
                return None
            if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
                report.problems.append(Problem(name, None, f"not a numeric array ({array.dtype})"))
                return None
            raw_ids, vectors = array[:, 0], array[:, 1:]
        else:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                keys = set(archive.files)
                if "ids" not in keys or not ({"vectors", "matrix"} & keys):
                    report.problems.append(
                        Problem(
                            name,
                            None,
                            "a .npz needs arrays 'ids' and 'vectors' (or 'matrix'); "
                            f"found {', '.join(sorted(keys)) or 'none'}",
                        )
                    )
                    return None
                raw_ids = archive["ids"]
                vectors = archive["vectors" if "vectors" in keys else "matrix"]
            if raw_ids.ndim != 1:
                report.problems.append(
                    Problem(name, None, f"'ids' must be 1-D, got {raw_ids.shape}")
                )
                return None
            if vectors.ndim != 2 or vectors.shape[1] < 1:
                report.problems.append(
                    Problem(name, None, f"vectors must be 2-D (n_items, dim), got {vectors.shape}")
                )
                return None
            if not np.issubdtype(vectors.dtype, np.number) or np.iscomplexobj(vectors):
                report.problems.append(
                    Problem(name, None, f"vectors are not numeric ({vectors.dtype})")
                )
                return None
            if len(raw_ids) != len(vectors):
                report.problems.append(
                    Problem(name, None, f"{len(raw_ids)} ids but {len(vectors)} vector rows")
                )
                return None
    except Exception as error:  # ValueError, OSError, EOFError; zipfile.BadZipFile from a .npz
        report.problems.append(Problem(name, None, f"cannot read embeddings: {short_error(error)}"))
        return None
    if len(vectors) == 0:
        report.problems.append(Problem(name, None, "no rows"))
        return None
    vectors = np.asarray(vectors, dtype=np.float64)
    errors_before = len(report.problems)
    bad_rows = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    float32_max = np.finfo(np.float32).max
    too_big = np.flatnonzero((np.abs(np.nan_to_num(vectors)) > float32_max).any(axis=1))
    for row in bad_rows:
        report.problems.append(Problem(name, None, f"row {row + 1}: non-finite value (NaN or inf)"))
    for row in too_big:
        report.problems.append(Problem(name, None, f"row {row + 1}: value too large for float32"))
    item_ids: list[str] = []
    first_row: dict[str, int] = {}
    for row, raw in enumerate(raw_ids.tolist() if raw_ids.dtype.kind in "OUS" else raw_ids):
        text = _id_text(raw)
        if text is None:
            report.problems.append(Problem(name, None, f"row {row + 1}: bad item id {raw!r}"))
        elif text in first_row:
            report.problems.append(
                Problem(
                    name,
                    None,
                    f"row {row + 1}: duplicate item id {text!r} "
                    f"(first in row {first_row[text] + 1})",
                )
            )
        else:
            first_row[text] = row
        item_ids.append(text or "")
    if len(report.problems) > errors_before:
        return None
    return Embeddings(item_ids=item_ids, vectors=vectors.astype(np.float32), source=source)
