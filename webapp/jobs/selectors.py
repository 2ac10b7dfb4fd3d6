"""Reads about jobs."""

from django.db.models import QuerySet

from webapp.jobs.evaluations import JobEvaluation, evaluation_load
from webapp.jobs.models import Artefact, TrainingJob


def training_job_list() -> QuerySet[TrainingJob]:
    return TrainingJob.objects.select_related("created_by", "feature_set")


def training_job_active(*, method: str) -> TrainingJob | None:
    """The model served for a method: the job marked active (a model artefact exists)."""
    return (
        TrainingJob.objects.filter(
            kind=TrainingJob.Kind.TRAIN,
            method=method,
            is_active=True,
            status=TrainingJob.Status.SUCCEEDED,
            artefacts__kind=Artefact.Kind.MODEL,
        )
        .select_related("feature_set")
        .first()
    )


def trained_methods() -> list[str]:
    """Methods that have a model to serve, in name order."""
    return sorted(
        set(
            TrainingJob.objects.filter(
                kind=TrainingJob.Kind.TRAIN, is_active=True, status=TrainingJob.Status.SUCCEEDED
            ).values_list("method", flat=True)
        )
    )


def job_evaluation(*, job: TrainingJob) -> JobEvaluation | None:
    """The job's per-event test values with their identity (webapp.jobs.evaluations), or
    None for jobs trained before per-row values were kept."""
    artefact = job.artefacts.filter(kind=Artefact.Kind.EVALUATION).first()
    if artefact is None:
        return None
    return evaluation_load(artefact=artefact)
