"""A new work listed by the shop: stored at once, described by a worker, recommended as a
cold work as soon as its vectors exist."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.api.events import EventError
from webapp.catalogue.models import Artist, Artwork

DESCRIBE_TASK = "vitrine.describe_artwork"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkIn:
    external_id: str
    title: str
    artist: str  # the artist's name
    medium: str = ""
    price: str | None = None
    year: int | None = None
    listed_at: datetime | None = None


def work_status(artwork: Artwork) -> str:
    if artwork.features_error:
        return "failed"
    return "pending" if artwork.features_pending else "ready"


def work_list(*, work: WorkIn, image: bytes | None) -> Artwork:
    """Create the work with its image; its features are computed by a worker. Raises
    EventError naming the field, having stored nothing (no row, no file)."""
    from webapp.catalogue.importing.images import image_check
    from webapp.catalogue.services import artwork_image_save

    for name in ("external_id", "title", "artist"):
        value = getattr(work, name)
        if not value or len(value) > 100:
            raise EventError(name, "required, at most 100 characters")
    if Artwork.objects.filter(external_id=work.external_id).exists():
        raise EventError("external_id", f"a work {work.external_id!r} exists already", 409)
    price = None
    if work.price not in (None, ""):
        try:
            price = Decimal(str(work.price))
        except InvalidOperation:
            raise EventError("price", f"not a number: {work.price!r}") from None
        if not price.is_finite() or price < 0 or price >= Decimal("1e10"):
            raise EventError("price", "a price from 0 to 10^10")
    if work.year is not None and not 1000 <= work.year <= timezone.now().year + 1:
        raise EventError("year", f"{work.year} is not a plausible year")
    if not image:
        raise EventError("image", "upload the work's image (the visual models read it)")
    extension, problem = image_check(image, settings.VITRINE_MAX_IMAGE_PIXELS)
    if problem:
        raise EventError("image", problem)
    artwork = None
    try:
        with transaction.atomic():
            artist = Artist.objects.filter(name=work.artist).first() or Artist.objects.create(
                name=work.artist
            )
            artwork = Artwork.objects.create(
                external_id=work.external_id,
                title=work.title,
                artist=artist,
                medium=work.medium[:100],
                price=price,
                year=work.year,
                listed_at=work.listed_at or timezone.now(),
                features_pending=True,
            )
            artwork_image_save(artwork=artwork, data=image, extension=extension)
            transaction.on_commit(lambda: artwork_describe_enqueue(artwork_id=artwork.pk))
    except Exception:
        # The row is rolled back; the file must go with it. The name is read from the
        # instance, not after artwork_image_save returns: that service stores the file
        # before its own UPDATE, and when the UPDATE is what failed the file was left.
        if artwork is not None and artwork.image.name:
            artwork.image.storage.delete(artwork.image.name)
        raise
    return artwork


def artwork_describe_enqueue(*, artwork_id: int) -> None:
    from webapp.jobs.services import celery_client

    try:
        celery_client().send_task(
            DESCRIBE_TASK, args=[artwork_id], queue=settings.CELERY_TASK_DEFAULT_QUEUE
        )
    except Exception as error:  # the work stays pending and says why
        Artwork.objects.filter(pk=artwork_id).update(
            features_error=f"could not reach the task broker: {error}"[:300]
        )


def artwork_describe(*, artwork_id: int) -> str:
    """The worker's side: describe the image with every feature set a served model uses
    (the vectors land in the feature cache, where serving reads them), then let the work
    be recommended."""
    from webapp.jobs.features import features_for_artworks
    from webapp.jobs.models import TrainingJob

    artwork = Artwork.objects.filter(pk=artwork_id).first()
    if artwork is None or not artwork.features_pending:
        return "nothing to do"
    feature_sets = {
        job.feature_set.pk: job.feature_set
        for job in TrainingJob.objects.filter(
            kind=TrainingJob.Kind.TRAIN, is_active=True, feature_set__isnull=False
        ).select_related("feature_set")
        if job.feature_set.params
    }
    try:
        for feature_set in feature_sets.values():
            features_for_artworks(feature_set=feature_set, artworks=[artwork])
    except Exception as error:
        logger.warning("could not describe work %s", artwork_id, exc_info=True)
        Artwork.objects.filter(pk=artwork_id).update(features_error=str(error)[:300])
        return "failed"
    Artwork.objects.filter(pk=artwork_id).update(features_pending=False, features_error="")
    return "ready"
