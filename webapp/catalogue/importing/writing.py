"""Phase 3: write the plan inside one transaction, all or nothing.

Image files and the feature-set file are not covered by the database transaction, so they
are written to a staging folder and moved to their final names only once the transaction has
committed (staging.py); a rollback, an exception or a signal (interrupts.py) removes the
folder, so a failed import leaves no file behind. Files that become obsolete (a replaced
image) are deleted once the transaction has committed too.
"""

from __future__ import annotations

import hashlib
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from webapp.catalogue.importing.embeddings import Embeddings
from webapp.catalogue.importing.interrupts import interrupts_raise, signals_held
from webapp.catalogue.importing.planning import (
    Plan,
    artists_by_name,
    artworks_by_external_id,
    chunks,
    collector_pks,
)
from webapp.catalogue.importing.report import (
    ImportFailed,
    ImportReport,
    Problem,
    ProgressCallback,
    progress_tick,
    short_error,
)
from webapp.catalogue.importing.rows import ItemRow
from webapp.catalogue.importing.staging import FEATURE_SETS, IMAGES, ImportStaging
from webapp.catalogue.models import Artist, Artwork, Collector, FeatureSet, Interaction
from webapp.catalogue.services import (
    artwork_image_file_name,
    artwork_sales_apply,
    feature_set_create,
)

BULK_BATCH = 1000


def write(
    plan: Plan,
    items: dict[str, ItemRow],
    embeddings: Embeddings | None,
    embeddings_name: str,
    report: ImportReport,
    progress: ProgressCallback | None,
) -> None:
    """Write the plan in one transaction; the files follow once it has committed.

    A unique-constraint clash (someone else changed the catalogue meanwhile) is reported as
    ImportFailed; SIGINT, SIGTERM and SIGHUP raise ImportInterrupted; any other exception
    is re-raised as it is. The transaction is durable (RuntimeError inside a caller's
    transaction), because the files could not follow that transaction's commit or rollback.
    """
    staging = ImportStaging()

    def committed() -> bool:
        return staging.state in ("publishing", "published")

    with interrupts_raise(committed=committed):
        try:
            with signals_held() as hold, transaction.atomic(durable=True):
                transaction.on_commit(staging.publish)  # first: before old files go
                _write_plan(plan, items, embeddings, embeddings_name, report, staging, progress)
                hold()  # no signal between the commit and the files being in place
        except IntegrityError as error:
            staging.discard()
            report.problems.append(
                Problem(
                    "database",
                    None,
                    f"the catalogue changed during the import ({short_error(error)}); run it again",
                )
            )
            raise ImportFailed(report) from error
        except BaseException:
            if staging.state == "publishing":  # committed: the next import moves the rest in
                staging.abandon()
            elif staging.state != "published":
                staging.discard()
            raise
    report.written = True


def _write_plan(
    plan: Plan,
    items: dict[str, ItemRow],
    embeddings: Embeddings | None,
    embeddings_name: str,
    report: ImportReport,
    staging: ImportStaging,
    progress: ProgressCallback | None,
) -> None:
    artists = _write_artists(plan)
    if progress:
        progress("artworks", 0, len(items))
    artworks = _write_artworks(plan, artists)
    if progress:
        progress("artworks", len(items), len(items))
    _store_images(plan, artworks, report, staging, progress)
    collectors = _write_collectors(plan)
    artwork_pks = plan.artwork_pks(artworks)
    if progress:
        progress("interactions", 0, len(plan.new_interactions))
    _write_interactions(plan, collectors, artwork_pks)
    # A purchase is a sale: the works of this import are sold from their first purchase.
    artwork_sales_apply(artwork_ids=artwork_pks.values())
    for conflict in report.sale_conflicts:
        conflict.artwork_pk = artwork_pks.get(conflict.item_id)
    if progress:
        progress("interactions", len(plan.new_interactions), len(plan.new_interactions))
    if embeddings is not None:
        _write_feature_set(plan, embeddings, embeddings_name, artwork_pks, report, staging)


def _write_artists(plan: Plan) -> dict[str, Artist]:
    """Create the new artists; return every artist of the import by name."""
    new_artists = []
    for name in plan.new_artists:
        new_artists.append(Artist(name=name, external_id=name if len(name) <= 100 else None))
    taken = set()
    for chunk in chunks([a.external_id for a in new_artists if a.external_id]):
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
        artists.update(artists_by_name([a.name for a in new_artists]))
    return artists


def _write_artworks(plan: Plan, artists: dict[str, Artist]) -> dict[str, Artwork]:
    """Create the new artworks and update the changed ones; return all by external_id."""
    now = timezone.now()
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
        artworks.update(artworks_by_external_id([a.external_id for a in new_artworks]))
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
    return artworks


def _store_images(
    plan: Plan,
    artworks: dict[str, Artwork],
    report: ImportReport,
    staging: ImportStaging,
    progress: ProgressCallback | None,
) -> None:
    """Stage each image, re-read to make sure it is the file that was validated, under a
    name made from the item id and the checksum."""
    total = len(plan.images_to_store)
    changed: list[Artwork] = []
    for done, image in enumerate(plan.images_to_store, start=1):
        artwork = artworks[image.item_id]
        data = image.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != image.checksum:
            report.problems.append(
                Problem(
                    report.items_file,
                    image.line,
                    f"image {image.display!r} changed during the import",
                )
            )
            raise ImportFailed(report)
        old_name = artwork.image.name if artwork.image else ""
        name = artwork.image.field.generate_filename(
            artwork,
            artwork_image_file_name(
                external_id=artwork.external_id, checksum=image.checksum, extension=image.extension
            ),
        )
        staging.add(IMAGES, name, data)
        artwork.image = name
        artwork.image_checksum = image.checksum
        changed.append(artwork)
        if old_name and old_name != name:  # kept until the transaction has committed
            transaction.on_commit(partial(_old_image_delete, old_name))
        progress_tick(progress, "storing images", done, total)
    Artwork.objects.bulk_update(changed, ["image", "image_checksum"], batch_size=BULK_BATCH)


def _write_collectors(plan: Plan) -> dict[str, int]:
    """Create the new collectors; return every collector's pk by external_id."""
    new_collectors = [Collector(external_id=user) for user in plan.new_collectors]
    Collector.objects.bulk_create(new_collectors, batch_size=BULK_BATCH)
    collectors = dict(plan.collectors)
    collectors.update({c.external_id: c.pk for c in new_collectors})
    if any(c.pk is None for c in new_collectors):
        collectors.update(collector_pks(plan.new_collectors))
    return collectors


def _write_interactions(
    plan: Plan, collectors: dict[str, int], artwork_pks: dict[str, int]
) -> None:
    Interaction.objects.bulk_create(
        (
            Interaction(
                collector_id=collectors[row.user_id],
                artwork_id=artwork_pks[row.item_id],
                kind=row.kind,
                weight=row.weight,
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
                Interaction(
                    pk=pk, rating=row.rating, is_evaluation=row.is_evaluation, weight=row.weight
                )
                for pk, row in plan.changed_interactions
            ],
            ["rating", "is_evaluation", "weight"],
            batch_size=BULK_BATCH,
        )


def _write_feature_set(
    plan: Plan,
    embeddings: Embeddings,
    embeddings_name: str,
    artwork_pks: dict[str, int],
    report: ImportReport,
    staging: ImportStaging,
) -> None:
    """Store the embeddings, keyed by Artwork primary key, unless this file is already in."""
    if not plan.feature_set_exists:
        feature_set = feature_set_create(
            name=embeddings_name,
            source=embeddings.source,
            artwork_ids=[artwork_pks[item_id] for item_id in embeddings.item_ids],
            vectors=embeddings.vectors,
            stage=partial(staging.add, FEATURE_SETS),  # the artefact storage's staging
        )
        report.feature_set_id = feature_set.pk
    else:
        report.feature_set_id = (
            FeatureSet.objects.filter(name=embeddings_name, source=embeddings.source)
            .values_list("pk", flat=True)
            .first()
        )


def _old_image_delete(name: str) -> None:
    """Delete a replaced image once no work refers to it any more."""
    if Artwork.objects.filter(image=name).exists():
        return
    try:
        IMAGES.storage.delete(name)
    except OSError:
        pass
