"""Faults with real worker processes: a worker killed mid-training, two workers sharing a
queue, the broker down when staff click train."""

import os
import signal
import time

import pytest
from django.urls import reverse

from webapp.jobs.models import TrainingJob

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# A beat every half second; silent for three seconds means the worker is gone.
FAST_REAPING = {"VITRINE_HEARTBEAT_S": "0.5", "VITRINE_STALE_AFTER_S": "3"}


def wait_until(predicate, timeout: float, what: str, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    details = "\n".join(p.log_path.read_text()[-3000:] for p in logs)
    pytest.fail(f"timed out waiting for {what}\n{details}")


def test_a_worker_killed_mid_training_is_replaced_and_the_job_resumes(
    small_gallery, workers, staff, client
):
    from webapp.jobs.services import training_job_create

    first = workers("w1", **FAST_REAPING)
    job = training_job_create(
        method="bpr",
        params={"epochs": 400, "patience": 1000, "factors": 16, "batch_size": 64},
    )
    from webapp.jobs.services import training_job_enqueue

    training_job_enqueue(job_id=job.pk)

    def epochs_done():
        job.refresh_from_db()
        return len(job.history) >= 20 and job.status == TrainingJob.Status.RUNNING

    wait_until(epochs_done, 120, "20 epochs on the first worker", [first])
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool child, no goodbye
    first.wait()
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.RUNNING  # nobody could mark it
    killed_at = len(job.history)

    second = workers("w2", **FAST_REAPING)  # its reaper notices the silent job

    def finished():
        job.refresh_from_db()
        return job.is_finished

    wait_until(finished, 180, "the job to finish on the second worker", [second])
    assert job.status == TrainingJob.Status.SUCCEEDED, job.error
    assert job.attempts == 2 and job.worker.startswith("w2@")
    assert "resumed from checkpoint-evaluate.pt after epoch" in job.log_tail
    epochs = [h["epoch"] for h in job.history]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= killed_at
    assert job.is_active and job.model_artefact.size > 0


def test_two_workers_share_one_queue(small_gallery, workers):
    from webapp.jobs.services import training_job_create, training_job_enqueue

    processes = [workers("w1"), workers("w2")]
    jobs = [
        training_job_create(method="bpr", params={"epochs": 60, "factors": 16, "patience": 100})
        for _ in range(4)
    ]
    for job in jobs:
        training_job_enqueue(job_id=job.pk)

    def all_finished():
        return all(TrainingJob.objects.get(pk=j.pk).is_finished for j in jobs)

    wait_until(all_finished, 300, "four jobs on two workers", processes)
    done = TrainingJob.objects.filter(pk__in=[j.pk for j in jobs])
    assert {j.status for j in done} == {TrainingJob.Status.SUCCEEDED}
    assert {j.worker.split("@")[0] for j in done} == {"w1", "w2"}
    assert all(j.attempts == 1 for j in done)  # no job ran twice
    assert done.filter(is_active=True).count() == 1


def test_broker_down_when_staff_click_train(small_gallery, client, staff, settings, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers the variable
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    client.force_login(staff)
    response = client.post(reverse("curation:job-train"), {"method": "popularity"}, follow=True)
    job = TrainingJob.objects.get()
    assert job.status == TrainingJob.Status.FAILED
    assert "Could not reach the task broker (redis://127.0.0.1:1/0)" in job.error
    page = response.content.decode()
    assert "could not be queued" in page and "Could not reach the task broker" in page
    # nothing lost: the request is on record, ready to requeue once the broker is back
    assert job.method == "popularity" and job.created_by == staff
