import csv
import io
import json

import numpy as np
import pytest
from django.urls import reverse
from scipy import stats

from recengine.stats import paired_test
from webapp.jobs.models import TrainingJob
from webapp.jobs.selectors import job_evaluation

from .conftest import train

pytestmark = pytest.mark.django_db

URL = reverse("curation:methods")


def test_table_lists_every_finished_training_job_only(curator_client, trained):
    TrainingJob.objects.create(method="bpr", status=TrainingJob.Status.FAILED)
    response = curator_client.get(URL)
    rows = response.context["rows"]
    assert {r.job.pk for r in rows} == {j.pk for j in trained.values()}
    assert {"AUC", "Recall@10", "NDCG@20"} <= set(response.context["metrics"])
    visrank = next(r for r in rows if r.job.method == "visrank")
    assert visrank.metrics["NDCG@20"] == pytest.approx(trained["visrank"].metrics["NDCG@20"])
    assert visrank.fit_seconds == trained["visrank"].timings["fit"]
    assert visrank.model_bytes == trained["visrank"].model_artefact.size > 0


def test_sorting_is_server_side_and_announced(curator_client, trained):
    descending = curator_client.get(URL, {"sort": "-NDCG@20"})
    values = [r.metrics["NDCG@20"] for r in descending.context["rows"]]
    assert values == sorted(values, reverse=True)
    html = descending.content.decode()
    assert 'aria-sort="descending"' in html and "?sort=NDCG%4020" in html
    ascending = curator_client.get(URL, {"sort": "method"})
    assert [r.job.method for r in ascending.context["rows"]] == ["popularity", "random", "visrank"]
    assert 'aria-sort="ascending"' in ascending.content.decode()
    ignored = curator_client.get(URL, {"sort": "-password"}).context
    assert ignored["sort_key"] == "job" and ignored["descending"]


def test_csv_export_is_the_table(curator_client, trained):
    response = curator_client.get(
        reverse("curation:methods-export", args=["csv"]), {"sort": "-AUC"}
    )
    assert response["Content-Disposition"] == 'attachment; filename="vitrine-methods.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [int(r["job"]) for r in rows] == [
        j.pk for j in sorted(trained.values(), key=lambda j: j.metrics["AUC"], reverse=True)
    ]
    for row in rows:
        job = TrainingJob.objects.get(pk=row["job"])
        assert row["method"] == job.method
        assert float(row["NDCG@10"]) == pytest.approx(job.metrics["NDCG@10"])
        assert int(row["model_bytes"]) == job.model_artefact.size


def test_json_export_is_the_table(curator_client, trained):
    response = curator_client.get(reverse("curation:methods-export", args=["json"]))
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert "Recall@20" in data["metrics"] and len(data["jobs"]) == 3
    by_job = {row["job"]: row for row in data["jobs"]}
    visrank = trained["visrank"]
    assert by_job[visrank.pk]["Recall@20"] == pytest.approx(visrank.metrics["Recall@20"])
    assert by_job[visrank.pk]["serving"] is True
    assert curator_client.get("/methods/export.xml").status_code == 404


def test_paired_test_numbers_are_recengine_s(curator_client, trained):
    a, b = trained["visrank"], trained["popularity"]
    response = curator_client.get(URL, {"a": a.pk, "b": b.pk, "metric": "NDCG@20"})
    shown = response.context["paired"]
    users_a, values_a = job_evaluation(job=a)
    users_b, values_b = job_evaluation(job=b)
    expected = paired_test(users_a, values_a["NDCG@20"], users_b, values_b["NDCG@20"])
    assert shown.n_users == expected.n_users > 0
    for field in ("mean_difference", "wilcoxon_statistic", "wilcoxon_p", "t_statistic", "t_p"):
        assert getattr(shown, field) == pytest.approx(getattr(expected, field))
    html = response.content.decode()
    assert f"{expected.mean_difference:.4f}" in html
    assert f"{expected.wilcoxon_statistic:.1f}" in html


@pytest.mark.parametrize(
    "params, message",
    [
        ({"metric": "NDCG@20"}, "Choose two different jobs."),
        ({"metric": "Nonsense@3"}, "was not evaluated per collector for both jobs"),
        ({"metric": "<script>"}, "Choose two finished jobs and one of the metrics."),
    ],
)
def test_paired_test_refusals_are_explained(curator_client, trained, params, message):
    a = trained["visrank"].pk
    b = a if "different" in message else trained["random"].pk
    response = curator_client.get(URL, {"a": a, "b": b, **params})
    assert response.context["paired"] is None and message in response.content.decode()


def test_bars_show_means_with_student_t_intervals(curator_client, trained):
    response = curator_client.get(URL)
    charts = dict(response.context["charts"])
    assert {"AUC", "NDCG@20"} <= set(charts)
    users, values = job_evaluation(job=trained["visrank"])
    per_user = values["NDCG@20"][np.isfinite(values["NDCG@20"])]
    half = stats.t.ppf(0.975, len(per_user) - 1) * per_user.std(ddof=1) / np.sqrt(len(per_user))
    interval = next(i for i in charts["NDCG@20"] if i.job.pk == trained["visrank"].pk)
    assert interval.mean == pytest.approx(per_user.mean())
    assert (interval.low, interval.high) == pytest.approx(
        (per_user.mean() - half, per_user.mean() + half)
    )
    assert interval.n == len(per_user)
    assert "95% CI" in response.content.decode() and "<svg" in response.content.decode()


def test_training_curves_of_epoch_models(curator_client, small_gallery):
    job = train("curatornet", epochs=2)
    response = curator_client.get(URL)
    assert [r.job.pk for r in response.context["curve_rows"]] == [job.pk]
    html = response.content.decode()
    assert "Training loss" in html and "<polyline" in html


def test_no_jobs_yet(curator_client, db):
    response = curator_client.get(URL)
    assert response.status_code == 200 and "No training job has finished yet" in (
        response.content.decode()
    )
