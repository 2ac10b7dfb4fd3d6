"""Seconds per epoch on the job page: median, fastest and how many epochs, from the
job's stored history; live while a job runs; the model's own timing once it is fitted."""

import statistics

import numpy as np
import pytest
from django.template.defaultfilters import floatformat
from django.urls import reverse

from tests.acting import trainer
from webapp.jobs import progress as progress_module
from webapp.jobs.models import Artefact, TrainingJob
from webapp.jobs.progress import ProgressRecorder, with_epoch_seconds
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create
from webapp.jobs.serving import model_for_job

pytestmark = pytest.mark.django_db


def _history(seconds):
    return [
        {
            "epoch": n + 1,
            "loss": 1.0 / (n + 1),
            "metric": None,
            "metric_name": "ndcg@10",
            "seconds": s,
        }
        for n, s in enumerate(seconds)
    ]


def _pace(html: str) -> str:
    return html.split('data-testid="epoch-seconds">')[1].split("</p>")[0]


def test_the_job_page_shows_the_median_and_fastest_seconds_per_epoch(client, curator):
    seconds = np.random.default_rng(7).uniform(0.2, 4.0, size=9).tolist()
    job = TrainingJob.objects.create(
        method="bpr", status=TrainingJob.Status.SUCCEEDED, history=_history(seconds)
    )
    client.force_login(curator)
    html = client.get(reverse("curation:job-detail", args=[job.pk])).content.decode()
    pace = _pace(html)
    assert f"median {floatformat(statistics.median(seconds), 2)}" in pace
    assert f"fastest {floatformat(min(seconds), 2)}" in pace
    assert "over 9 timed epochs" in pace and "so far" not in pace
    assert "<figcaption>Seconds per epoch</figcaption>" in html  # beside the loss curve


def test_a_job_without_timed_epochs_shows_no_seconds(client, curator):
    job = TrainingJob.objects.create(
        method="bpr", status=TrainingJob.Status.SUCCEEDED, history=_history([None, None])
    )
    client.force_login(curator)
    html = client.get(reverse("curation:job-detail", args=[job.pk])).content.decode()
    assert 'data-testid="epoch-seconds"' not in html and "Training loss" in html


def test_a_running_job_shows_the_seconds_per_epoch_so_far(client, curator, monkeypatch):
    monkeypatch.setattr(progress_module, "PROGRESS_INTERVAL_S", 0.0)
    job = TrainingJob.objects.create(method="bpr", status=TrainingJob.Status.RUNNING)
    recorder = ProgressRecorder(job.pk).stage(0.0, 0.5, "fit", label="evaluation fit")
    reported = np.random.default_rng(8).uniform(0.5, 2.0, size=4).tolist()
    for epoch, seconds in enumerate(reported, start=1):  # as the engine reports an epoch
        recorder(
            epoch / 10,
            f"epoch {epoch}/10",
            epoch=epoch,
            loss=0.5,
            metric=None,
            metric_name="ndcg@10",
            seconds=seconds,
        )
    client.force_login(curator)
    pace = _pace(client.get(reverse("curation:job-status", args=[job.pk])).content.decode())
    assert f"median {floatformat(statistics.median(reported), 2)}" in pace
    assert f"fastest {floatformat(min(reported), 2)}" in pace
    assert "over 4 timed epochs so far" in pace


def test_the_models_own_epoch_times_replace_the_measured_ones():
    measured = _history([None, 2.5, 2.0])  # the first epoch of an attempt is not measured
    model = [{"epoch": 1, "seconds": 1.5}, {"epoch": 2, "seconds": 1.75}]  # epoch 3 untimed
    merged = with_epoch_seconds(measured, model)
    assert [h["seconds"] for h in merged] == [1.5, 1.75, 2.0]
    assert [h["loss"] for h in merged] == [h["loss"] for h in measured]
    assert with_epoch_seconds(measured, None) == measured


def test_a_gradient_jobs_history_keeps_its_models_epoch_seconds(small_gallery, settings):
    settings.VITRINE_SERVE_MODEL = "evaluated"  # no refit: one fit is enough
    job = training_job_create(
        user=trainer(), method="bpr", params={"epochs": 3, "factors": 8}, enqueue=False
    )
    assert training_job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    model = model_for_job(job, Artefact.Kind.EVALUATION_MODEL)
    assert [h["epoch"] for h in job.history] == [h["epoch"] for h in model.history_]
    assert [h["seconds"] for h in job.history] == [h["seconds"] for h in model.history_]
    assert all(h["seconds"] > 0 for h in job.history)
