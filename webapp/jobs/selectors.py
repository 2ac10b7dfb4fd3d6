"""Reads about jobs."""

from django.db.models import QuerySet

from webapp.jobs.models import TrainingJob


def training_job_list() -> QuerySet[TrainingJob]:
    return TrainingJob.objects.select_related("created_by", "feature_set")


def training_job_active(*, method: str) -> TrainingJob | None:
    """The model served for a method: its newest successful training job."""
    return (
        TrainingJob.objects.filter(
            kind=TrainingJob.Kind.TRAIN, method=method, status=TrainingJob.Status.SUCCEEDED
        )
        .exclude(artefact_path="")
        .order_by("-finished_at", "-id")
        .first()
    )


def trained_methods() -> list[str]:
    """Methods that have a model to serve, in name order."""
    return sorted(
        set(
            TrainingJob.objects.filter(
                kind=TrainingJob.Kind.TRAIN, status=TrainingJob.Status.SUCCEEDED
            ).values_list("method", flat=True)
        )
    )
