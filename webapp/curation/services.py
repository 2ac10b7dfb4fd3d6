"""Writes of the curation site: thumbnails, files derived from the artworks' images, and
the photos a curator searched with and asked to keep.

A thumbnail is named by the image's sha256 and a size from a fixed list, never by anything
a request spells freely, so no URL can reach a path outside ``thumbs/``; and since a
checksum names one content, a thumbnail never goes stale and can be cached forever.
"""

import hashlib
import io
import re

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps, UnidentifiedImageError

from webapp.catalogue.models import Artwork

THUMBNAIL_SIZES = (160, 320, 640)
THUMBNAIL_FOLDER = "thumbs"
KEPT_PHOTOS_FOLDER = "search-photos"
_CHECKSUM = re.compile(r"[0-9a-f]{64}")


class ThumbnailError(ValueError):
    """A thumbnail was asked for with a size or a name the site does not make."""


def thumbnail_name(*, checksum: str, size: int) -> str:
    """``thumbs/<size>/<sha256>.webp``; anything else raises ThumbnailError."""
    if size not in THUMBNAIL_SIZES:
        raise ThumbnailError(f"thumbnail size must be one of {THUMBNAIL_SIZES}, not {size!r}")
    if not isinstance(checksum, str) or not _CHECKSUM.fullmatch(checksum):
        raise ThumbnailError("a thumbnail is named by a sha256 hex digest")
    return f"{THUMBNAIL_FOLDER}/{size}/{checksum}.webp"


def thumbnail_ensure(*, checksum: str, size: int) -> str | None:
    """The storage name of the thumbnail, made on first request; None when no artwork has
    that image or the image cannot be read."""
    name = thumbnail_name(checksum=checksum, size=size)
    if default_storage.exists(name):
        return name
    artwork = (
        Artwork.objects.filter(image_checksum=checksum).exclude(image="").only("image").first()
    )
    if artwork is None:
        return None
    try:
        data = thumbnail_render(image_name=artwork.image.name, size=size)
    except (OSError, UnidentifiedImageError, ThumbnailError, Image.DecompressionBombError):
        return None
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:  # another request wrote it meanwhile: the same bytes, keep theirs
        default_storage.delete(saved)
    return name


def thumbnail_render(*, image_name: str, size: int) -> bytes:
    """WebP bytes of the stored image scaled to fit size x size (never enlarged)."""
    with default_storage.open(image_name, "rb") as handle, Image.open(handle) as image:
        if image.width * image.height > settings.VITRINE_MAX_IMAGE_PIXELS:
            raise ThumbnailError(f"{image_name} is larger than VITRINE_MAX_IMAGE_PIXELS")
        image.draft("RGB", (size, size))  # JPEG decodes at a reduced scale: far faster
        picture = ImageOps.exif_transpose(image)
        picture = _flatten(picture)
        picture.thumbnail((size, size), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        picture.save(buffer, "WEBP", quality=82, method=4)
    return buffer.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on a white ground: transparent pixels would otherwise turn black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        ground = Image.new("RGB", rgba.size, (255, 255, 255))
        ground.paste(rgba, mask=rgba.getchannel("A"))
        return ground
    return image.convert("RGB")


def search_photo_keep(*, user, data: bytes, extension: str) -> str:
    """Store a photo a curator searched with and asked to keep, in their own folder
    (``search-photos/<user pk>/<sha256><ext>``: the same photo kept twice is one file);
    return its storage name. data must have passed image_check, which gave extension."""
    if not re.fullmatch(r"\.[a-z]{3,4}", extension or ""):
        raise ValueError(f"not an image extension: {extension!r}")
    name = f"{KEPT_PHOTOS_FOLDER}/{int(user.pk)}/{hashlib.sha256(data).hexdigest()}{extension}"
    if default_storage.exists(name):
        return name
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:  # another request kept it meanwhile: the same bytes, keep theirs
        default_storage.delete(saved)
    return name
