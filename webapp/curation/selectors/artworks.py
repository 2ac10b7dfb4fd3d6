"""The catalogue as curators browse it: filters, search, facets, who bought a work."""

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from webapp.catalogue.datasets import CONSUMED_KINDS
from webapp.catalogue.models import Artist, Artwork, Interaction

SORTS = {
    "newest": ("-listed_at", "-id"),
    "oldest": ("listed_at", "id"),
    "price": ("price", "id"),
    "-price": ("-price", "id"),
    "title": ("title", "id"),
}
# Facets change only when works are added or edited; a few minutes' lag is harmless and
# spares a scan of every work's tags per page.
FACETS_SECONDS = 300
CARD_FIELDS = (
    "id",
    "title",
    "year",
    "price",
    "medium",
    "image",
    "image_checksum",
    "is_sold",
    "listed_at",
    "artist__id",
    "artist__name",
)


@dataclass
class CatalogueFacets:
    artists: list[tuple[int, str]]
    media: list[str]
    tags: list[str]
    price_low: Decimal | None
    price_high: Decimal | None
    listed_first: date | None
    listed_last: date | None


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _tag_pattern(tag: str) -> str:
    """The tag as it appears inside the stored JSON list, quotes included, so 'blue'
    never matches 'blue-grey'. SQLite keeps json.dumps' ASCII escapes; PostgreSQL's
    jsonb prints characters as they are."""
    return json.dumps(tag, ensure_ascii=connection.vendor != "postgresql")


def artwork_search(
    *,
    q: str = "",
    artist: int | None = None,
    medium: str = "",
    tag: str = "",
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    status: str = "",
    listed_from: date | None = None,
    listed_to: date | None = None,
    sort: str = "newest",
) -> QuerySet[Artwork]:
    """Works matching every given filter, with their artists, in the chosen order."""
    works = Artwork.objects.select_related("artist").only(*CARD_FIELDS)
    if q:
        works = works.filter(Q(title__icontains=q) | Q(artist__name__icontains=q))
    if artist:
        works = works.filter(artist_id=artist)
    if medium:
        works = works.filter(medium=medium)
    if tag:
        works = works.filter(style_tags__icontains=_tag_pattern(tag))
    if price_min is not None:
        works = works.filter(price__gte=price_min)
    if price_max is not None:
        works = works.filter(price__lte=price_max)
    if status == "available":
        works = works.filter(is_sold=False)
    elif status == "sold":
        works = works.filter(is_sold=True)
    # Whole days as datetime bounds: a __date lookup would defeat the listed_at index.
    if listed_from:
        works = works.filter(listed_at__gte=_start_of(listed_from))
    if listed_to:
        works = works.filter(listed_at__lt=_start_of(listed_to + timedelta(days=1)))
    return works.order_by(*SORTS.get(sort, SORTS["newest"]))


def catalogue_facets() -> CatalogueFacets:
    """The values the filters offer, cached per catalogue size and newest work."""
    version = Artwork.objects.aggregate(n=Count("id"), last=Max("id"))
    key = f"vitrine:facets:v1:{version['n']}:{version['last']}"
    facets = cache.get(key)
    if facets is None:
        bounds = Artwork.objects.aggregate(
            low=Min("price"), high=Max("price"), first=Min("listed_at"), last=Max("listed_at")
        )
        tags = set()
        for work_tags in Artwork.objects.values_list("style_tags", flat=True):
            tags.update(t for t in (work_tags or []) if isinstance(t, str))
        facets = CatalogueFacets(
            artists=list(Artist.objects.order_by("name", "id").values_list("id", "name")),
            # order_by() drops the model's ordering, which would make DISTINCT per row.
            media=sorted(
                m
                for m in Artwork.objects.order_by().values_list("medium", flat=True).distinct()
                if m
            ),
            tags=sorted(tags, key=str.lower),
            price_low=bounds["low"],
            price_high=bounds["high"],
            listed_first=bounds["first"].date() if bounds["first"] else None,
            listed_last=bounds["last"].date() if bounds["last"] else None,
        )
        cache.set(key, facets, FACETS_SECONDS)
    return facets


def artwork_find(*, pk: int) -> Artwork | None:
    return Artwork.objects.select_related("artist").filter(pk=pk).first()


def artwork_collectors(*, artwork: Artwork) -> list[Interaction]:
    """Purchases and likes of the work, oldest first, with their collectors."""
    return list(
        Interaction.objects.filter(artwork=artwork, kind__in=CONSUMED_KINDS)
        .select_related("collector")
        .order_by("timestamp", "id")
    )
