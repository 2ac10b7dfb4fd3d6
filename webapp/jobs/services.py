"""Creating and sending jobs. The site never imports workers/: tasks are sent by name."""

import logging
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.jobs.methods import method_defaults, validate_method
from webapp.jobs.models import TrainingJob

logger = logging.getLogger(__name__)

RUN_JOB_TASK = "vitrine.run_job"


class JobError(Exception):
    """A job could not be created or sent; the message is meant for the person who clicked."""


@lru_cache(maxsize=4)
def _celery_client(broker_url: str, transport_options: tuple):
    from celery import Celery

    app = Celery("vitrine-site")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = broker_url
    app.conf.broker_transport_options = dict(transport_options)
    return app


def celery_client():
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    return _celery_client(settings.CELERY_BROKER_URL, tuple(sorted(options.items())))


def training_job_create(
    *,
    method: str,
    params: dict | None = None,
    kind: str = TrainingJob.Kind.TRAIN,
    user=None,
    enqueue: bool = True,
) -> TrainingJob:
    """Validate the method against the engine's registry, save the job as queued and send it
    once the transaction commits (so the worker never sees a job that is not there yet)."""
    validate_method(kind=kind, method=method)
    merged = {**method_defaults(kind=kind, method=method), **(params or {})}
    job = TrainingJob.objects.create(
        kind=kind, method=method, params=merged, created_by=user if user and user.pk else None
    )
    if enqueue:
        transaction.on_commit(lambda: training_job_enqueue(job_id=job.pk))
    return job


def training_job_enqueue(*, job_id: int) -> None:
    """Send the job to the queue. A broker that is down fails the job with a clear message
    instead of leaving it queued forever."""
    try:
        celery_client().send_task(
            RUN_JOB_TASK, args=[job_id], queue=settings.CELERY_TASK_DEFAULT_QUEUE
        )
    except Exception as exc:  # kombu raises several types for one cause: broker unreachable
        logger.exception("could not send job %s", job_id)
        broker = settings.CELERY_BROKER_URL.split("@")[-1]  # never show a password
        TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.QUEUED).update(
            status=TrainingJob.Status.FAILED,
            error=f"Could not reach the task broker ({broker}): {exc}",
            finished_at=timezone.now(),
        )


def training_job_rerun(*, job: TrainingJob, user=None) -> TrainingJob:
    return training_job_create(kind=job.kind, method=job.method, params=job.params, user=user)


def default_training_jobs_create(
    *, user=None, only_missing: bool = False, enqueue: bool = True
) -> list[TrainingJob]:
    """Queue the default methods. only_missing skips those that already have a good or
    pending job, so a second `make demo` reuses what the first one trained."""
    from webapp.jobs.methods import default_methods

    jobs = []
    for method in default_methods():
        if (
            only_missing
            and TrainingJob.objects.filter(
                kind=TrainingJob.Kind.TRAIN,
                method=method,
                status__in=[
                    TrainingJob.Status.QUEUED,
                    TrainingJob.Status.RUNNING,
                    TrainingJob.Status.SUCCEEDED,
                ],
            ).exists()
        ):
            continue
        jobs.append(training_job_create(method=method, user=user, enqueue=enqueue))
    return jobs
