"""The job record and its life: cancel, requeue, serve, delete, reap, retry, faults."""

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.acting import trainer
from webapp.jobs.errors import TransientJobError
from webapp.jobs.models import Artefact, TrainingJob
from webapp.jobs.reaping import jobs_reap
from webapp.jobs.running import training_job_run
from webapp.jobs.services import (
    JobError,
    job_queue,
    training_job_activate,
    training_job_cancel,
    training_job_create,
    training_job_delete,
    training_job_requeue,
)
from webapp.jobs.serving import collector_recommendations
from webapp.storage import artefact_storage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    sent = []
    monkeypatch.setattr(
        "webapp.jobs.services.training_job_enqueue", lambda *, job_id: sent.append(job_id)
    )
    return sent


def test_a_finished_job_records_what_it_trained_on_and_produced(small_gallery):
    job = training_job_create(user=trainer(), method="bpr", params={"epochs": 3})
    assert training_job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.snapshot["interactions"] > 0 and len(job.snapshot["sha256"]) == 64
    assert job.snapshot["id"] == job.snapshot["sha256"][:12]
    assert [h["epoch"] for h in job.history] == [1, 2, 3]
    assert all(h["metric_name"] == "NDCG@20" and h["loss"] > 0 for h in job.history)
    assert {"fit", "evaluate", "serve_fit", "save"} <= set(job.timings)
    assert job.peak_memory_mb > 0 and job.device == "cpu" and job.worker
    assert "attempt 1" in job.log_tail
    kinds = set(job.artefacts.values_list("kind", flat=True))
    assert kinds == {
        "model",
        "embeddings",
        "index",
        "checkpoint",
        "evaluation",
        "evaluation_model",
    }
    from webapp.catalogue.models import Interaction
    from webapp.jobs.selectors import job_evaluation

    evaluation = job_evaluation(job=job)
    per_user = evaluation.metrics
    assert len(evaluation.collector_ids) == job.metrics["test_users"] and "NDCG@20" in per_user
    assert abs(per_user["NDCG@20"].mean() - job.metrics["NDCG@20"]) < 1e-6
    # each value names the held-out event it ranked, by external ids, and the data
    assert evaluation.snapshot == job.snapshot["events_id"]
    assert evaluation.split == "temporal leave-last-out"
    collector, artwork, seconds = evaluation.keys()[0]
    held_out = Interaction.objects.filter(collector_id=int(collector), artwork_id=int(artwork))
    assert seconds in [i.timestamp.timestamp() for i in held_out]
    for artefact in job.artefacts.all():
        assert artefact.size > 0 and len(artefact.sha256) == 64
    assert job.is_active
    # the same data gives the same snapshot
    again = training_job_create(user=trainer(), method="popularity")
    training_job_run(job_id=again.pk)
    again.refresh_from_db()
    assert again.snapshot["sha256"] == job.snapshot["sha256"]


def test_serving_reads_the_faiss_index_of_a_dot_product_model(small_gallery):
    from webapp.catalogue.models import Collector

    training_job_run(
        job_id=training_job_create(user=trainer(), method="bpr", params={"epochs": 2}).pk
    )
    collector = Collector.objects.filter(interactions__kind="purchase").first()
    result = collector_recommendations(collector=collector, method="bpr", k=5)
    assert result.served_by == "faiss index" and len(result.items) == 5
    owned = set(collector.interactions.exclude(kind="view").values_list("artwork_id", flat=True))
    assert all(not r.artwork.is_sold and r.artwork.pk not in owned for r in result.items)
    visrank_job = training_job_create(user=trainer(), method="visrank")
    training_job_run(job_id=visrank_job.pk)
    assert (
        collector_recommendations(collector=collector, method="visrank", k=5).served_by == "model"
    )


def test_only_one_job_per_method_is_active(small_gallery):
    first = training_job_create(user=trainer(), method="popularity")
    second = training_job_create(user=trainer(), method="popularity")
    training_job_run(job_id=first.pk)
    training_job_run(job_id=second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.is_active and not first.is_active  # the later one serves
    training_job_activate(user=trainer(), job=first)
    assert list(TrainingJob.objects.filter(is_active=True).values_list("pk", flat=True)) == [
        first.pk
    ]
    queued = training_job_create(user=trainer(), method="popularity")
    with pytest.raises(JobError, match="no trained model"):
        training_job_activate(user=trainer(), job=queued)


def test_cancel_a_queued_job_and_a_running_one(small_gallery):
    queued = training_job_create(user=trainer(), method="popularity")
    training_job_cancel(user=trainer(), job=queued)
    queued.refresh_from_db()
    assert queued.status == TrainingJob.Status.CANCELLED
    assert training_job_run(job_id=queued.pk) == "skipped"  # a late delivery does nothing

    running = training_job_create(user=trainer(), method="bpr", params={"epochs": 50})

    def cancel_mid_training(fraction, message, **details):
        if details.get("epoch") == 2:
            TrainingJob.objects.filter(pk=running.pk).update(cancel_requested=True)

    assert training_job_run(job_id=running.pk, on_progress=cancel_mid_training) == "cancelled"
    running.refresh_from_db()
    assert running.status == TrainingJob.Status.CANCELLED and not running.is_active
    assert len(running.history) < 50 and not running.artefacts.exists()
    with pytest.raises(JobError, match="already cancelled"):
        training_job_cancel(user=trainer(), job=running)


def test_requeue_runs_a_failed_job_again_as_its_next_attempt(small_gallery, no_broker, monkeypatch):
    from recengine.models.popularity import Popularity

    original_fit = Popularity.fit
    monkeypatch.setattr(Popularity, "fit", lambda *a, **k: (_ for _ in ()).throw(ValueError("x")))
    job = training_job_create(user=trainer(), method="popularity")
    training_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.FAILED
    monkeypatch.setattr(Popularity, "fit", original_fit)
    with pytest.raises(JobError, match="only failed or cancelled"):
        training_job_requeue(user=trainer(), job=TrainingJob.objects.create(method="popularity"))
    training_job_requeue(user=trainer(), job=job)
    assert training_job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.attempts == 2 and job.error == "" and job.is_active


def test_deleting_a_job_deletes_its_files(small_gallery, artefacts_root):
    job = training_job_create(user=trainer(), method="bpr", params={"epochs": 2})
    training_job_run(job_id=job.pk)
    paths = list(job.artefacts.values_list("path", flat=True))
    assert (artefacts_root / "jobs" / str(job.pk)).exists()
    assert all(artefact_storage().exists(p) for p in paths)
    training_job_delete(user=trainer(), job=job)
    assert not TrainingJob.objects.filter(pk=job.pk).exists()
    assert not Artefact.objects.exists()
    assert not (artefacts_root / "jobs" / str(job.pk)).exists()
    assert not any(artefact_storage().exists(p) for p in paths)


def test_reaper_requeues_a_job_whose_worker_stopped_then_gives_up(
    small_gallery, settings, no_broker, django_capture_on_commit_callbacks
):
    settings.VITRINE_MAX_ATTEMPTS = 2
    job = training_job_create(user=trainer(), method="popularity")
    stale = timezone.now() - timezone.timedelta(seconds=settings.VITRINE_STALE_AFTER_S + 5)
    TrainingJob.objects.filter(pk=job.pk).update(
        status=TrainingJob.Status.RUNNING, attempts=1, heartbeat_at=stale, worker="w1@gone"
    )
    fresh = training_job_create(user=trainer(), method="random")
    TrainingJob.objects.filter(pk=fresh.pk).update(
        status=TrainingJob.Status.RUNNING, attempts=1, heartbeat_at=timezone.now()
    )
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outcome = jobs_reap()
    assert outcome == {"requeued": [job.pk], "failed": []}
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.QUEUED and "w1@gone stopped" in job.progress_message
    assert job.pk in no_broker  # sent again
    # the second attempt's worker dies too: out of attempts, failed with the reason
    TrainingJob.objects.filter(pk=job.pk).update(
        status=TrainingJob.Status.RUNNING, attempts=2, heartbeat_at=stale
    )
    with transaction.atomic():
        assert jobs_reap() == {"requeued": [], "failed": [job.pk]}
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.FAILED and "after 2 attempt(s)" in job.error
    fresh.refresh_from_db()
    assert fresh.status == TrainingJob.Status.RUNNING  # a live heartbeat is left alone


def test_a_stale_running_job_is_taken_over_by_a_new_delivery(small_gallery, settings):
    job = training_job_create(user=trainer(), method="popularity")
    stale = timezone.now() - timezone.timedelta(seconds=settings.VITRINE_STALE_AFTER_S + 5)
    TrainingJob.objects.filter(pk=job.pk).update(
        status=TrainingJob.Status.RUNNING, attempts=1, heartbeat_at=stale
    )
    assert training_job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.attempts == 2
    live = training_job_create(user=trainer(), method="random")
    TrainingJob.objects.filter(pk=live.pk).update(
        status=TrainingJob.Status.RUNNING, heartbeat_at=timezone.now()
    )
    assert training_job_run(job_id=live.pk) == "skipped"  # a duplicate delivery


def test_transient_errors_requeue_for_a_retry_others_fail(small_gallery, monkeypatch):
    from django.db import OperationalError

    from recengine.models.popularity import Popularity

    def flaky(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Popularity, "fit", flaky)
    job = training_job_create(user=trainer(), method="popularity")
    with pytest.raises(TransientJobError):
        training_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.QUEUED and "transient" in job.progress_message


def test_soft_time_limit_fails_with_a_clear_message(small_gallery, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from recengine.models.popularity import Popularity

    monkeypatch.setattr(
        Popularity, "fit", lambda *a, **k: (_ for _ in ()).throw(SoftTimeLimitExceeded())
    )
    job = training_job_create(user=trainer(), method="popularity")
    assert training_job_run(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert "time limit" in job.error and "CELERY_TASK_SOFT_TIME_LIMIT" in job.error
    # one limit covers both fits, and the message says so and where it stopped
    assert "during the evaluation fit" in job.error and "the serving refit" in job.error


def test_an_unwritable_artefact_folder_fails_the_job_and_serves_nothing(
    small_gallery, media_root, monkeypatch
):
    previous = training_job_create(user=trainer(), method="popularity")
    training_job_run(job_id=previous.pk)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(artefact_storage(), "save", refuse)
    job = training_job_create(user=trainer(), method="popularity")
    assert training_job_run(job_id=job.pk) == "failed"
    job.refresh_from_db()
    previous.refresh_from_db()
    assert "could not write" in job.error and "Permission denied" in job.error
    assert not job.artefacts.exists() and not job.is_active
    assert previous.is_active  # the old model is still the one served


def test_two_jobs_for_one_method_at_once_both_finish(small_gallery):
    first = training_job_create(user=trainer(), method="bpr", params={"epochs": 2})
    second = training_job_create(user=trainer(), method="bpr", params={"epochs": 2})
    # interleaved by hand: both claimed before either finishes
    assert training_job_run(job_id=first.pk) == "succeeded"
    assert training_job_run(job_id=second.pk) == "succeeded"
    paths = set(Artefact.objects.filter(kind="model").values_list("path", flat=True))
    assert len(paths) == 2  # separate folders, nothing overwritten


def test_gpu_work_goes_to_the_gpu_queue_when_there_is_one(settings):
    settings.VITRINE_GPU_QUEUE = ""
    assert job_queue(kind="train", method="dvbpr", params={}) == "cpu"
    settings.VITRINE_GPU_QUEUE = "gpu"
    assert job_queue(kind="train", method="dvbpr", params={}) == "gpu"
    assert job_queue(kind="train", method="vbpr", params={"fine_tune": True}) == "gpu"
    assert job_queue(kind="extract", method="resnet50", params={}) == "gpu"
    assert job_queue(kind="extract", method="handcrafted", params={}) == "cpu"
    assert job_queue(kind="train", method="bpr", params={}) == "cpu"


def test_staff_page_actions(client, staff, curator, small_gallery):
    job = training_job_create(user=trainer(), method="popularity")
    client.force_login(curator)
    url = reverse("curation:job-action", args=[job.pk, "cancel"])
    assert client.post(url).status_code == 403
    client.force_login(staff)
    client.post(url)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.CANCELLED
    page = client.get(reverse("curation:job-detail", args=[job.pk])).content.decode()
    assert "Requeue" in page and "Cancel</button>" not in page
    client.post(reverse("curation:job-action", args=[job.pk, "delete"]))
    assert not TrainingJob.objects.filter(pk=job.pk).exists()
