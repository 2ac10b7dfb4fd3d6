"""Method comparison: every finished training job's evaluation, sortable, plotted with
confidence intervals, tested pairwise, and downloadable as CSV or JSON."""

import csv
import json

from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import render

from webapp.curation.forms import PairedTestForm
from webapp.curation.selectors.evaluations import (
    chart_metrics,
    comparison_rows,
    export_records,
    metric_intervals,
    metric_names,
    paired_comparison,
    parse_sort,
    safe_metric,
    sort_rows,
)
from webapp.curation.selectors.recommenders import finished_training_jobs


def _sorted_table(request):
    rows = comparison_rows()
    metrics = metric_names(rows)
    key, descending = parse_sort(request.GET.get("sort", ""), metrics)
    return sort_rows(rows, key, descending), metrics, key, descending


@login_required
def methods(request):
    rows, metrics, sort_key, descending = _sorted_table(request)
    headline, more = chart_metrics(metrics)
    chart_rows = sort_rows(rows, "job", False)  # charts keep one order: oldest job first
    paired, paired_error = None, ""
    form = PairedTestForm(request.GET if "a" in request.GET else None)
    if form.is_bound and form.is_valid():
        jobs = finished_training_jobs().in_bulk([form.cleaned_data["a"], form.cleaned_data["b"]])
        metric = safe_metric(form.cleaned_data["metric"])
        if len(jobs) < 2 or not metric:
            paired_error = "Choose two finished jobs and one of the metrics."
        else:
            try:
                paired = paired_comparison(
                    job_a=jobs[form.cleaned_data["a"]],
                    job_b=jobs[form.cleaned_data["b"]],
                    metric=metric,
                )
            except ValueError as error:
                paired_error = str(error)
    return render(
        request,
        "curation/methods.html",
        {
            "rows": rows,
            "metrics": metrics,
            "sort_key": sort_key,
            "descending": descending,
            "charts": [(m, metric_intervals(chart_rows, m)) for m in headline],
            "more_charts": [(m, metric_intervals(chart_rows, m)) for m in more],
            "curve_rows": [r for r in chart_rows if r.job.history],
            "form": form,
            "paired": paired,
            "paired_error": paired_error,
            "default_metric": "NDCG@20" if "NDCG@20" in metrics else (metrics or [""])[0],
        },
    )


@login_required
def methods_export(request, fmt: str):
    """The table as a download, in the order the page shows it (?sort= applies)."""
    rows, metrics, _, _ = _sorted_table(request)
    records = export_records(rows, metrics)
    if fmt == "json":
        response = HttpResponse(
            json.dumps({"metrics": metrics, "jobs": records}, cls=DjangoJSONEncoder, indent=1),
            content_type="application/json",
        )
    elif fmt == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        columns = list(records[0]) if records else ["job", "method", "params", *metrics]
        writer = csv.DictWriter(response, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)
    else:
        raise Http404("export as csv or json")
    response["Content-Disposition"] = f'attachment; filename="vitrine-methods.{fmt}"'
    return response
