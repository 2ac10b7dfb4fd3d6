"""Reads about jobs."""

import numpy as np
from django.core.files.storage import default_storage
from django.db.models import QuerySet

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


def job_evaluation(*, job: TrainingJob) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """(collector ids, {metric: per-collector values}) of a job's test evaluation, or None
    for jobs trained before per-user values were kept."""
    artefact = job.artefacts.filter(kind=Artefact.Kind.EVALUATION).first()
    if artefact is None:
        return None
    with default_storage.open(artefact.path, "rb") as handle:
        with np.load(handle, allow_pickle=False) as data:
            users = data["user_ids"].astype(str)
            metrics = {
                key.removeprefix("metric:"): data[key].copy()
                for key in data.files
                if key.startswith("metric:")
            }
    return users, metrics
