import pytest

from tests.acting import trainer
from webapp.jobs.models import TrainingJob
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create, training_job_enqueue

pytestmark = pytest.mark.django_db


def test_job_runs_once_even_when_delivered_twice(small_gallery):
    job = training_job_create(user=trainer(), method="popularity")
    assert training_job_run(job_id=job.pk) == "succeeded"
    assert training_job_run(job_id=job.pk) == "skipped"
    job.refresh_from_db()
    assert job.attempts == 1
    assert job.status == TrainingJob.Status.SUCCEEDED and job.progress == 1.0
    assert job.started_at <= job.finished_at


def test_visrank_job_extracts_features_and_records_metrics_and_artefact(
    small_gallery, artefacts_root
):
    job = training_job_create(user=trainer(), method="visrank")
    training_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.SUCCEEDED, job.error
    assert job.feature_set and job.feature_set.name == "handcrafted"
    for key in ("AUC", "Recall@10", "NDCG@10", "Recall@20", "NDCG@20"):
        assert 0.0 <= job.metrics[key] <= 1.0
    model = job.model_artefact
    assert (artefacts_root / model.path / "config.json").exists()
    assert model.size > 0 and len(model.sha256) == 64 and job.is_active


def test_feature_job_writes_a_feature_set(small_gallery):
    from webapp.catalogue.models import Artwork

    job = training_job_create(user=trainer(), method="handcrafted", kind=TrainingJob.Kind.EXTRACT)
    training_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.SUCCEEDED, job.error
    assert job.feature_set.n_items == Artwork.objects.count()


def test_failing_job_records_the_error_and_no_artefact(small_gallery, monkeypatch):
    def broken_fit(self, *args, **kwargs):
        raise RuntimeError("model exploded")

    from recengine.models.popularity import Popularity

    monkeypatch.setattr(Popularity, "fit", broken_fit)
    job = training_job_create(user=trainer(), method="popularity")
    assert training_job_run(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.FAILED
    assert "model exploded" in job.error
    assert not job.artefacts.exists() and job.finished_at is not None and not job.is_active


def test_unreachable_broker_fails_the_job_with_a_clear_message(settings, monkeypatch):
    from webapp.jobs import services

    # Celery prefers the CELERY_BROKER_URL variable over its configuration (CI sets it).
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    services._celery_client.cache_clear()
    job = TrainingJob.objects.create(method="popularity")
    training_job_enqueue(job_id=job.pk)
    job.refresh_from_db()
    services._celery_client.cache_clear()
    assert job.status == TrainingJob.Status.FAILED
    assert "Could not reach the task broker" in job.error


def test_second_default_run_reuses_trained_methods(small_gallery):
    from webapp.jobs.services import default_training_jobs_create

    first = default_training_jobs_create(user=trainer(), only_missing=True)
    assert {j.method for j in first} >= {"popularity", "visrank"}
    visrank = sorted(j.params["features"] for j in first if j.method == "visrank")
    assert visrank == ["efficientnet_lite0_imagenet", "handcrafted"]  # pretrained beside
    assert default_training_jobs_create(user=trainer(), only_missing=True) == []


def test_train_command_runs_here_and_prints_metrics(small_gallery, tmp_path):
    import io
    import json

    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "train",
        "popularity",
        "visrank",
        "--here",
        "--json",
        str(tmp_path / "m.json"),
        "--user",
        trainer().username,
        stdout=out,
    )
    table = out.getvalue()
    assert "visrank" in table and "Recall@20" in table
    written = json.loads((tmp_path / "m.json").read_text())
    assert set(written) == {"popularity", "visrank"}
    assert TrainingJob.objects.filter(status=TrainingJob.Status.SUCCEEDED).count() == 2


def test_train_command_rejects_unknown_methods(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="unknown method"):
        call_command("train", "nope", "--user", trainer().username)
    assert not TrainingJob.objects.exists()
