"""The catalogue: a filterable grid of every work and a work's page (its image files are
served by webapp.curation.views.files)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from webapp.curation.forms import CatalogueFilterForm
from webapp.curation.selectors.artworks import (
    artwork_collectors,
    artwork_find,
    artwork_search,
    catalogue_facets,
)
from webapp.curation.selectors.visual import artwork_neighbours

WORKS_PER_PAGE = 24


@login_required
def artwork_list(request):
    form = CatalogueFilterForm(request.GET)
    filters = form.filters()
    page = Paginator(artwork_search(**filters), WORKS_PER_PAGE).get_page(request.GET.get("page"))
    facets = catalogue_facets()
    return render(
        request,
        "curation/artwork_list.html",
        {
            "form": form,
            "filters": filters,
            "facets": facets,
            "chips": _filter_chips(form, filters, facets),
            "page": page,
        },
    )


def _filter_chips(form, filters: dict, facets) -> list[tuple[str, str]]:
    """(label, value) of each applied filter, in words, for the line above the grid."""
    names = {"artist": dict(facets.artists).get(filters.get("artist"))}
    return [
        (form.fields[name].label or name.title(), names.get(name) or str(value))
        for name, value in filters.items()
        if name != "sort"
    ]


@login_required
def artwork_detail(request, pk: int):
    artwork = artwork_find(pk=pk)
    if artwork is None:
        raise Http404("no such work")
    return render(
        request,
        "curation/artwork_detail.html",
        {
            "artwork": artwork,
            "neighbours": artwork_neighbours(artwork=artwork),
            "collected_by": artwork_collectors(artwork=artwork),
        },
    )
