"""Image files: where an item's image is (safely inside the images folder), and whether
Pillow can read it completely within the size limits."""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from django.conf import settings
from PIL import Image, ImageFile, UnidentifiedImageError

from webapp.catalogue.importing.report import (
    MAX_NOTE_EXAMPLES,
    ImportReport,
    Problem,
    ProgressCallback,
    progress_tick,
    short_error,
)
from webapp.catalogue.importing.rows import ItemRow

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
#: A file larger than this is refused before it is read (the pixel limit is checked too).
MAX_IMAGE_BYTES = 256 * 1024 * 1024
#: The pixel count in Pillow's DecompressionBombError / Warning message.
BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


@dataclass
class ImageSource:
    """A validated image: where it is, what it holds."""

    item_id: str
    line: int
    path: Path  # resolved, inside the images folder
    display: str  # path relative to the images folder, for messages
    checksum: str
    extension: str


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
        return None, display, f"unreadable: {short_error(error)}"
    if not resolved.is_relative_to(root):
        return None, display, "refused: the path resolves outside the images folder"
    if not resolved.is_file():
        return None, display, "not a regular file"
    return resolved, display, None


def _read_image(path: Path) -> tuple[bytes | None, str | None]:
    """Return (the file's bytes, None), or (None, reason) for a file too large or unreadable."""
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            return None, f"file too large ({size} bytes, limit {MAX_IMAGE_BYTES})"
        return path.read_bytes(), None
    except OSError as error:
        return None, f"unreadable: {short_error(error)}"


def _bomb_reason(error: Exception, max_pixels: int) -> str:
    """Pillow refused the image before we saw its size; say so in Vitrine's terms (its
    message quotes PIL.Image.MAX_IMAGE_PIXELS, a limit nobody here configures)."""
    found = BOMB_PIXELS.search(str(error))
    pixels = int(found.group(1)) if found else None
    limit = f"limit VITRINE_MAX_IMAGE_PIXELS = {max_pixels}"
    if pixels is None:
        return f"too large: refused as a decompression bomb ({limit})"
    if pixels > max_pixels:
        return f"too large: {pixels} pixels ({limit}), refused as a decompression bomb"
    # Only when someone lowered Pillow's own guard below Vitrine's limit.
    return (
        f"too large: {pixels} pixels, refused as a decompression bomb by Pillow, whose "
        f"PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS} is below Vitrine's {limit}"
    )


def image_check(data: bytes, max_pixels: int) -> tuple[str | None, str | None]:
    """Return (stored extension, None) for a good image, or (None, reason): Pillow must
    identify it as a supported format and decode it completely, within max_pixels and
    without tripping its decompression-bomb guard. Imports and photo uploads share it."""
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
        return None, _bomb_reason(error, max_pixels)
    except UnidentifiedImageError:
        return None, "not an image (Pillow cannot identify it)"
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
        return None, f"truncated or corrupt image: {short_error(error)}"
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    extension = FORMAT_EXTENSIONS.get(image_format)
    if extension is None:
        return None, f"unsupported image format {image_format or 'unknown'}"
    return extension, None


def validate_images(
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
        progress_tick(progress, "images", done, total)
        path, display, refusal = _image_location(item.image_value, root, listing, item.item_id)
        if path is None and refusal is None:
            without.append(item)
            continue
        if refusal is None:
            data, refusal = _read_image(path)
        if refusal is None:
            extension, refusal = image_check(data, max_pixels)
        if refusal:
            report.problems.append(Problem(items_name, item.line, f"image {display!r}: {refusal}"))
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
