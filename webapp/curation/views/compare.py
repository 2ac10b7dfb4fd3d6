"""Side by side: two to four recommenders for one collector, chosen in the URL
(``?collector=12&m=visrank&m=job:42&k=10``) so a comparison can be shared."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from webapp.curation.forms import COMPARE_K_CHOICES, CompareForm
from webapp.curation.selectors.recommenders import recommender_choices, recommender_choices_once
from webapp.curation.selectors.side_by_side import MAX_COLUMNS, MIN_COLUMNS, side_by_side


@login_required
def compare(request):
    choices = recommender_choices()
    form = CompareForm(
        request.GET or None,
        known={c.value for c in choices},
        min_columns=MIN_COLUMNS,
        max_columns=MAX_COLUMNS,
    )
    result = None
    if form.is_bound and form.is_valid():  # a half-valid choice is explained, not guessed
        result = side_by_side(
            collector=form.cleaned_data["collector"], choices=form.chosen, k=form.k
        )
    return render(
        request,
        "curation/compare.html",
        {
            "form": form,
            "choices": choices,
            # One checkbox per job: a serving job is a choice by name and by id.
            "checkboxes": recommender_choices_once(form.chosen),
            "chosen": form.chosen,
            "k": form.k,
            "k_choices": COMPARE_K_CHOICES,
            "errors": form.non_field_errors() if form.is_bound else [],
            "result": result,
            "min_columns": MIN_COLUMNS,
            "max_columns": MAX_COLUMNS,
        },
    )
