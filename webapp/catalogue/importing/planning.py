"""Phase 2: compare the validated input with what the database holds, without writing.

Also the chunked look-ups that the write phase repeats for rows it has just created.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.files.storage import default_storage

from webapp.catalogue.importing.embeddings import Embeddings
from webapp.catalogue.importing.images import ImageSource
from webapp.catalogue.importing.report import Counts, ImportReport
from webapp.catalogue.importing.rows import InteractionRow, ItemRow
from webapp.catalogue.models import Artist, Artwork, Collector, FeatureSet, Interaction

QUERY_CHUNK = 500


# --------------------------------------------------------------------------- look-ups


def chunks(values: list, size: int = QUERY_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def existing_artwork_pks(external_ids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(sorted(external_ids)):
        found.update(Artwork.objects.filter(external_id__in=chunk).values_list("external_id", "pk"))
    return found


def artists_by_name(names: list[str]) -> dict[str, Artist]:
    """Artists with these names; of two with the same name, the lowest pk wins."""
    found: dict[str, Artist] = {}
    for chunk in chunks(names):
        for artist in Artist.objects.filter(name__in=chunk).order_by("-pk"):
            found[artist.name] = artist
    return found


def artworks_by_external_id(external_ids: Iterable[str]) -> dict[str, Artwork]:
    found: dict[str, Artwork] = {}
    for chunk in chunks(list(external_ids)):
        for artwork in Artwork.objects.filter(external_id__in=chunk).defer("hidden_style"):
            found[artwork.external_id] = artwork
    return found


def collector_pks(external_ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(external_ids):
        found.update(
            Collector.objects.filter(external_id__in=chunk).values_list("external_id", "pk")
        )
    return found


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

    def artwork_pks(self, artworks: dict[str, Artwork]) -> dict[str, int]:
        """external_id -> pk of these artworks and of the others the input refers to."""
        pks = {external_id: artwork.pk for external_id, artwork in artworks.items()}
        pks.update(self.other_artwork_pks)
        return pks


def artwork_changes(existing: Artwork, item: ItemRow, artist: Artist | None) -> list[str]:
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


def make_plan(
    items: dict[str, ItemRow],
    images: dict[str, ImageSource],
    interactions: list[InteractionRow],
    other_pks: dict[str, int],
    embeddings: Embeddings | None,
    embeddings_name: str,
    report: ImportReport,
    *,
    artworks: dict[str, Artwork] | None = None,
) -> Plan:
    """Count what the write would create, update or leave unchanged, in `report` too.

    `artworks`: the items' works already in the catalogue (artworks_by_external_id), when
    the caller has looked them up already.
    """
    plan = Plan(other_artwork_pks=other_pks)
    # Artists, matched by external_id == name first, then by name.
    names = sorted({item.artist for item in items.values()})
    plan.artists_by_name = artists_by_name(names)
    for chunk in chunks(names):
        for artist in Artist.objects.filter(external_id__in=chunk):
            plan.artists_by_name[artist.external_id] = artist
    plan.new_artists = [name for name in names if name not in plan.artists_by_name]
    report.artists = Counts(
        created=len(plan.new_artists), unchanged=len(names) - len(plan.new_artists)
    )

    # Artworks.
    plan.artworks = artworks_by_external_id(items) if artworks is None else artworks
    for item in items.values():
        existing = plan.artworks.get(item.item_id)
        if existing is None:
            plan.new_items.append(item)
            report.artworks.created += 1
            continue
        changes = artwork_changes(existing, item, plan.artists_by_name.get(item.artist))
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
    plan.collectors = collector_pks(users)
    plan.new_collectors = [user for user in users if user not in plan.collectors]
    report.collectors = Counts(
        created=len(plan.new_collectors), unchanged=len(users) - len(plan.new_collectors)
    )

    # Interactions: existing ones can only exist for existing collectors and artworks.
    artwork_pks = plan.artwork_pks(plan.artworks)
    existing: dict[tuple, tuple[int, float | None, bool, float]] = {}
    known_collectors = sorted(plan.collectors.values())
    for chunk in chunks(known_collectors):
        for (
            pk,
            collector_id,
            artwork_id,
            kind,
            timestamp,
            rating,
            is_eval,
            weight,
        ) in Interaction.objects.filter(collector_id__in=chunk).values_list(
            "pk",
            "collector_id",
            "artwork_id",
            "kind",
            "timestamp",
            "rating",
            "is_evaluation",
            "weight",
        ):
            existing[(collector_id, artwork_id, kind, timestamp)] = (pk, rating, is_eval, weight)
    for row in interactions:
        collector_pk = plan.collectors.get(row.user_id)
        artwork_pk = artwork_pks.get(row.item_id)
        found = None
        if collector_pk is not None and artwork_pk is not None:
            found = existing.get((collector_pk, artwork_pk, row.kind, row.timestamp))
        if found is None:
            plan.new_interactions.append(row)
            report.interactions.created += 1
        elif found[1:] != (row.rating, row.is_evaluation, row.weight):
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
