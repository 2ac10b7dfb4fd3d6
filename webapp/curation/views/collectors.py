"""The collectors: who they are, what they bought and liked, what they might like next."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from webapp.catalogue.models import Collector
from webapp.curation.selectors.collectors import collector_list_page, method_choose
from webapp.curation.selectors.palettes import collector_profile
from webapp.curation.selectors.recommenders import collector_recommendations_served
from webapp.jobs.selectors import trained_methods
from webapp.jobs.serving import collector_consumed

RECOMMENDATIONS_SHOWN = 20


@login_required
def collector_list(request):
    query = request.GET.get("q", "").strip()
    page = collector_list_page(query=query, page=request.GET.get("page"))
    return render(request, "curation/collector_list.html", {"page": page, "query": query})


@login_required
def collector_detail(request, pk: int):
    collector = get_object_or_404(Collector, pk=pk)
    methods = trained_methods()
    method = method_choose(requested=request.GET.get("method"), methods=methods)
    consumed = list(collector_consumed(collector=collector))
    recommendations = (
        collector_recommendations_served(
            collector=collector, method=method, consumed=consumed, k=RECOMMENDATIONS_SHOWN
        )
        if method
        else None
    )
    compare = [("collector", collector.pk)] + [("m", m) for m in methods[:3]]
    return render(
        request,
        "curation/collector_detail.html",
        {
            "collector": collector,
            "consumed": consumed,
            "profile": collector_profile(consumed=consumed),
            "methods": methods,
            "method": method,
            "recommendations": recommendations,
            "compare_url": f"{reverse('curation:compare')}?{urlencode(compare)}",
        },
    )
