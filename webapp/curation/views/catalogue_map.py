"""The map of the catalogue: every work where a feature set puts it, coloured by style,
artist or availability, with a collector's purchases and recommendations picked out."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.curation.forms import CatalogueMapForm
from webapp.curation.selectors.catalogue_map import (
    catalogue_map,
    feature_sets_all,
    map_highlights,
)
from webapp.curation.selectors.collectors import collector_find
from webapp.curation.selectors.visual import feature_set_active


@login_required
@require_GET
def catalogue_map_page(request):
    feature_sets = feature_sets_all()
    form = CatalogueMapForm(request.GET, feature_sets=feature_sets)
    choices = form.choices()
    active = feature_set_active()
    feature_set = {fs.pk: fs for fs in feature_sets}.get(choices["features"]) or active
    collector = collector_find(choices["collector"]) if choices["collector"] else None
    if choices["collector"] and collector is None:
        form.add_error("collector", f"No collector has the id “{choices['collector']}”.")
    highlights = map_highlights(collector=collector)
    return render(
        request,
        "curation/catalogue_map.html",
        {
            "form": form,
            "feature_set": feature_set,
            "active": active,
            "highlights": highlights,
            "map": (
                catalogue_map(
                    feature_set=feature_set, colour_by=choices["colour"], highlights=highlights
                )
                if feature_set is not None
                else None
            ),
        },
    )
