"""Side by side: two to four recommenders for one collector, chosen in the URL
(``?collector=12&m=visrank&m=job:42&k=10``) so a comparison can be shared."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from webapp.curation.selectors.collectors import collector_find
from webapp.curation.selectors.recommenders import recommender_choices
from webapp.curation.selectors.side_by_side import MAX_COLUMNS, MIN_COLUMNS, side_by_side

K_CHOICES = (5, 10, 20)
DEFAULT_K = 10


@login_required
def compare(request):
    choices = recommender_choices()
    known = {c.value for c in choices}
    asked = list(dict.fromkeys(m for m in request.GET.getlist("m") if m))
    errors = [f"“{m}” is not a trained method or a finished job." for m in asked if m not in known]
    chosen = [m for m in asked if m in known]
    try:
        k = int(request.GET.get("k", DEFAULT_K))
    except ValueError:
        k = DEFAULT_K
    k = k if k in K_CHOICES else DEFAULT_K
    collector_value = request.GET.get("collector", "").strip()
    collector = collector_find(collector_value)
    if collector_value and collector is None:
        errors.append(f"No collector “{collector_value}”.")
    if request.GET and not (MIN_COLUMNS <= len(asked) <= MAX_COLUMNS):
        errors.append(f"Choose {MIN_COLUMNS} to {MAX_COLUMNS} methods (you chose {len(asked)}).")
    result = None
    if collector is not None and not errors:  # a half-valid choice is explained, not guessed
        result = side_by_side(collector=collector, choices=chosen, k=k)
    return render(
        request,
        "curation/compare.html",
        {
            "choices": choices,
            "chosen": chosen,
            "k": k,
            "k_choices": K_CHOICES,
            "collector_value": collector_value,
            "collector": collector,
            "errors": errors,
            "result": result,
            "min_columns": MIN_COLUMNS,
            "max_columns": MAX_COLUMNS,
        },
    )
