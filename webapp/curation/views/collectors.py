"""The collectors: who they are, what they bought and liked, what they might like next."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from webapp.catalogue.models import Collector
from webapp.curation.selectors.collectors import (
    collector_list_page,
    collector_suggestions,
    method_choose,
)
from webapp.curation.selectors.default_method import default_method
from webapp.curation.selectors.palettes import collector_profile
from webapp.curation.selectors.recommenders import (
    collector_recommendations_served,
    recommender_choices,
    recommender_choices_once,
)
from webapp.jobs.methods import method_references, methods_first, trainable_models
from webapp.jobs.selectors import trained_methods
from webapp.jobs.serving import collector_consumed

RECOMMENDATIONS_SHOWN = 20


@login_required
def collector_list(request):
    query = request.GET.get("q", "").strip()
    page = collector_list_page(query=query, page=request.GET.get("page"))
    return render(request, "curation/collector_list.html", {"page": page, "query": query})


@login_required
def collector_suggest(request):
    """The picker's suggestions as you type: {"suggestions": [{"value", "label"}]}."""
    query = request.GET.get("q", "")[:100]
    return JsonResponse({"suggestions": collector_suggestions(query=query)})


def _not_trained_notice(requested: str, shown) -> str:
    """Why the page shows another method than the one in the URL, in words."""
    if requested.startswith("job:"):
        asked = f"Job #{requested[4:]} has no model to serve (not finished, failed or deleted)"
    elif requested in trainable_models():
        asked = f"{requested} has not been trained yet"
    else:
        asked = f"“{requested}” is not a method"
    if shown is None:
        return f"{asked}, and no other method has been trained either."
    return f"{asked}; showing {shown.label} instead."


@login_required
def collector_detail(request, pk: int):
    collector = get_object_or_404(Collector, pk=pk)
    references = method_references()
    methods = methods_first(trained_methods())
    choices = recommender_choices()
    requested = request.GET.get("method") or None
    default = default_method()
    # A reference line (the oracle) is shown when asked for, never chosen by default.
    if requested in {c.value for c in choices}:
        method = requested
    elif default is not None:
        method = default.value
    else:
        method = method_choose(requested=None, methods=[m for m in methods if m not in references])
    menu = recommender_choices_once([method] if method else [])
    notice = ""
    if requested and method != requested:  # never switch silently
        shown = next((c for c in menu if c.value == method), None)
        notice = _not_trained_notice(requested, shown)
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
            "choices": menu,
            "notice": notice,
            "default": default,
            "references": references,
            "method": method,
            "recommendations": recommendations,
            "compare_url": f"{reverse('curation:compare')}?{urlencode(compare)}",
        },
    )
