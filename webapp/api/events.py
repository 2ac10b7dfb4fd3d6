"""Events from the shop, as they happen: views, likes and purchases under the client's own
event id, each joined to the served list it followed from.

All or nothing: a bad event writes nothing and names the field; a retried event (same id,
same content) returns the first one; the same id with other content is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from webapp.api.models import ApiClient, ApiEvent, ImpressionItem
from webapp.catalogue.models import Artwork, Collector, Interaction

KINDS = ("view", "like", "purchase")
FUTURE_SLACK = timedelta(minutes=5)  # a client's clock may run a little ahead


class EventError(Exception):
    """Refused input: status 400 (bad field) or 409 (conflicts with what is stored)."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.status = field, message, status


@dataclass(frozen=True)
class EventIn:
    event_id: str
    kind: str
    work: str  # the work's external id
    collector: str = ""  # a collector's external id, or
    session: str = ""  # an anonymous visitor's session
    timestamp: datetime | None = None
    request_id: str = ""  # the list it followed from, when the shop knows it

    def payload(self) -> dict:
        return {
            "kind": self.kind,
            "work": self.work,
            "collector": self.collector,
            "session": self.session,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "request_id": self.request_id,
        }


def _validate(event: EventIn, now: datetime) -> tuple[Artwork, datetime]:
    if not event.event_id or len(event.event_id) > 100:
        raise EventError("event_id", "give the event's own id (1 to 100 characters)")
    if event.kind not in KINDS:
        raise EventError("kind", f"must be one of {', '.join(KINDS)}, not {event.kind!r}")
    if bool(event.collector) == bool(event.session):
        raise EventError("collector", "give exactly one of collector and session")
    artwork = Artwork.objects.filter(external_id=event.work).first()
    if artwork is None:
        raise EventError("work", f"no work with id {event.work!r}")
    when = event.timestamp or now
    if timezone.is_naive(when):
        raise EventError("timestamp", "give a time zone (e.g. 2026-12-01T10:00:00Z)")
    if when > now + FUTURE_SLACK:
        raise EventError("timestamp", f"{when.isoformat()} is in the future")
    return artwork, when


def _shown_in(event: EventIn, artwork: Artwork, collector, when: datetime):
    """The served list item this event follows from: the named request's, else the
    latest list shown to the same collector or session, within the attribution window."""
    items = ImpressionItem.objects.filter(artwork=artwork).select_related("impression")
    if event.request_id:
        item = items.filter(impression__request_id=event.request_id).first()
        if item is None:
            raise EventError("request_id", f"no list {event.request_id!r} showed {event.work!r}")
        return item
    window = timedelta(hours=float(getattr(settings, "VITRINE_ATTRIBUTION_HOURS", 24)))
    who = Q(impression__collector=collector) if collector else Q(impression__session=event.session)
    return (
        items.filter(who, impression__created_at__lte=when + FUTURE_SLACK)
        .filter(impression__created_at__gte=when - window)
        .order_by("-impression__created_at", "-impression_id")
        .first()
    )


def event_record(*, client: ApiClient, event: EventIn) -> tuple[ApiEvent, bool]:
    """(the stored event, created). Raises EventError, having written nothing."""
    import uuid

    if event.request_id:
        try:
            uuid.UUID(event.request_id)
        except ValueError:
            raise EventError("request_id", "not a request id (a UUID from a served list)") from None
    earlier = ApiEvent.objects.filter(client=client, event_id=event.event_id).first()
    if earlier is not None:
        return _same(earlier, event), False
    now = timezone.now()
    artwork, when = _validate(event, now)
    try:
        with transaction.atomic():
            collector = None
            if event.collector:
                if len(event.collector) > 100:
                    raise EventError("collector", "at most 100 characters")
                collector, _ = Collector.objects.get_or_create(external_id=event.collector)
            if len(event.session) > 100:
                raise EventError("session", "at most 100 characters")
            if event.kind == "purchase":
                _sell(artwork, collector, when)
            interaction = None
            if collector is not None:
                interaction, made = Interaction.objects.get_or_create(
                    collector=collector, artwork=artwork, kind=event.kind, timestamp=when
                )
                # Two events under two ids at the same moment (a shop clock that counts
                # seconds) are one Interaction row, its unique key; the link is one-to-one,
                # so only the first event holds it; linking it again was a 500.
                if not made and ApiEvent.objects.filter(interaction=interaction).exists():
                    interaction = None
            stored = ApiEvent.objects.create(
                client=client,
                event_id=event.event_id,
                kind=event.kind,
                artwork=artwork,
                collector=collector,
                session=event.session,
                interaction=interaction,
                impression_item=_shown_in(event, artwork, collector, when),
                payload=event.payload(),
                timestamp=when,
            )
    except IntegrityError:
        # The same event id won a race in another request: that one is the event.
        earlier = ApiEvent.objects.filter(client=client, event_id=event.event_id).first()
        if earlier is None:
            raise
        return _same(earlier, event), False
    # A purchase needs no cache dropped: every list asks for the API purchases received
    # since its table of candidates was read (webapp/api/candidates.py), in every process.
    return stored, True


def _same(earlier: ApiEvent, event: EventIn) -> ApiEvent:
    sent = event.payload()
    if event.timestamp is None:  # "now" on the retry is not a different event
        sent["timestamp"] = earlier.payload.get("timestamp")
    if earlier.payload != sent:
        raise EventError(
            "event_id", f"{event.event_id!r} was already used for a different event", 409
        )
    return earlier


def _sell(artwork: Artwork, collector, when: datetime) -> None:
    """A one-of-a-kind work is sold once: it leaves every list now. A second buyer is a
    conflict the shop must resolve, not a second sale."""
    locked = Artwork.objects.select_for_update().get(pk=artwork.pk)
    if locked.is_sold:
        raise EventError("work", f"{artwork.external_id!r} is already sold", 409)
    Artwork.objects.filter(pk=artwork.pk).update(is_sold=True, sold_at=when)
