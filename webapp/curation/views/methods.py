"""Method comparison: finished training jobs grouped by the data they were tested on, one
group's evaluations sortable, plotted with confidence intervals, tested pairwise, and
downloadable as CSV or JSON."""

import csv
import json

from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import render

from webapp.curation.forms import ALL_DATA, MethodsTableForm, PairedTestForm
from webapp.curation.selectors.evaluations import (
    NOT_COMPARABLE,
    chart_metrics,
    comparison_rows,
    data_groups,
    export_records,
    metric_intervals,
    metric_names,
    paired_comparison,
    parse_sort,
    sort_rows,
)
from webapp.curation.selectors.recommenders import finished_training_jobs


def _table(request) -> dict:
    """The rows of the chosen data group (the newest by default), sorted as asked; a bad
    ?data= or ?sort= is a form error shown with the default table (status 400)."""
    rows = comparison_rows()
    groups, alone = data_groups(rows)
    form = MethodsTableForm(request.GET, groups=[g.key for g in groups])
    valid = form.is_valid()
    data = form.cleaned_data.get("data") or (groups[0].key if groups else ALL_DATA)
    group = next((g for g in groups if g.key == data), None)
    shown = group.rows if group is not None else rows
    metrics = metric_names(shown)
    key, descending = parse_sort(form.cleaned_data.get("sort", ""))
    return {
        "all_rows": rows,
        "rows": sort_rows(shown, key, descending),
        "metrics": metrics,
        "sort_key": key,
        "descending": descending,
        "groups": groups,
        "group": group,
        "alone": alone,
        "data": data,
        "table_form": form,
        "status": 200 if valid else 400,
    }


@login_required
def methods(request):
    table = _table(request)
    rows = table["rows"]
    headline, more = chart_metrics(table["metrics"])
    # Charts only within one group: means over different held-out events do not compare.
    chart_rows = sort_rows(rows, "job", False) if table["group"] is not None else []
    paired, paired_error = None, ""
    form = PairedTestForm(request.GET if "a" in request.GET else None)
    status = table["status"]
    if form.is_bound and not form.is_valid():
        status = 400
    elif form.is_bound:
        a, b = form.cleaned_data["a"], form.cleaned_data["b"]
        jobs = finished_training_jobs().in_bulk([a, b])
        if len(jobs) < 2:
            paired_error = "Choose two finished jobs."
        else:
            try:
                paired = paired_comparison(
                    job_a=jobs[a], job_b=jobs[b], metric=form.cleaned_data["metric"]
                )
            except ValueError as error:
                paired_error = str(error)
    metrics = table["metrics"]
    off_policy = _off_policy(rows)
    return render(
        request,
        "curation/methods.html",
        {
            **table,
            "charts": [(m, metric_intervals(chart_rows, m)) for m in headline],
            "more_charts": [(m, metric_intervals(chart_rows, m)) for m in more],
            "curve_rows": [r for r in sort_rows(rows, "job", False) if r.job.history],
            "form": form,
            "paired": paired,
            "paired_error": paired_error,
            "not_comparable": NOT_COMPARABLE,
            "all_data": ALL_DATA,
            "default_metric": "NDCG@20" if "NDCG@20" in metrics else (metrics or [""])[0],
            "off_policy": off_policy,
        },
        status=status,
    )


def _off_policy(rows) -> list[dict]:
    """Per served method: its offline NDCG@20 beside the off-policy estimates of what it
    would earn on the shop's logged lists (webapp/api/offpolicy.py)."""
    from webapp.api.offpolicy import off_policy_estimates
    from webapp.jobs.methods import method_reference

    jobs = [
        j for j in finished_training_jobs().filter(is_active=True) if not method_reference(j.method)
    ]
    offline = {r.job.pk: r.metrics.get("NDCG@20") for r in rows}
    by_job: dict[int, dict] = {}
    for estimate in off_policy_estimates(jobs=jobs):
        entry = by_job.setdefault(
            estimate.job_id,
            {
                "method": estimate.method,
                "job": estimate.job_id,
                "offline": offline.get(estimate.job_id),
            },
        )
        entry[estimate.reward] = estimate
    return list(by_job.values())


@login_required
def methods_export(request, fmt: str):
    """The table as a download, as the page shows it (?data= and ?sort= apply)."""
    table = _table(request)
    records = export_records(table["rows"], table["metrics"])
    if fmt == "json":
        response = HttpResponse(
            json.dumps(
                {"data": table["data"], "metrics": table["metrics"], "jobs": records},
                cls=DjangoJSONEncoder,
                indent=1,
            ),
            content_type="application/json",
        )
    elif fmt == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        columns = list(records[0]) if records else ["job", "method", "params", *table["metrics"]]
        writer = csv.DictWriter(response, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)
    else:
        raise Http404("export as csv or json")
    if table["status"] != 200:
        response.status_code = table["status"]
    response["Content-Disposition"] = f'attachment; filename="vitrine-methods.{fmt}"'
    return response
