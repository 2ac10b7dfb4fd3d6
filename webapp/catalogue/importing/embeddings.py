"""The optional embeddings file: a .npy of rows [item_id, v1, ...] or a .npz of ids/vectors.

Its size is checked from the array headers before anything is loaded: a few hundred KB of
compressed zeros can claim a 1 × 100,000,000 array."""

from __future__ import annotations

import hashlib
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from webapp.catalogue.importing.parsing import unstorable_reason
from webapp.catalogue.importing.report import ImportReport, Problem, short_error

#: An item_id is at most this long (Artwork.external_id).
MAX_ID_LENGTH = 100


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


def _npy_header(handle) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a .npy header; only the header is read, never the data."""
    version = np.lib.format.read_magic(handle)
    reader = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }.get(version)
    if reader is None:
        raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    shape, _fortran_order, dtype = reader(handle)
    return tuple(int(n) for n in shape), dtype


def _plain_numbers(dtype: np.dtype) -> bool:
    return (
        dtype.kind in "biuf"
        and dtype.names is None
        and dtype.subdtype is None
        and dtype.itemsize <= 8
    )


def _array_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The header of each array in a .npy (key "") or .npz, by name. A .npz member is
    opened as a stream, so only its first bytes are decompressed."""
    if path.suffix.lower() == ".npy":
        with open(path, "rb") as handle:
            return {"": _npy_header(handle)}
    headers = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as handle:
                    headers[member.removesuffix(".npy")] = _npy_header(handle)
    return headers


def _header_problems(
    headers: dict[str, tuple[tuple[int, ...], np.dtype]], keys: list[str], name: str
) -> list[Problem]:
    """Refuse, before loading, arrays that are too large or of the wrong kind."""
    limit = int(settings.VITRINE_MAX_EMBEDDING_VALUES)
    problems = []
    for key in keys:
        shape, dtype = headers[key]
        label = f"'{key}'" if key else "the array"
        values = math.prod(shape)
        if values > limit:
            problems.append(
                Problem(
                    name,
                    None,
                    f"{label} has shape {shape} = {values} values, over the limit "
                    f"VITRINE_MAX_EMBEDDING_VALUES = {limit}",
                )
            )
        if dtype.hasobject:
            problems.append(
                Problem(name, None, f"{label} is stored as Python objects (a pickle): refused")
            )
        elif key != "ids" and not _plain_numbers(dtype):
            # The value cap counts values; a wide or structured type would hide its bytes.
            problems.append(
                Problem(
                    name,
                    None,
                    f"{label} is of type {dtype.str!r}: vectors must be plain numbers "
                    "(float16/32/64 or integers)",
                )
            )
        elif key == "ids" and dtype.kind in "US":
            length = dtype.itemsize // (4 if dtype.kind == "U" else 1)
            if length > MAX_ID_LENGTH:
                problems.append(
                    Problem(
                        name,
                        None,
                        f"'ids' are up to {length} characters long "
                        f"(an item_id has at most {MAX_ID_LENGTH})",
                    )
                )
    return problems


def _printable(name: str) -> str:
    """A file name as text any database stores (undecodable bytes escaped)."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "")


def load_embeddings(path: Path, report: ImportReport) -> Embeddings | None:
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in {".npy", ".npz"}:
        report.problems.append(Problem(name, None, "embeddings must be a .npy or .npz file"))
        return None
    try:
        with open(path, "rb") as handle:
            checksum = hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError:
        report.problems.append(Problem(name, None, f"file not found: {path}"))
        return None
    except OSError as error:
        report.problems.append(Problem(name, None, f"cannot open: {short_error(error)}"))
        return None
    source = f"{_printable(name)[:200]} sha256:{checksum[:16]}"
    try:
        headers = _array_headers(path)
        if suffix == ".npy":
            keys = [""]
        else:
            keys = ["ids", "vectors" if "vectors" in headers else "matrix"]
            if not set(keys) <= set(headers):
                report.problems.append(
                    Problem(
                        name,
                        None,
                        "a .npz needs arrays 'ids' and 'vectors' (or 'matrix'); "
                        f"found {', '.join(sorted(headers)) or 'none'}",
                    )
                )
                return None
        problems = _header_problems(headers, keys, name)
        if problems:
            report.problems.extend(problems)
            return None
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
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
            with np.load(path, allow_pickle=False) as archive:
                raw_ids = archive["ids"]
                vectors = archive[keys[1]]
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
        reason = unstorable_reason(text) if text else None
        if text is None:
            report.problems.append(Problem(name, None, f"row {row + 1}: bad item id {raw!r}"))
        elif reason:
            report.problems.append(Problem(name, None, f"row {row + 1}: item id {reason}"))
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
