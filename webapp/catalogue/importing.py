"""Import a gallery (items, interactions, images, embeddings) from files.

`gallery_import` is the one entry point. It works in three phases:

1. **Validate** every input completely (CSV rows, image files, embeddings) and collect every
   problem with its file, line and reason. Nothing touches the database or the media storage
   in this phase, so `--dry-run` is simply "stop after phase 2".
2. **Plan** by reading what the database already holds: which rows would be created, updated
   or left unchanged, and which images are already stored with the same checksum.
3. **Write** the plan inside one `transaction.atomic()`. Image files and the feature-set file
   are not covered by the database transaction, so every file stored here is remembered and
   deleted again if anything fails; files that become obsolete (a replaced image) are only
   deleted once the transaction has committed.

If phase 1 finds any problem, `ImportFailed` is raised with a report of every problem and
nothing is written.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image, ImageFile, UnidentifiedImageError

from webapp.catalogue.models import Artist, Artwork, Collector, FeatureSet, Interaction
from webapp.catalogue.services import artwork_image_save, feature_set_create

__all__ = ["ImportFailed", "ImportReport", "Problem", "Counts", "gallery_import"]

ProgressCallback = Callable[[str, int, int | None], None]

ITEM_REQUIRED = ("item_id", "title", "artist")
ITEM_OPTIONAL = (
    "year",
    "medium",
    "style_tags",
    "width_cm",
    "height_cm",
    "price",
    "listed_at",
    "sold",
    "image",
)
INTERACTION_REQUIRED = ("user_id", "item_id", "timestamp")
INTERACTION_OPTIONAL = ("kind", "rating", "evaluation")

#: Extensions tried, in this order, when an item has no `image` value: `<item_id><ext>`.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
#: Pillow format -> extension of the stored file (the user's file name is never used).
FORMAT_EXTENSIONS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",  # a JPEG with extra frames, as some cameras write
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tif",
}
TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f"}
UNIX_SECONDS = re.compile(r"^[+-]?\d+(\.\d*)?$")
#: A file larger than this is refused before it is read (the pixel limit is checked too).
MAX_IMAGE_BYTES = 256 * 1024 * 1024
QUERY_CHUNK = 500
BULK_BATCH = 1000
MAX_NOTE_EXAMPLES = 10


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input. `line` is 1-based as in an editor (header = line 1)."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class ImportReport:
    items_file: str = ""
    interactions_file: str = ""
    dry_run: bool = False
    written: bool = False
    artists: Counts = field(default_factory=Counts)
    artworks: Counts = field(default_factory=Counts)
    collectors: Counts = field(default_factory=Counts)
    interactions: Counts = field(default_factory=Counts)
    #: created = first image of an artwork, updated = replaced, unchanged = same checksum.
    images: Counts = field(default_factory=Counts)
    #: (name, n_items, dim, created?) of the embeddings, if any were given.
    feature_set: tuple[str, int, int, bool] | None = None
    feature_set_id: int | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines: list[str] = []
        if self.problems:
            lines.append(
                f"Import of {self.items_file} and {self.interactions_file} refused: "
                f"{len(self.problems)} problem(s); nothing was written."
            )
            lines.extend(f"  {problem}" for problem in self.problems)
        else:
            if self.dry_run:
                head = "Dry run: nothing was written. The import would give:"
                verbs = ("to create", "to update", "unchanged")
            else:
                head = f"Imported {self.items_file} and {self.interactions_file}:"
                verbs = ("created", "updated", "unchanged")
            lines.append(head)
            for label, counts in (
                ("artists", self.artists),
                ("artworks", self.artworks),
                ("collectors", self.collectors),
                ("interactions", self.interactions),
                ("images", self.images),
            ):
                lines.append(
                    f"  {label + ':':<14}{counts.created} {verbs[0]}, "
                    f"{counts.updated} {verbs[1]}, {counts.unchanged} {verbs[2]}"
                )
            if self.feature_set is not None:
                name, n_items, dim, created = self.feature_set
                state = verbs[0] if created else "unchanged (same file already imported)"
                lines.append(f"  {'feature set:':<14}'{name}' {n_items} × {dim}, {state}")
        if self.notes:
            lines.append("Notes:")
            lines.extend(f"  - {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class ImportFailed(Exception):
    """The input has problems; `report.problems` lists every one. Nothing was written."""

    def __init__(self, report: ImportReport):
        self.report = report
        self.problems = report.problems
        super().__init__(report.render())


# --------------------------------------------------------------------------- parsed rows


@dataclass
class ItemRow:
    line: int
    item_id: str
    title: str
    artist: str
    values: dict  # model field -> value, only for columns present in the file
    listed_at: dt.datetime | None
    image_value: str  # the `image` cell, "" if none


@dataclass
class ImageSource:
    """A validated image: where it is, what it holds."""

    item_id: str
    line: int
    path: Path  # resolved, inside the images folder
    display: str  # path relative to the images folder, for messages
    checksum: str
    extension: str


@dataclass
class InteractionRow:
    line: int
    user_id: str
    item_id: str
    kind: str
    timestamp: dt.datetime
    rating: float | None
    is_evaluation: bool


# --------------------------------------------------------------------------- small parsers


class BadValue(ValueError):
    pass


def _parse_float(text: str, *, minimum: float | None = None) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadValue(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise BadValue(f"not a finite number: {text!r}")
    if minimum is not None and value < minimum:
        raise BadValue(f"must be at least {minimum:g}: {text!r}")
    return value


def _parse_int(text: str, *, minimum: int, maximum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        number = _parse_float(text)
        if not number.is_integer():
            raise BadValue(f"not a whole number: {text!r}") from None
        value = int(number)
    if not minimum <= value <= maximum:
        raise BadValue(f"out of range {minimum}..{maximum}: {text!r}")
    return value


def _parse_price(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadValue(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise BadValue(f"not a finite number: {text!r}")
    if value < 0:
        raise BadValue(f"must not be negative: {text!r}")
    value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if value >= Decimal("1e10"):
        raise BadValue(f"too large (at most 9999999999.99): {text!r}")
    return value


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise BadValue(f"not a boolean (true/false/1/0/yes/no): {text!r}")


def parse_when(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time, or unix seconds; naive values are in settings.TIME_ZONE."""
    text = text.strip()
    try:
        if UNIX_SECONDS.match(text):
            seconds = float(text)
            if not math.isfinite(seconds):
                raise ValueError
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        value = dt.datetime.fromisoformat(text)
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise BadValue(f"not an ISO date/date-time or unix seconds: {text!r}") from None


def _split_tags(text: str) -> list[str]:
    return [tag.strip() for tag in re.split(r"[;|]", text) if tag.strip()]


# --------------------------------------------------------------------------- CSV reading


def _read_csv(
    path: Path, *, required: tuple[str, ...], optional: tuple[str, ...], report: ImportReport
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line, {column: stripped value}) for every non-blank row; report problems.

    The line is where the record starts, as an editor shows it (the header is line 1).
    """
    name = path.name
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        report.problems.append(Problem(name, None, f"file not found: {path}"))
        return
    except OSError as error:
        report.problems.append(Problem(name, None, f"cannot open: {error.strerror or error}"))
        return
    rows = 0
    with handle:
        # Decoded line by line so a bad byte is reported on its own line.
        reader = csv.reader(_utf8_lines(handle))
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as error:
            report.problems.append(Problem(name, 1, f"unreadable header: {_short(error)}"))
            return
        if not header or not any(cell.strip() for cell in header):
            report.problems.append(Problem(name, 1, "empty file: no header row"))
            return
        columns = [cell.strip().lower() for cell in header]
        seen: set[str] = set()
        for column in columns:
            if column in seen and column:
                report.problems.append(Problem(name, 1, f"column {column!r} appears twice"))
            seen.add(column)
        missing = [column for column in required if column not in seen]
        if missing:
            report.problems.append(
                Problem(name, 1, f"missing required column(s): {', '.join(missing)}")
            )
            return
        unknown = [
            c for c in dict.fromkeys(columns) if c and c not in required and c not in optional
        ]
        if unknown:
            report.notes.append(f"{name}: ignored unknown column(s): {', '.join(unknown)}")
        width = len(columns)
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except UnicodeDecodeError as error:
                report.problems.append(
                    Problem(name, start, f"not UTF-8 text ({error.reason}); reading stopped")
                )
                return
            except csv.Error as error:
                report.problems.append(
                    Problem(name, start, f"malformed CSV ({error}); reading stopped")
                )
                return
            if not any(cell.strip() for cell in cells):
                continue
            rows += 1
            if len(cells) != width:
                report.problems.append(
                    Problem(name, start, f"expected {width} fields, found {len(cells)}")
                )
                continue
            yield start, {column: cell.strip() for column, cell in zip(columns, cells, strict=True)}
    if rows == 0:
        report.notes.append(f"{name}: no data rows")


def _utf8_lines(handle) -> Iterator[str]:
    for index, raw in enumerate(handle):
        if index == 0 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        yield raw.decode("utf-8")


def _short(error: BaseException) -> str:
    text = str(error)
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------------- items


def _required_text(row: dict[str, str], column: str, max_length: int, errors: list[str]) -> str:
    value = row[column]
    if not value:
        errors.append(f"{column}: empty")
    elif len(value) > max_length:
        errors.append(f"{column}: longer than {max_length} characters")
    return value


def _parse_items(path: Path, report: ImportReport) -> tuple[dict[str, ItemRow], list[ItemRow]]:
    """Return (valid items by item_id, rejected rows).

    Rejected rows are kept (with what could be read) so their images are still checked and
    interactions that name them are not reported a second time as unknown items.
    """
    name = path.name
    items: dict[str, ItemRow] = {}
    rejected: list[ItemRow] = []
    present: set[str] = set()
    for line, row in _read_csv(path, required=ITEM_REQUIRED, optional=ITEM_OPTIONAL, report=report):
        present.update(row)
        errors: list[str] = []

        item_id = _required_text(row, "item_id", 100, errors)
        title = _required_text(row, "title", 300, errors)
        artist = _required_text(row, "artist", 200, errors)
        values: dict = {}
        listed_at = None
        for column, parse, target in (
            ("year", partial(_parse_int, minimum=0, maximum=9999), "year"),
            ("width_cm", partial(_parse_float, minimum=0), "width_cm"),
            ("height_cm", partial(_parse_float, minimum=0), "height_cm"),
            ("price", _parse_price, "price"),
        ):
            if column in row:
                text = row[column]
                try:
                    values[target] = parse(text) if text else None
                except BadValue as error:
                    errors.append(f"{column}: {error}")
        if "medium" in row:
            if len(row["medium"]) > 100:
                errors.append("medium: longer than 100 characters")
            values["medium"] = row["medium"]
        if "style_tags" in row:
            values["style_tags"] = _split_tags(row["style_tags"])
        if "sold" in row:
            try:
                values["is_sold"] = _parse_bool(row["sold"]) if row["sold"] else False
            except BadValue as error:
                errors.append(f"sold: {error}")
        if row.get("listed_at"):
            try:
                listed_at = parse_when(row["listed_at"])
            except BadValue as error:
                errors.append(f"listed_at: {error}")
        if item_id and item_id in items:
            errors.append(f"duplicate item_id {item_id!r} (first on line {items[item_id].line})")
        parsed = ItemRow(
            line=line,
            item_id=item_id,
            title=title,
            artist=artist,
            values=values,
            listed_at=listed_at,
            image_value=row.get("image", ""),
        )
        if errors:
            report.problems.extend(Problem(name, line, error) for error in errors)
            rejected.append(parsed)
            continue
        items[item_id] = parsed
    return items, rejected


# --------------------------------------------------------------------------- images


def _image_location(
    value: str, root: Path, listing: dict[str, str], item_id: str
) -> tuple[Path | None, str, str | None]:
    """Return (resolved path or None, display name, refusal reason or None).

    `value` is the `image` cell; when empty, `<item_id><ext>` is looked for in the folder.
    A path that is absolute, has a `..` part, or resolves (symlinks followed) outside the
    images folder is refused.
    """
    if value:
        display = value
        if "\x00" in value:
            return None, display, "refused: the path contains a NUL character"
        if (
            PurePosixPath(value).is_absolute()
            or PureWindowsPath(value).is_absolute()
            or PureWindowsPath(value).drive
            or value.startswith(("\\", "/"))
        ):
            return None, display, "refused: absolute paths are not allowed"
        parts = PurePosixPath(value.replace("\\", "/")).parts
        if ".." in parts:
            return None, display, "refused: the path leaves the images folder ('..')"
        candidate = root.joinpath(*parts)
    else:
        found = None
        for extension in IMAGE_EXTENSIONS:
            for variant in (extension, extension.upper()):
                name = f"{item_id}{variant}"
                if name in listing:
                    found = name
                    break
            if found:
                break
        if found is None:
            return None, "", None
        display = found
        candidate = root / found
    try:
        resolved = candidate.resolve(strict=True)
    except FileNotFoundError:
        return None, display, "missing: no such file in the images folder"
    except (OSError, RuntimeError) as error:  # symlink loops, permissions
        return None, display, f"unreadable: {_short(error)}"
    if not resolved.is_relative_to(root):
        return None, display, "refused: the path resolves outside the images folder"
    if not resolved.is_file():
        return None, display, "not a regular file"
    return resolved, display, None


def _check_image(data: bytes, max_pixels: int) -> tuple[str | None, str | None]:
    """Return (stored extension, None) for a good image, or (None, reason)."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    return None, (
                        f"too large: {width}×{height} = {width * height} pixels "
                        f"(limit VITRINE_MAX_IMAGE_PIXELS = {max_pixels})"
                    )
                if width <= 0 or height <= 0:
                    return None, "empty image (zero width or height)"
                image_format = image.format or ""
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        return None, f"refused as a decompression bomb: {_short(error)}"
    except UnidentifiedImageError:
        return None, "not an image (Pillow cannot identify it)"
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
        return None, f"truncated or corrupt image: {_short(error)}"
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    extension = FORMAT_EXTENSIONS.get(image_format)
    if extension is None:
        return None, f"unsupported image format {image_format or 'unknown'}"
    return extension, None


def _validate_images(
    images_dir: Path,
    items: list[ItemRow],
    items_name: str,
    report: ImportReport,
    progress: ProgressCallback | None,
) -> dict[str, ImageSource]:
    """Check the image of every item row (rejected rows too); return the good ones by id."""
    if not images_dir.is_dir():
        report.problems.append(Problem(str(images_dir), None, "images folder not found"))
        return {}
    root = images_dir.resolve()
    try:
        listing = {entry.name: entry.name for entry in os.scandir(root)}
    except OSError as error:
        report.problems.append(Problem(str(images_dir), None, f"cannot list: {error}"))
        return {}
    max_pixels = int(settings.VITRINE_MAX_IMAGE_PIXELS)
    found: dict[str, ImageSource] = {}
    without: list[ItemRow] = []
    total = len(items)
    for done, item in enumerate(items, start=1):
        if progress and (done % 200 == 0 or done == total):
            progress("images", done, total)
        path, display, refusal = _image_location(item.image_value, root, listing, item.item_id)
        if refusal:
            report.problems.append(Problem(items_name, item.line, f"image {display!r}: {refusal}"))
            continue
        if path is None:
            without.append(item)
            continue
        try:
            size = path.stat().st_size
            if size > MAX_IMAGE_BYTES:
                report.problems.append(
                    Problem(
                        items_name,
                        item.line,
                        f"image {display!r}: file too large ({size} bytes, "
                        f"limit {MAX_IMAGE_BYTES})",
                    )
                )
                continue
            data = path.read_bytes()
        except OSError as error:
            report.problems.append(
                Problem(items_name, item.line, f"image {display!r}: unreadable: {_short(error)}")
            )
            continue
        extension, reason = _check_image(data, max_pixels)
        if reason:
            report.problems.append(Problem(items_name, item.line, f"image {display!r}: {reason}"))
            continue
        found[item.item_id] = ImageSource(
            item_id=item.item_id,
            line=item.line,
            path=path,
            display=display,
            checksum=hashlib.sha256(data).hexdigest(),
            extension=extension or ".img",
        )
    if without:
        examples = ", ".join(f"{i.item_id} (line {i.line})" for i in without[:MAX_NOTE_EXAMPLES])
        extra = len(without) - MAX_NOTE_EXAMPLES
        more = f" and {extra} more" if extra > 0 else ""
        report.notes.append(
            f"{len(without)} item(s) have no image column value and no "
            f"<item_id>.<ext> file in the images folder: {examples}{more}"
        )
    return found


# --------------------------------------------------------------------------- interactions


def _parse_interactions(path: Path, report: ImportReport) -> list[InteractionRow]:
    name = path.name
    kinds = {choice.value for choice in Interaction.Kind}
    rows: list[InteractionRow] = []
    seen: dict[tuple, InteractionRow] = {}
    duplicates: list[int] = []
    for line, row in _read_csv(
        path, required=INTERACTION_REQUIRED, optional=INTERACTION_OPTIONAL, report=report
    ):
        errors: list[str] = []
        user_id, item_id = row["user_id"], row["item_id"]
        for column, value in (("user_id", user_id), ("item_id", item_id)):
            if not value:
                errors.append(f"{column}: empty")
            elif len(value) > 100:
                errors.append(f"{column}: longer than 100 characters")
        timestamp = None
        if not row["timestamp"]:
            errors.append("timestamp: empty")
        else:
            try:
                timestamp = parse_when(row["timestamp"])
            except BadValue as error:
                errors.append(f"timestamp: {error}")
        kind = (row.get("kind") or Interaction.Kind.PURCHASE.value).lower()
        if kind not in kinds:
            errors.append(f"kind: unknown kind {row['kind']!r} (use {'/'.join(sorted(kinds))})")
        rating = None
        if row.get("rating"):
            try:
                rating = _parse_float(row["rating"])
            except BadValue as error:
                errors.append(f"rating: {error}")
        elif kind == Interaction.Kind.RATING:
            errors.append("rating: kind 'rating' needs a rating value")
        is_evaluation = False
        if row.get("evaluation"):
            try:
                is_evaluation = _parse_bool(row["evaluation"])
            except BadValue as error:
                errors.append(f"evaluation: {error}")
        if errors:
            report.problems.extend(Problem(name, line, error) for error in errors)
            continue
        record = InteractionRow(line, user_id, item_id, kind, timestamp, rating, is_evaluation)
        key = (user_id, item_id, kind, timestamp)
        first = seen.get(key)
        if first is not None:
            if (first.rating, first.is_evaluation) == (rating, is_evaluation):
                duplicates.append(line)
            else:
                report.problems.append(
                    Problem(
                        name,
                        line,
                        f"same user, item, kind and timestamp as line {first.line} "
                        "but a different rating or evaluation flag",
                    )
                )
            continue
        seen[key] = record
        rows.append(record)
    if duplicates:
        examples = ", ".join(map(str, duplicates[:MAX_NOTE_EXAMPLES]))
        report.notes.append(
            f"{name}: skipped {len(duplicates)} exact duplicate row(s) (lines {examples}"
            f"{', ...' if len(duplicates) > MAX_NOTE_EXAMPLES else ''})"
        )
    return rows


def _chunks(values: list, size: int = QUERY_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _existing_artwork_pks(external_ids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(external_ids)):
        found.update(Artwork.objects.filter(external_id__in=chunk).values_list("external_id", "pk"))
    return found


# --------------------------------------------------------------------------- embeddings


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


def _load_embeddings(path: Path, report: ImportReport) -> Embeddings | None:
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
        report.problems.append(Problem(name, None, f"cannot open: {_short(error)}"))
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
    except (ValueError, OSError, EOFError, KeyError) as error:
        report.problems.append(Problem(name, None, f"cannot read embeddings: {_short(error)}"))
        return None
    except Exception as error:  # zipfile.BadZipFile and friends from a damaged .npz
        report.problems.append(Problem(name, None, f"cannot read embeddings: {_short(error)}"))
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


# --------------------------------------------------------------------------- plan


@dataclass
class Plan:
    artists_by_name: dict[str, Artist] = field(default_factory=dict)  # existing
    new_artists: list[str] = field(default_factory=list)
    artworks: dict[str, Artwork] = field(default_factory=dict)  # existing, by external_id
    new_items: list[ItemRow] = field(default_factory=list)
    changed_items: list[tuple[ItemRow, list[str]]] = field(default_factory=list)
    images_to_store: list[ImageSource] = field(default_factory=list)
    other_artwork_pks: dict[str, int] = field(default_factory=dict)  # in the DB, not the CSV
    collectors: dict[str, int] = field(default_factory=dict)  # existing external_id -> pk
    new_collectors: list[str] = field(default_factory=list)
    new_interactions: list[InteractionRow] = field(default_factory=list)
    changed_interactions: list[tuple[int, InteractionRow]] = field(default_factory=list)
    feature_set_exists: bool = False


def _artwork_changes(existing: Artwork, item: ItemRow, artist: Artist | None) -> list[str]:
    changed = []
    if existing.title != item.title:
        changed.append("title")
    if artist is None or existing.artist_id != artist.pk:
        changed.append("artist")
    for name, value in item.values.items():
        current = getattr(existing, name)
        if name == "price" and current is not None and value is not None:
            if Decimal(current) != value:
                changed.append(name)
        elif current != value:
            changed.append(name)
    if item.listed_at is not None and existing.listed_at != item.listed_at:
        changed.append("listed_at")
    return changed


def _plan(
    items: dict[str, ItemRow],
    images: dict[str, ImageSource],
    interactions: list[InteractionRow],
    other_pks: dict[str, int],
    embeddings: Embeddings | None,
    embeddings_name: str,
    report: ImportReport,
) -> Plan:
    plan = Plan(other_artwork_pks=other_pks)
    # Artists, matched by external_id == name first, then by name.
    names = sorted({item.artist for item in items.values()})
    for chunk in _chunks(names):
        for artist in Artist.objects.filter(name__in=chunk).order_by("-pk"):
            plan.artists_by_name[artist.name] = artist  # lowest pk wins
        for artist in Artist.objects.filter(external_id__in=chunk):
            plan.artists_by_name[artist.external_id] = artist
    plan.new_artists = [name for name in names if name not in plan.artists_by_name]
    report.artists = Counts(
        created=len(plan.new_artists), unchanged=len(names) - len(plan.new_artists)
    )

    # Artworks.
    for chunk in _chunks(list(items)):
        for artwork in Artwork.objects.filter(external_id__in=chunk).defer("hidden_style"):
            plan.artworks[artwork.external_id] = artwork
    for item in items.values():
        existing = plan.artworks.get(item.item_id)
        if existing is None:
            plan.new_items.append(item)
            report.artworks.created += 1
            continue
        changes = _artwork_changes(existing, item, plan.artists_by_name.get(item.artist))
        if changes:
            plan.changed_items.append((item, changes))
            report.artworks.updated += 1
        else:
            report.artworks.unchanged += 1

    # Images: unchanged when the stored checksum matches and the file is still there.
    for item_id, image in images.items():
        existing = plan.artworks.get(item_id)
        if existing is None or not existing.image:
            plan.images_to_store.append(image)
            report.images.created += 1
        elif existing.image_checksum == image.checksum and default_storage.exists(
            existing.image.name
        ):
            report.images.unchanged += 1
        else:
            plan.images_to_store.append(image)
            report.images.updated += 1

    # Collectors.
    users = sorted({row.user_id for row in interactions})
    for chunk in _chunks(users):
        plan.collectors.update(
            Collector.objects.filter(external_id__in=chunk).values_list("external_id", "pk")
        )
    plan.new_collectors = [user for user in users if user not in plan.collectors]
    report.collectors = Counts(
        created=len(plan.new_collectors), unchanged=len(users) - len(plan.new_collectors)
    )

    # Interactions: existing ones can only exist for existing collectors and artworks.
    artwork_pks = {external_id: artwork.pk for external_id, artwork in plan.artworks.items()}
    artwork_pks.update(plan.other_artwork_pks)
    existing: dict[tuple, tuple[int, float | None, bool]] = {}
    known_collectors = sorted(plan.collectors.values())
    for chunk in _chunks(known_collectors):
        for (
            pk,
            collector_id,
            artwork_id,
            kind,
            timestamp,
            rating,
            is_eval,
        ) in Interaction.objects.filter(collector_id__in=chunk).values_list(
            "pk", "collector_id", "artwork_id", "kind", "timestamp", "rating", "is_evaluation"
        ):
            existing[(collector_id, artwork_id, kind, timestamp)] = (pk, rating, is_eval)
    for row in interactions:
        collector_pk = plan.collectors.get(row.user_id)
        artwork_pk = artwork_pks.get(row.item_id)
        found = None
        if collector_pk is not None and artwork_pk is not None:
            found = existing.get((collector_pk, artwork_pk, row.kind, row.timestamp))
        if found is None:
            plan.new_interactions.append(row)
            report.interactions.created += 1
        elif (found[1], found[2]) != (row.rating, row.is_evaluation):
            plan.changed_interactions.append((found[0], row))
            report.interactions.updated += 1
        else:
            report.interactions.unchanged += 1

    if embeddings is not None:
        plan.feature_set_exists = FeatureSet.objects.filter(
            name=embeddings_name, source=embeddings.source, n_items=len(embeddings.item_ids)
        ).exists()
        report.feature_set = (
            embeddings_name,
            len(embeddings.item_ids),
            embeddings.vectors.shape[1],
            not plan.feature_set_exists,
        )
    return plan


# --------------------------------------------------------------------------- write


def _write(
    plan: Plan,
    items: dict[str, ItemRow],
    embeddings: Embeddings | None,
    embeddings_name: str,
    report: ImportReport,
    stored: list[str],
    progress: ProgressCallback | None,
) -> None:
    now = timezone.now()
    # Artists.
    new_artists = []
    for name in plan.new_artists:
        new_artists.append(Artist(name=name, external_id=name if len(name) <= 100 else None))
    taken = set()
    for chunk in _chunks([a.external_id for a in new_artists if a.external_id]):
        taken.update(
            Artist.objects.filter(external_id__in=chunk).values_list("external_id", flat=True)
        )
    for artist in new_artists:
        if artist.external_id in taken:
            artist.external_id = None
    Artist.objects.bulk_create(new_artists, batch_size=BULK_BATCH)
    artists = dict(plan.artists_by_name)
    artists.update({artist.name: artist for artist in new_artists})
    if any(artist.pk is None for artist in new_artists):  # a backend without RETURNING
        for chunk in _chunks([a.name for a in new_artists]):
            for artist in Artist.objects.filter(name__in=chunk).order_by("-pk"):
                artists[artist.name] = artist

    # Artworks.
    if progress:
        progress("artworks", 0, len(items))
    new_artworks = []
    for item in plan.new_items:
        artwork = Artwork(
            external_id=item.item_id,
            title=item.title,
            artist=artists[item.artist],
            listed_at=item.listed_at or now,
            **item.values,
        )
        new_artworks.append(artwork)
    Artwork.objects.bulk_create(new_artworks, batch_size=BULK_BATCH)
    artworks = dict(plan.artworks)
    artworks.update({artwork.external_id: artwork for artwork in new_artworks})
    if any(artwork.pk is None for artwork in new_artworks):
        for chunk in _chunks([a.external_id for a in new_artworks]):
            for artwork in Artwork.objects.filter(external_id__in=chunk).defer("hidden_style"):
                artworks[artwork.external_id] = artwork
    changed_fields: set[str] = set()
    changed_objects = []
    for item, changes in plan.changed_items:
        artwork = artworks[item.item_id]
        artwork.title = item.title
        artwork.artist = artists[item.artist]
        for name, value in item.values.items():
            setattr(artwork, name, value)
        if item.listed_at is not None:
            artwork.listed_at = item.listed_at
        changed_fields.update(changes)
        changed_objects.append(artwork)
    if changed_objects:
        Artwork.objects.bulk_update(changed_objects, sorted(changed_fields), batch_size=BULK_BATCH)
    if progress:
        progress("artworks", len(items), len(items))

    # Images: re-read each file and make sure it is the one that was validated.
    total = len(plan.images_to_store)
    for done, image in enumerate(plan.images_to_store, start=1):
        artwork = artworks[image.item_id]
        data = image.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != image.checksum:
            raise ImportFailed(
                _failed(
                    report,
                    Problem(
                        report.items_file,
                        image.line,
                        f"image {image.display!r} changed during the import",
                    ),
                )
            )
        old_name = artwork.image.name if artwork.image else ""
        artwork.image = ""  # keep the old file until the transaction has committed
        artwork_image_save(artwork=artwork, data=data, extension=image.extension)
        stored.append(artwork.image.name)
        if old_name and old_name != artwork.image.name:
            transaction.on_commit(partial(_delete_quietly, old_name))
        if progress and (done % 200 == 0 or done == total):
            progress("storing images", done, total)

    # Collectors.
    new_collectors = [Collector(external_id=user) for user in plan.new_collectors]
    Collector.objects.bulk_create(new_collectors, batch_size=BULK_BATCH)
    collectors = dict(plan.collectors)
    collectors.update({c.external_id: c.pk for c in new_collectors})
    if any(c.pk is None for c in new_collectors):
        for chunk in _chunks(plan.new_collectors):
            collectors.update(
                Collector.objects.filter(external_id__in=chunk).values_list("external_id", "pk")
            )

    # Interactions.
    artwork_pks = {external_id: artwork.pk for external_id, artwork in artworks.items()}
    artwork_pks.update(plan.other_artwork_pks)
    if progress:
        progress("interactions", 0, len(plan.new_interactions))
    Interaction.objects.bulk_create(
        (
            Interaction(
                collector_id=collectors[row.user_id],
                artwork_id=artwork_pks[row.item_id],
                kind=row.kind,
                rating=row.rating,
                timestamp=row.timestamp,
                is_evaluation=row.is_evaluation,
            )
            for row in plan.new_interactions
        ),
        batch_size=BULK_BATCH,
    )
    if plan.changed_interactions:
        Interaction.objects.bulk_update(
            [
                Interaction(pk=pk, rating=row.rating, is_evaluation=row.is_evaluation)
                for pk, row in plan.changed_interactions
            ],
            ["rating", "is_evaluation"],
            batch_size=BULK_BATCH,
        )
    if progress:
        progress("interactions", len(plan.new_interactions), len(plan.new_interactions))

    # Embeddings, keyed by Artwork primary key.
    if embeddings is not None and not plan.feature_set_exists:
        feature_set = feature_set_create(
            name=embeddings_name,
            source=embeddings.source,
            artwork_ids=[artwork_pks[item_id] for item_id in embeddings.item_ids],
            vectors=embeddings.vectors,
        )
        stored.append(feature_set.file.name)
        report.feature_set_id = feature_set.pk
    elif embeddings is not None:
        report.feature_set_id = (
            FeatureSet.objects.filter(name=embeddings_name, source=embeddings.source)
            .values_list("pk", flat=True)
            .first()
        )


def _delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except OSError:
        pass


def _failed(report: ImportReport, problem: Problem) -> ImportReport:
    report.problems.append(problem)
    return report


# --------------------------------------------------------------------------- entry point


def gallery_import(
    *,
    items_path: str | os.PathLike,
    interactions_path: str | os.PathLike,
    images_dir: str | os.PathLike | None = None,
    embeddings_path: str | os.PathLike | None = None,
    embeddings_name: str = "imported",
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Validate and import a gallery; raise ImportFailed (nothing written) on any problem.

    `progress(stage, done, total)` is called now and then, e.g. to drive a progress bar.
    With `dry_run` everything is validated and counted against the database, and nothing
    is written.
    """
    items_path = Path(items_path)
    interactions_path = Path(interactions_path)
    report = ImportReport(
        items_file=items_path.name, interactions_file=interactions_path.name, dry_run=dry_run
    )
    embeddings_name = (embeddings_name or "").strip()
    if not embeddings_name or len(embeddings_name) > 100:
        report.problems.append(
            Problem("--embeddings-name", None, "must be 1 to 100 characters long")
        )

    # 1. Validate.
    if progress:
        progress("items", 0, None)
    items, rejected = _parse_items(items_path, report)
    rows_with_ids = sorted([*items.values(), *rejected], key=lambda item: item.line)
    rows_with_ids = [item for item in rows_with_ids if item.item_id]
    mentioned = {item.item_id for item in rows_with_ids}
    images: dict[str, ImageSource] = {}
    if images_dir is not None:
        images = _validate_images(
            Path(images_dir), rows_with_ids, items_path.name, report, progress
        )
    elif any(item.image_value for item in items.values()):
        report.notes.append(
            f"{items_path.name}: the image column was ignored because no images folder was given"
        )
    if progress:
        progress("interactions", 0, None)
    interactions = _parse_interactions(interactions_path, report)
    embeddings = None
    if embeddings_path is not None:
        embeddings = _load_embeddings(Path(embeddings_path), report)

    # Item ids that are not in this file must already be in the database.
    referenced = {row.item_id for row in interactions} | set(
        embeddings.item_ids if embeddings else ()
    )
    other_pks = _existing_artwork_pks(referenced - mentioned)
    for row in interactions:
        if row.item_id not in mentioned and row.item_id not in other_pks:
            report.problems.append(
                Problem(
                    interactions_path.name,
                    row.line,
                    f"unknown item_id {row.item_id!r} (not in {items_path.name} "
                    "nor in the catalogue)",
                )
            )
    if embeddings is not None:
        for row, item_id in enumerate(embeddings.item_ids, start=1):
            if item_id not in mentioned and item_id not in other_pks:
                report.problems.append(
                    Problem(
                        Path(embeddings_path).name,
                        None,
                        f"row {row}: unknown item id {item_id!r} (not in {items_path.name} "
                        "nor in the catalogue)",
                    )
                )
    if report.problems:
        order = {items_path.name: 0, interactions_path.name: 1}
        report.problems.sort(key=lambda p: (order.get(p.file, 2), p.line or 0))
        raise ImportFailed(report)

    # 2. Plan.
    plan = _plan(items, images, interactions, other_pks, embeddings, embeddings_name, report)
    if dry_run:
        return report

    # 3. Write, all or nothing.
    stored: list[str] = []
    try:
        with transaction.atomic():
            _write(plan, items, embeddings, embeddings_name, report, stored, progress)
    except IntegrityError as error:
        _cleanup(stored)
        report.problems.append(
            Problem(
                "database",
                None,
                f"the catalogue changed during the import ({_short(error)}); run it again",
            )
        )
        raise ImportFailed(report) from error
    except BaseException:
        _cleanup(stored)
        raise
    report.written = True
    return report


def _cleanup(names: list[str]) -> None:
    for name in names:
        _delete_quietly(name)
