"""The collectors: who they are, what they bought and liked, what they might like next."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render

from webapp.catalogue.models import Collector, Interaction
from webapp.jobs.selectors import trained_methods
from webapp.jobs.serving import collector_consumed, collector_recommendations

RECOMMENDATIONS_SHOWN = 20


@login_required
def collector_list(request):
    collectors = Collector.objects.annotate(
        purchases=Count("interactions", filter=Q(interactions__kind=Interaction.Kind.PURCHASE)),
        likes=Count("interactions", filter=Q(interactions__kind=Interaction.Kind.LIKE)),
    ).order_by("external_id")
    query = request.GET.get("q", "").strip()
    if query:
        collectors = collectors.filter(Q(name__icontains=query) | Q(external_id__icontains=query))
    page = Paginator(collectors, 50).get_page(request.GET.get("page"))
    return render(request, "curation/collector_list.html", {"page": page, "query": query})


@login_required
def collector_detail(request, pk: int):
    collector = get_object_or_404(Collector, pk=pk)
    methods = trained_methods()
    method = request.GET.get("method") or ("visrank" if "visrank" in methods else None)
    if method not in methods:
        method = methods[0] if methods else None
    recommendations = (
        collector_recommendations(collector=collector, method=method, k=RECOMMENDATIONS_SHOWN)
        if method
        else None
    )
    return render(
        request,
        "curation/collector_detail.html",
        {
            "collector": collector,
            "consumed": collector_consumed(collector=collector),
            "methods": methods,
            "method": method,
            "recommendations": recommendations,
        },
    )
