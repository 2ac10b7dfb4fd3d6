"""Which works a list may hold, with the shop's filters, fast enough for every request.

The catalogue's columns the filters need (id, price, medium, availability) are read once
per process and kept for VITRINE_CANDIDATES_TTL_S (10 s by default): at 100,000 works the
read costs a few hundred milliseconds, far too much for each request. A purchase that came
through the API is taken out at once, on every process: each request also asks the
database, through an index, for the API purchases received since its table was read. A
sale recorded otherwise (an import) reaches the API's lists within the TTL.
"""

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.utils import timezone

from webapp.catalogue.selectors import artworks_available, artworks_pending_count

AVAILABILITY = ("available", "all")


@dataclass(frozen=True)
class Filters:
    price_min: float | None = None
    price_max: float | None = None
    media: tuple[str, ...] = ()
    availability: str = "available"

    def as_dict(self) -> dict:
        return {
            "price_min": self.price_min,
            "price_max": self.price_max,
            "media": list(self.media),
            "availability": self.availability,
        }


@dataclass
class CatalogueTable:
    ids: np.ndarray  # (n,) int64
    price: np.ndarray  # (n,) float64, nan when unpriced
    medium: np.ndarray  # (n,) object, lower case
    available: np.ndarray  # (n,) bool
    read_at: float  # time.monotonic()
    read_at_wall: object  # datetime, for the "sold since" query
    listed: tuple = ()  # catalogue_listed() when read


_table: CatalogueTable | None = None
_lock = threading.Lock()


STATIC_MAX_AGE_S = 600.0  # a price or medium edited in the admin reaches the filters by then
_static: tuple | None = None  # (signature, read at, ids, price, medium)


def _columns():
    """(ids, price, medium) of the works a list may hold, read again only when works were
    added, described or removed (or every STATIC_MAX_AGE_S): at 100,000 works the read
    costs 0.25 s, most of it Django making a Decimal of every price."""
    global _static
    from django.db.models import Count, FloatField, Max
    from django.db.models.functions import Cast

    from webapp.catalogue.models import Artwork

    works = Artwork.objects.filter(features_pending=False)
    signature = tuple(works.aggregate(n=Count("id"), last=Max("id")).values())
    now = time.monotonic()
    if _static is None or _static[0] != signature or now - _static[1] > STATIC_MAX_AGE_S:
        rows = list(
            works.order_by("id")
            .annotate(price_value=Cast("price", FloatField()))
            .values_list("id", "price_value", "medium")
        )
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        price = np.asarray([np.nan if r[1] is None else r[1] for r in rows], dtype=np.float64)
        medium = np.asarray([(r[2] or "").lower() for r in rows], dtype=object)
        _static = (signature, now, ids, price, medium)
    return _static[2], _static[3], _static[4]


def catalogue_listed() -> tuple:
    """(newest described work, works waiting for a worker): two indexed lookups that change
    when a work is listed or becomes recommendable, which must show at once."""
    from webapp.catalogue.models import Artwork

    return (
        Artwork.objects.filter(features_pending=False)
        .order_by("-id")
        .values_list("id", flat=True)
        .first(),
        artworks_pending_count(),
    )


def _read(listed: tuple) -> CatalogueTable:
    wall = timezone.now()
    ids, price, medium = _columns()
    unsold = np.fromiter(artworks_available().values_list("id", flat=True), dtype=np.int64)
    available = np.isin(ids, unsold)
    return CatalogueTable(ids, price, medium, available, time.monotonic(), wall, listed)


def catalogue_table() -> CatalogueTable:
    """This process's table, read again after the TTL or as soon as a work was listed or
    described (a work is recommendable the moment its features exist)."""
    global _table
    ttl = float(getattr(settings, "VITRINE_CANDIDATES_TTL_S", 10.0))
    listed = catalogue_listed()
    with _lock:
        table = _table
        stale = table is None or time.monotonic() - table.read_at > ttl
        if stale or table.listed != listed:
            table = _table = _read(listed)
    return table


def catalogue_table_forget() -> None:
    """Drop this process's table (a test between databases)."""
    global _table, _static
    with _lock:
        _table = None
        _static = None


def sold_since(table: CatalogueTable) -> np.ndarray:
    """Works bought through the API since the table was read (a second's margin for clocks)."""
    from webapp.api.models import ApiEvent

    since = table.read_at_wall - timedelta(seconds=1)
    return np.fromiter(
        ApiEvent.objects.filter(kind="purchase", received_at__gte=since).values_list(
            "artwork_id", flat=True
        ),
        dtype=np.int64,
    )


def _keep(table: CatalogueTable, filters: Filters) -> np.ndarray:
    keep = np.ones(len(table.ids), dtype=bool)
    if filters.availability == "available":
        keep &= table.available
        sold = sold_since(table)
        if len(sold):
            keep &= ~np.isin(table.ids, sold)
    if filters.price_min is not None:
        keep &= table.price >= filters.price_min
    if filters.price_max is not None:
        keep &= table.price <= filters.price_max
    if filters.media:
        keep &= np.isin(table.medium, [m.lower() for m in filters.media])
    return keep


def candidate_ids(filters: Filters) -> np.ndarray:
    """Artwork ids that pass the filters (available ones unless availability is "all")."""
    table = catalogue_table()
    return table.ids[_keep(table, filters)]


_rows: dict[int, tuple] = {}  # id(artwork ids array) -> (table, array, rows in the table)


def candidate_mask(filters: Filters, artwork_ids: np.ndarray) -> np.ndarray:
    """(len(artwork_ids),) bool: which of a model's works pass the filters. Where each
    model work sits in the table is worked out once per table and model (a sorted search
    over 100,000 ids each request would cost more than the ranking)."""
    table = catalogue_table()
    cached = _rows.get(id(artwork_ids))
    if cached is None or cached[0] is not table or cached[1] is not artwork_ids:
        rows = np.searchsorted(table.ids, artwork_ids)
        rows = np.minimum(rows, max(len(table.ids) - 1, 0))
        found = table.ids[rows] == artwork_ids if len(table.ids) else np.zeros(0, bool)
        cached = (table, artwork_ids, np.where(found, rows, -1))
        if len(_rows) > 64:
            _rows.clear()
        _rows[id(artwork_ids)] = cached
    rows = cached[2]
    keep = _keep(table, filters)
    return np.where(rows >= 0, keep[np.maximum(rows, 0)], False) if len(keep) else rows >= 0
