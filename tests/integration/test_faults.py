"""Faults with real worker processes: a worker killed mid-training, two workers sharing a
queue, the broker down when staff click train."""

import os
import signal
import time

import pytest
from django.db import transaction
from django.urls import reverse

from webapp.jobs.models import TrainingJob

from .waiting import wait_for_job, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_training_is_replaced_and_the_job_resumes(
    small_gallery, workers, staff
):
    """Two warm workers, as in production, with the default heartbeat and reaper timings.
    The test freezes the running job at a progress write (it holds the job's row lock), so
    the kill lands mid-training however fast or slow the machine is; the job is small, so
    the rest takes seconds on the other worker."""
    from django.conf import settings

    from webapp.jobs.services import training_job_create, training_job_enqueue

    pair = {"w1": workers("w1"), "w2": workers("w2")}
    job = training_job_create(
        method="bpr", params={"epochs": 30, "patience": 1000, "factors": 16}, user=staff
    )
    training_job_enqueue(job_id=job.pk)

    def mid_training():
        job.refresh_from_db()
        return job.status == TrainingJob.Status.RUNNING and 2 <= len(job.history) < 30

    wait_until(mid_training, "two epochs on a worker", jobs=[job], processes=pair.values())
    with transaction.atomic():
        # The worker's next progress write waits on this lock: it cannot move on.
        frozen = TrainingJob.objects.select_for_update().get(pk=job.pk)
        name = frozen.worker.split("@")[0]
        victim, survivor = pair[name], pair["w2" if name == "w1" else "w1"]
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and its pool child, no goodbye
        victim.killed = True
        victim.wait()
        killed_at = len(frozen.history)
    killed = time.monotonic()
    assert frozen.status == TrainingJob.Status.RUNNING  # nobody could mark it

    def taken_over():
        job.refresh_from_db()
        return job.attempts == 2 or job.status == TrainingJob.Status.QUEUED

    wait_until(taken_over, "the reaper to requeue the job", jobs=[job], processes=[survivor])
    requeued_after = time.monotonic() - killed
    bound = settings.VITRINE_STALE_AFTER_S + settings.VITRINE_REAPER_INTERVAL_S
    assert bound <= 30 and requeued_after < 30, f"requeued {requeued_after:.1f} s after the kill"

    job = wait_for_job(job.pk, [survivor])
    assert job.status == TrainingJob.Status.SUCCEEDED, job.error
    assert job.attempts == 2 and job.worker.startswith(f"{survivor.log_path.stem}@")
    assert "resumed from checkpoint-evaluate.pt after epoch" in job.log_tail
    epochs = [h["epoch"] for h in job.history]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= killed_at
    assert job.is_active and job.model_artefact.size > 0


def test_two_workers_share_one_queue(small_gallery, workers, staff):
    from webapp.jobs.services import training_job_create, training_job_enqueue

    processes = [workers("w1"), workers("w2")]
    jobs = [
        training_job_create(
            method="bpr", params={"epochs": 60, "factors": 16, "patience": 100}, user=staff
        )
        for _ in range(4)
    ]
    for job in jobs:
        training_job_enqueue(job_id=job.pk)

    def all_finished():
        return all(TrainingJob.objects.get(pk=j.pk).is_finished for j in jobs)

    wait_until(all_finished, "four jobs on two workers", jobs=jobs, processes=processes)
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
