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


def collector_find(value: str) -> Collector | None:
    """A collector by primary key or by external id (what curators see on the list)."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit() and int(value) < 2**63:
        found = Collector.objects.filter(pk=int(value)).first()
        if found is not None:
            return found
    return Collector.objects.filter(external_id=value).first()


def method_choose(*, requested: str | None, methods: list[str]) -> str | None:
    """The asked-for method if it is served, else VisRank (it explains itself), else the
    first served one."""
    if requested in methods:
        return requested
    if "visrank" in methods:
        return "visrank"
    return methods[0] if methods else None
