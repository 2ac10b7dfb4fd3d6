"""A new visitor picks 3 to 10 works they like and gets recommendations at once, from the
models that fold in a profile without retraining. A plain GET form: no JavaScript, and the
picks live in the URL."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from webapp.curation.forms import VISITOR_MAX_PICKS, VISITOR_MIN_PICKS, parse_ids
from webapp.curation.selectors.visitor import (
    VISITOR_METHODS,
    existing_artworks,
    visitor_grid,
    visitor_recommendations,
)


@login_required
def visitor(request):
    picked, bad = parse_ids(request.GET.getlist("pick"))
    picked = existing_artworks(picked)
    try:
        seed = max(0, int(request.GET.get("seed", 0))) % 1_000_000
    except ValueError:
        seed = 0
    if request.GET.get("shuffle"):
        seed += 1
    errors = [f"“{value}” is not a work." for value in bad]
    results = None
    if request.GET.get("go"):
        if len(picked) < VISITOR_MIN_PICKS:
            errors.append(
                f"Pick at least {VISITOR_MIN_PICKS} works you like (you picked {len(picked)})."
            )
        elif len(picked) > VISITOR_MAX_PICKS:
            errors.append(
                f"Pick at most {VISITOR_MAX_PICKS} works (you picked {len(picked)}): untick a few."
            )
        else:
            results = visitor_recommendations(picked=picked)
    return render(
        request,
        "curation/visitor.html",
        {
            "grid": visitor_grid(seed=seed, picked=picked),
            "picked": set(picked),
            "picked_count": len(picked),
            "seed": seed,
            "errors": errors,
            "results": results,
            "methods": [label for _, label in VISITOR_METHODS],
            "min_picks": VISITOR_MIN_PICKS,
            "max_picks": VISITOR_MAX_PICKS,
        },
    )
