"""Writes to the catalogue. Views, commands and tasks call these and hold no logic."""

import hashlib
import io
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Min

from webapp import permissions
from webapp.catalogue.models import Artwork, FeatureSet, Interaction

SALES_CHUNK = 500


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_file_stem(value: str) -> str:
    """A file-name stem built from an id: no separators, no dots, so no path traversal."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(value))
    return cleaned.strip("_")[:80] or "item"


def artwork_image_file_name(*, external_id: str, checksum: str, extension: str) -> str:
    """The file name of a work's image (before the field's folder): the id and the sha256
    prefix, so the same image always gets the same name. Only the extension of the
    caller's file is used, checked here."""
    extension = extension.lower()
    if extension not in {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}:
        extension = ".img"
    return f"{safe_file_stem(external_id)}-{checksum[:12]}{extension}"


def artwork_image_save(*, artwork: Artwork, data: bytes, extension: str = ".jpg") -> None:
    """Store an artwork's image under a name derived from its id, and record the checksum.

    The caller's file name is never used as a path: only its extension, checked here.
    """
    checksum = sha256_bytes(data)
    if artwork.image_checksum == checksum and artwork.image:
        return
    name = artwork_image_file_name(
        external_id=artwork.external_id, checksum=checksum, extension=extension
    )
    if artwork.image:
        artwork.image.delete(save=False)
    artwork.image.save(name, ContentFile(data), save=False)
    artwork.image_checksum = checksum
    artwork.save(update_fields=["image", "image_checksum"])


def artwork_sales_apply(*, artwork_ids: Iterable[int] | None = None) -> int:
    """Derive each work's sale from its purchase events: ``sold_at`` = the earliest purchase
    and ``is_sold`` = True; a work without a purchase gets ``sold_at`` None.

    Only these works (default: the whole catalogue). ``is_sold`` is never set back to False
    here: a work sold outside the recorded history (an import's ``sold`` column) stays sold,
    with its sale time unknown. Returns how many works changed.
    """
    works = Artwork.objects.all()
    ids = None if artwork_ids is None else sorted(set(artwork_ids))
    changed: list[Artwork] = []
    for chunk in [None] if ids is None else _chunks(ids):
        scope = works if chunk is None else works.filter(pk__in=chunk)
        purchases = Interaction.objects.filter(kind=Interaction.Kind.PURCHASE)
        if chunk is not None:
            purchases = purchases.filter(artwork_id__in=chunk)
        first_sale = dict(
            purchases.values("artwork_id")
            .annotate(first=Min("timestamp"))
            .values_list("artwork_id", "first")
        )
        for pk, is_sold, sold_at in scope.values_list("pk", "is_sold", "sold_at"):
            wanted = first_sale.get(pk)
            if sold_at != wanted or (wanted is not None and not is_sold):
                changed.append(
                    Artwork(pk=pk, sold_at=wanted, is_sold=is_sold or wanted is not None)
                )
    Artwork.objects.bulk_update(changed, ["sold_at", "is_sold"], batch_size=1000)
    return len(changed)


def _chunks(values: list, size: int = SALES_CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def feature_set_create(
    *,
    name: str,
    source: str,
    artwork_ids: list[int],
    vectors: np.ndarray,
    params: dict | None = None,
    arrays: dict[str, np.ndarray] | None = None,
    stage: Callable[[str, bytes], None] | None = None,
) -> FeatureSet:
    """Save item vectors (n_items, dim) keyed by Artwork primary key as a new FeatureSet.

    The file is written completely before the row exists, so a crash never leaves a row
    pointing at half a file. With `stage(name, data)` the file is handed to the caller
    instead (an import stages it and moves it into place once its transaction commits).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    ids = np.asarray(artwork_ids, dtype=np.int64)
    if vectors.ndim != 2 or len(ids) != len(vectors):
        raise ValueError(
            f"vectors must be (n_items, dim) matching {len(ids)} ids, got {vectors.shape}"
        )
    buffer = io.BytesIO()
    np.savez(buffer, artwork_ids=ids, vectors=vectors, **(arrays or {}))
    data = buffer.getvalue()
    checksum = sha256_bytes(data)
    stem = safe_file_stem(name)
    storage = FeatureSet._meta.get_field("file").storage  # the artefacts', not the images'
    path = str(PurePosixPath("features") / f"{stem}-{checksum[:12]}.npz")
    if stage is not None:
        stage(path, data)
    else:
        path = storage.save(path, ContentFile(data))
    try:
        with transaction.atomic():
            feature_set = FeatureSet(
                name=name,
                source=source,
                params=params or {},
                sha256=checksum,
                size_bytes=len(data),
                dim=vectors.shape[1],
                n_items=vectors.shape[0],
            )
            feature_set.file.name = path
            feature_set.save()
    except Exception:
        if stage is None:
            storage.delete(path)
        raise
    return feature_set


def gallery_import_by(*, user, **options):
    """`gallery_import` (webapp.catalogue.importing) for a person: refused with
    PermissionDenied, before any file is read, unless `user` may import a gallery.
    The options are gallery_import's; returns its ImportReport."""
    from webapp.catalogue.importing import gallery_import  # it imports this module

    permissions.permission_require(user=user, permission=permissions.IMPORT)
    return gallery_import(**options)
