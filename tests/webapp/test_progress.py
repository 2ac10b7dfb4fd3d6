"""One progress bar per job: the evaluation fit, the evaluation, the serving refit and
saving share it, and it never moves back."""

import pytest

from tests.acting import trainer
from webapp.jobs import progress as progress_module
from webapp.jobs.models import TrainingJob
from webapp.jobs.progress import ProgressRecorder
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create
from webapp.jobs.training import BAR, SERVE_REFIT, STAGE_LABELS

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_update_written(monkeypatch):
    monkeypatch.setattr(progress_module, "PROGRESS_INTERVAL_S", 0.0)


def stage_of(message: str) -> str:
    return next(name for name, label in STAGE_LABELS.items() if message.startswith(label))


def test_a_training_jobs_bar_runs_once_from_0_to_1_across_its_stages(
    small_gallery, every_update_written
):
    seen = []
    job = training_job_create(
        user=trainer(), method="curatornet", params={"epochs": 3, "batch_size": 8}, enqueue=False
    )
    outcome = training_job_run(
        job_id=job.pk, on_progress=lambda value, message, **_: seen.append((value, message))
    )
    assert outcome == "succeeded"
    values = [value for value, _ in seen]
    assert values == sorted(values), "the bar moved back"
    assert values[0] == 0.0 and values[-1] == 1.0
    stages = list(dict.fromkeys(stage_of(message) for _, message in seen))
    assert stages == ["extract", "fit", "evaluate", "serve", "save"]
    # The serving refit continues the bar inside its own slice: it never starts at 0.
    start, end = BAR[SERVE_REFIT]["serve"]
    refit = [value for value, message in seen if stage_of(message) == "serve"]
    evaluation = [value for value, message in seen if stage_of(message) in ("fit", "evaluate")]
    assert refit and all(start <= value <= end for value in refit)
    assert min(refit) >= max(evaluation)
    job.refresh_from_db()
    assert job.progress == 1.0


def test_each_stage_maps_the_engines_0_to_1_onto_its_slice(db, every_update_written):
    job = TrainingJob.objects.create(method="popularity")
    recorder = ProgressRecorder(job.pk)
    written = []

    def read() -> None:
        job.refresh_from_db()
        written.append((round(job.progress, 3), job.progress_message, job.seconds_left))

    recorder.stage(0.2, 0.6, "fit", label="evaluation fit (train part)")
    for fraction in (0.0, 0.5, 1.0):
        recorder(fraction, f"epoch {fraction}", seconds_left=12.0 * (1 - fraction) + 1)
        read()
    recorder.stage(0.6, 1.0, "serve", label="serving refit (all events)")
    for fraction in (0.0, 0.5, 1.0):  # the engine starts again at epoch 1: the bar does not
        recorder(fraction, "epoch 1/2")
        read()
    assert [progress for progress, _, _ in written] == [0.2, 0.4, 0.6, 0.6, 0.8, 1.0]
    assert written[3][1] == "serving refit (all events): epoch 1/2"
    # The fit's time estimate is not shown as the refit's.
    assert written[2][2] == 1.0 and written[3][2] is None


def test_a_resumed_attempt_starts_where_the_last_one_got(db, every_update_written):
    job = TrainingJob.objects.create(method="popularity", progress=0.7)
    recorder = ProgressRecorder(job.pk, reached=job.progress)
    recorder.stage(0.2, 0.6, "fit", label="evaluation fit (train part)")
    recorder(0.1, "epoch 1/3")
    job.refresh_from_db()
    assert job.progress == pytest.approx(0.7)
