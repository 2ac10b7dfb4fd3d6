"""Collectors as the curator pages list and look them up."""

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q

from webapp.catalogue.models import Collector, Interaction

COLLECTORS_PER_PAGE = 50


def collector_list_page(*, query: str = "", page: str | int | None = 1) -> Page:
    """A page of collectors, each with .purchases and .likes.

    Counted for the page's collectors only: annotating the whole table would count every
    interaction of every collector on each page view.
    """
    collectors = Collector.objects.order_by("external_id")
    if query:
        collectors = collectors.filter(Q(name__icontains=query) | Q(external_id__icontains=query))
    result = Paginator(collectors, COLLECTORS_PER_PAGE).get_page(page)
    rows = list(result.object_list)
    counts = {
        row["collector_id"]: row
        for row in Interaction.objects.filter(collector__in=rows)
        .values("collector_id")
        .annotate(
            purchases=Count("id", filter=Q(kind=Interaction.Kind.PURCHASE)),
            likes=Count("id", filter=Q(kind=Interaction.Kind.LIKE)),
        )
    }
    for collector in rows:
        collector.purchases = counts.get(collector.pk, {}).get("purchases", 0)
        collector.likes = counts.get(collector.pk, {}).get("likes", 0)
    result.object_list = rows
    return result


class CollectorNotFound(LookupError):
    """No single collector answers to what was typed; the message says why and what to
    type instead."""


SUGGESTIONS_SHOWN = 10


def collector_pick(value: str) -> Collector:
    """The collector a person typed: its number ("12" or "#12"), its catalogue id
    ("demo-c0012") or its full name in any case; raises CollectorNotFound naming the
    candidates when the name is ambiguous or nothing matches."""
    typed = (value or "").strip()
    if not typed:
        raise CollectorNotFound("Choose a collector: a name, a number or a catalogue id.")
    number = typed.removeprefix("#")
    if number.isdigit() and int(number) < 2**63:
        found = Collector.objects.filter(pk=int(number)).first()
        if found is not None:
            return found
    found = Collector.objects.filter(external_id=typed).first()
    if found is not None:
        return found
    named = list(Collector.objects.filter(name__iexact=typed).order_by("pk")[:SUGGESTIONS_SHOWN])
    if len(named) == 1:
        return named[0]
    if named:
        raise CollectorNotFound(
            f"{len(named)} collectors are named “{typed}”: "
            f"{', '.join(collector_label(c) for c in named)}. Type the number or catalogue id."
        )
    near = collector_suggestions(query=typed)
    hint = f" Did you mean {', '.join(s['label'] for s in near)}?" if near and typed else ""
    raise CollectorNotFound(
        f"No collector “{typed}”: type a name, a number or a catalogue id as on the "
        f"collectors list.{hint}"
    )


def collector_label(collector: Collector) -> str:
    """What the picker and its errors show: "Ada Moreau (#12, demo-c0012)"."""
    return f"{collector.name or 'Collector'} (#{collector.pk}, {collector.external_id})"


def collector_suggestions(*, query: str, limit: int = SUGGESTIONS_SHOWN) -> list[dict]:
    """Collectors whose name or catalogue id contains ``query`` (or whose number it is),
    as {"value": catalogue id, "label": ...}; the catalogue id is what the picker keeps."""
    query = (query or "").strip().removeprefix("#")
    if not query:
        return []
    match = Q(name__icontains=query) | Q(external_id__icontains=query)
    if query.isdigit() and int(query) < 2**63:
        match |= Q(pk=int(query))
    found = Collector.objects.filter(match).order_by("name", "external_id")[:limit]
    return [{"value": c.external_id, "label": collector_label(c)} for c in found]


def collector_find(value: str) -> Collector | None:
    """A collector by number, catalogue id or full name (collector_pick), or None."""
    try:
        return collector_pick(value)
    except CollectorNotFound:
        return None


def method_choose(*, requested: str | None, methods: list[str]) -> str | None:
    """The asked-for method if it is served, else VisRank (it explains itself), else the
    first served one."""
    if requested in methods:
        return requested
    if "visrank" in methods:
        return "visrank"
    return methods[0] if methods else None
