"""What is served is what was evaluated: the refit runs the epoch count validation chose,
or the evaluated model itself serves; one bar and one time limit cover both fits."""

import numpy as np
import pytest
from django.urls import reverse

from recengine.models.gradient import GradientRecommender
from tests.acting import trainer
from webapp.jobs.models import Artefact, TrainingJob
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create, training_job_requeue
from webapp.jobs.serving import model_for_job

pytestmark = pytest.mark.django_db

# Validation scores by epoch: best at epoch 2, then two without improvement (patience 2).
VALIDATION = [0.10, 0.30, 0.20, 0.25]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr("webapp.jobs.services.training_job_enqueue", lambda *, job_id: None)


@pytest.fixture
def stops_at_epoch_two(monkeypatch):
    """Early stopping that deterministically picks epoch 2 and stops after epoch 4."""

    def validator(self, train, valid):
        scores = iter(VALIDATION)
        return lambda: next(scores)

    monkeypatch.setattr(GradientRecommender, "_validator", validator)


def _run(job: TrainingJob, **kwargs) -> TrainingJob:
    outcome = training_job_run(job_id=job.pk, **kwargs)
    job.refresh_from_db()
    assert outcome == "succeeded", job.error
    return job


def _weights(model) -> dict[str, np.ndarray]:
    return model._weights()


def test_refit_serves_the_epoch_count_validation_chose(small_gallery, stops_at_epoch_two):
    job = _run(
        training_job_create(user=trainer(), method="bpr", params={"epochs": 10, "patience": 2})
    )
    evaluated = model_for_job(job, Artefact.Kind.EVALUATION_MODEL)
    served = model_for_job(job)
    assert len(evaluated.history_) == 4 and evaluated.best_epoch_ == 2  # stopped early
    assert job.state["best_epoch"] == job.metrics["best_epoch"] == evaluated.best_epoch_
    # exactly the chosen epochs, on every event, with no second early stop
    assert served.hyperparameters["epochs"] == evaluated.best_epoch_
    assert len(served.history_) == 2
    assert all(h["metric"] is None for h in served.history_)
    assert job.served_model == (
        f"refitted on all {job.snapshot['interactions']} events for 2 epochs "
        "(the epoch validation chose)"
    )
    assert [h["epoch"] for h in job.history] == [1, 2, 3, 4]  # curves of the evaluation fit


def test_evaluated_mode_serves_the_evaluated_weights(small_gallery, settings):
    settings.VITRINE_SERVE_MODEL = "evaluated"
    job = _run(training_job_create(user=trainer(), method="bpr", params={"epochs": 3}))
    model = job.artefacts.get(kind=Artefact.Kind.MODEL)
    evaluation = job.artefacts.get(kind=Artefact.Kind.EVALUATION_MODEL)
    assert (model.path, model.sha256) == (evaluation.path, evaluation.sha256)
    served = _weights(model_for_job(job))
    evaluated = _weights(model_for_job(job, Artefact.Kind.EVALUATION_MODEL))
    assert served.keys() == evaluated.keys()
    assert all(np.array_equal(served[k], evaluated[k]) for k in served)
    assert "serve_fit" not in job.timings and job.state["serve"] == "evaluated"
    assert job.served_model.startswith("the evaluated model")
    assert job.artefacts.filter(kind=Artefact.Kind.INDEX).exists()  # built from it


def test_a_closed_form_model_is_refitted_as_it_was_evaluated(small_gallery):
    job = _run(training_job_create(user=trainer(), method="popularity"))
    assert job.served_model == (
        f"refitted on all {job.snapshot['interactions']} events with the evaluated hyperparameters"
    )


def test_progress_only_moves_forward_across_both_fits_and_a_resume(
    small_gallery, stops_at_epoch_two
):
    job = training_job_create(user=trainer(), method="bpr", params={"epochs": 10, "patience": 2})
    seen: list[tuple[float, str]] = []

    def crash_in_the_refit(value, message, **details):
        seen.append((value, message))
        if message.startswith("serving refit"):
            raise RuntimeError("worker lost")

    assert training_job_run(job_id=job.pk, on_progress=crash_in_the_refit) == "failed"
    job.refresh_from_db()
    assert job.state["evaluated"] and job.state["best_epoch"] == 2
    stopped_at = job.progress
    assert stopped_at >= 0.55  # past the evaluation fit and the evaluation
    first_fit = job.timings["fit"]

    training_job_requeue(user=trainer(), job=job)
    resumed: list[tuple[float, str]] = []
    job = _run(job, on_progress=lambda value, message, **d: resumed.append((value, message)))
    # The last report of the first attempt is the one that crashed, never written.
    assert seen[-1][1].startswith("serving refit")
    values = [v for v, _ in seen[:-1]] + [v for v, _ in resumed]
    assert values == sorted(values) and values[-1] == 1.0
    assert min(v for v, _ in resumed) >= stopped_at  # the resumed bar never restarts
    messages = [m for _, m in resumed]
    assert not any(m.startswith("evaluation fit") for m in messages)  # not evaluated twice
    assert any(m.startswith("serving refit") and "epoch 2/2" in m for m in messages)
    assert job.timings["fit"] == first_fit and job.attempts == 2
    assert model_for_job(job).hyperparameters["epochs"] == 2  # the best epoch, kept in state


def test_the_job_page_says_what_is_served_and_what_the_time_limit_covers(
    client, staff, small_gallery, settings
):
    job = _run(training_job_create(user=trainer(), method="popularity"))
    client.force_login(staff)
    html = client.get(reverse("curation:job-detail", args=[job.pk])).content.decode()
    assert job.served_model in html
    assert f"{settings.CELERY_TASK_SOFT_TIME_LIMIT} s (CELERY_TASK_SOFT_TIME_LIMIT)" in html
    assert "the evaluation fit, the evaluation, the serving refit on all events" in html
