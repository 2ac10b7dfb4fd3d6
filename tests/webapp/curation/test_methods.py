import csv
import io
import json

import numpy as np
import pytest
from django.urls import reverse
from django.utils.html import escape
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
    refused = curator_client.get(URL, {"sort": "-password"})
    assert refused.status_code == 400  # named, not silently replaced by a default
    assert "Cannot sort by “-password”" in refused.content.decode()
    assert refused.context["sort_key"] == "job" and refused.context["descending"]


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
    first, second = job_evaluation(job=a), job_evaluation(job=b)
    expected = paired_test(
        first.keys(), first.metrics["NDCG@20"], second.keys(), second.metrics["NDCG@20"]
    )
    # joined on the held-out events (collector, work, time) both ranked
    shared = {tuple(k) for k in first.keys().tolist()} & {tuple(k) for k in second.keys().tolist()}
    assert shown.n_pairs == expected.n_pairs == len(shared) > 0
    for field in ("mean_difference", "wilcoxon_statistic", "wilcoxon_p", "t_statistic", "t_p"):
        assert getattr(shown, field) == pytest.approx(getattr(expected, field))
    html = response.content.decode()
    assert f"{expected.mean_difference:.4f}" in html
    assert f"{expected.wilcoxon_statistic:.1f}" in html


@pytest.mark.parametrize(
    "params, message",
    [
        ({"metric": "NDCG@20"}, "Choose two different jobs."),
        ({"metric": "Nonsense@3"}, "unknown metric &#x27;Nonsense@3&#x27;"),
        ({"metric": "<script>"}, "unknown metric &#x27;&lt;script&gt;&#x27;"),
        ({"metric": "NDCG"}, "needs a cut-off, e.g. NDCG@20"),
        ({"metric": "NDCG@7"}, "NDCG@7 was not evaluated per event for both jobs"),
    ],
)
def test_paired_test_refusals_are_explained(curator_client, trained, params, message):
    a = trained["visrank"].pk
    b = a if "different" in message else trained["random"].pk
    response = curator_client.get(URL, {"a": a, "b": b, **params})
    assert response.context["paired"] is None and message in response.content.decode()
    form_error = "different" in message or "unknown" in message or "cut-off" in message
    assert response.status_code == (400 if form_error else 200)


def test_bars_show_means_with_student_t_intervals(curator_client, trained):
    response = curator_client.get(URL)
    charts = dict(response.context["charts"])
    assert {"AUC", "NDCG@20"} <= set(charts)
    values = job_evaluation(job=trained["visrank"]).metrics
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


# ------------------------------------------------------------ results with identity
def _key(job: TrainingJob) -> str:
    evaluation = job_evaluation(job=job)
    return f"{evaluation.snapshot}|{evaluation.split}"


def test_jobs_compare_only_with_jobs_tested_on_the_same_events(curator_client, trained):
    evaluation = job_evaluation(job=trained["visrank"])
    assert evaluation.has_identity and evaluation.split == "temporal leave-last-out"
    # visrank reads features, popularity does not: still the same events, one group
    assert evaluation.snapshot == trained["visrank"].snapshot["events_id"]
    assert {_key(job) for job in trained.values()} == {_key(trained["visrank"])}
    # New data, then another job: a second group, shown by default as the newest
    from webapp.catalogue.models import Artwork, Collector, Interaction

    Interaction.objects.create(
        collector=Collector.objects.first(),
        artwork=Artwork.objects.filter(is_sold=False).first(),
        kind="like",
        timestamp="2031-01-01T00:00Z",
    )
    newer = train("popularity")
    assert _key(newer) != _key(trained["popularity"])
    response = curator_client.get(URL)
    groups = response.context["groups"]
    assert [len(g.rows) for g in groups] == [1, 3] and groups[0].key == _key(newer)
    assert [r.job.pk for r in response.context["rows"]] == [newer.pk]
    html = response.content.decode()
    assert newer.snapshot["events_id"] in html and 'data-testid="data-groups"' in html
    older = curator_client.get(URL, {"data": _key(trained["visrank"])})
    assert {r.job.pk for r in older.context["rows"]} == {j.pk for j in trained.values()}
    everything = curator_client.get(URL, {"data": "all"})
    assert len(everything.context["rows"]) == 4 and everything.context["charts"][0][1] == []
    # a paired test across the two groups is refused, in words
    across = curator_client.get(
        URL, {"a": newer.pk, "b": trained["visrank"].pk, "metric": "NDCG@20", "data": "all"}
    )
    assert across.context["paired"] is None
    assert "cannot be compared" in across.content.decode()
    assert curator_client.get(URL, {"data": "nope|x"}).status_code == 400


def test_an_evaluation_stored_without_identity_is_not_comparable(curator_client, trained):
    """Files from before results carried their events: shown, never paired."""
    import hashlib

    from django.core.files.base import ContentFile

    from webapp.jobs.models import Artefact
    from webapp.storage import artefact_storage

    old = trained["random"]
    evaluation = job_evaluation(job=old)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        user_ids=evaluation.collector_ids,
        **{f"metric:{k}": v for k, v in evaluation.metrics.items()},
    )
    artefact = old.artefacts.get(kind=Artefact.Kind.EVALUATION)
    artefact_storage().delete(artefact.path)
    artefact_storage().save(artefact.path, ContentFile(buffer.getvalue()))
    Artefact.objects.filter(pk=artefact.pk).update(
        sha256=hashlib.sha256(buffer.getvalue()).hexdigest()
    )
    response = curator_client.get(URL)
    assert response.status_code == 200
    assert old.pk not in {r.job.pk for g in response.context["groups"] for r in g.rows}
    assert [r.job.pk for r in response.context["alone"]] == [old.pk]
    assert "not comparable" in response.content.decode()
    paired = curator_client.get(URL, {"a": old.pk, "b": trained["visrank"].pk, "metric": "NDCG@20"})
    assert paired.context["paired"] is None
    assert f"Job #{old.pk} was evaluated before results carried" in paired.content.decode()


def test_a_reference_line_is_labelled_never_a_ceiling(curator_client, trained):
    from recengine import model_info

    oracle = train("oracle")
    label = model_info("oracle")["reference"]
    response = curator_client.get(URL)
    rows = {r.job.pk: r for r in response.context["rows"]}
    assert rows[oracle.pk].reference == label
    assert all(not r.reference for pk, r in rows.items() if pk != oracle.pk)
    html = response.content.decode()
    assert escape(label) in html
    assert "ceiling" not in html.lower() and "upper line" not in html.lower()
    records = json.loads(
        curator_client.get(reverse("curation:methods-export", args=["json"])).content
    )["jobs"]
    assert {r["job"]: r["reference"] for r in records}[oracle.pk] == label
