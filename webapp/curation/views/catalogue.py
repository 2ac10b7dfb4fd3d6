"""The catalogue: a filterable grid of every work, a work's page, and its thumbnails."""

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.curation.forms import CatalogueFilterForm
from webapp.curation.selectors.artworks import (
    artwork_collectors,
    artwork_find,
    artwork_search,
    catalogue_facets,
)
from webapp.curation.selectors.visual import artwork_neighbours
from webapp.curation.services import ThumbnailError, thumbnail_ensure

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


@login_required
@require_GET
def thumbnail(request, size: str, checksum: str):
    """A WebP thumbnail, made on first request; its name is its content, so it is cached
    by the browser for good."""
    try:
        name = thumbnail_ensure(checksum=checksum, size=int(size))
    except ThumbnailError as error:
        raise Http404(str(error)) from None
    if name is None:
        raise Http404("no work has this image")
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/webp")
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
