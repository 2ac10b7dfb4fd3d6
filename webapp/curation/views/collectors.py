"""The collectors: who they are, what they bought and liked, what they might like next."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from webapp.catalogue.models import Collector
from webapp.curation.selectors.collectors import collector_list_page, method_choose
from webapp.curation.selectors.default_method import default_method
from webapp.curation.selectors.palettes import collector_profile
from webapp.curation.selectors.recommenders import (
    collector_recommendations_served,
    recommender_choices,
)
from webapp.jobs.methods import method_references, methods_first
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
    references = method_references()
    methods = methods_first(trained_methods())
    choices = recommender_choices()
    requested = request.GET.get("method")
    default = default_method()
    # A reference line (the oracle) is shown when asked for, never chosen by default.
    if requested in {c.value for c in choices}:
        method = requested
    elif default is not None:
        method = default.value
    else:
        method = method_choose(requested=None, methods=[m for m in methods if m not in references])
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
            "choices": choices,
            "default": default,
            "references": references,
            "method": method,
            "recommendations": recommendations,
            "compare_url": f"{reverse('curation:compare')}?{urlencode(compare)}",
        },
    )
