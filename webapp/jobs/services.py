"""Creating, sending, cancelling, requeueing, activating and deleting jobs.

Each action takes the acting user and raises PermissionDenied unless they hold its
permission (webapp/permissions.py): the site, the admin and the commands all come here.
The site never imports workers/: tasks are sent by name once the transaction commits,
so a worker never sees a job row that is not there yet.
"""

import logging
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from webapp import permissions
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


def job_queue(*, kind: str, method: str, params: dict) -> str:
    """The gpu queue for the work that needs one (CNN extraction, fine-tuning, DVBPR) when
    a GPU queue is configured; the cpu queue for everything else."""
    if settings.VITRINE_GPU_QUEUE:
        from recengine.features import pretrained_extractors
        from recengine.features.backbones import known_backbones

        cnn = set(known_backbones()) | set(pretrained_extractors())
        cnn_extraction = kind == TrainingJob.Kind.EXTRACT and method in cnn
        pixels = kind == TrainingJob.Kind.TRAIN and (method == "dvbpr" or params.get("fine_tune"))
        if cnn_extraction or pixels:
            return settings.VITRINE_GPU_QUEUE
    return settings.CELERY_TASK_DEFAULT_QUEUE


def training_job_create(
    *,
    method: str,
    params: dict | None = None,
    kind: str = TrainingJob.Kind.TRAIN,
    user,
    enqueue: bool = True,
    request_key: str = "",
) -> TrainingJob:
    """Validate the method against the engine's registry, save the job as queued and send it
    once the transaction commits (so the worker never sees a job that is not there yet).

    request_key: the form's one-time key; a second request with the same key (a double
    click, a resent form) gets the job the first one made instead of a new one."""
    permissions.permission_require(user=user, permission=permissions.TRAIN)
    validate_method(kind=kind, method=method)
    merged = {**method_defaults(kind=kind, method=method), **(params or {})}
    if request_key:
        earlier = TrainingJob.objects.filter(request_key=request_key).first()
        if earlier is not None:
            return _same_request(earlier, kind=kind, method=method, params=merged, user=user)
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the caller's work alone
            job = TrainingJob.objects.create(
                kind=kind,
                method=method,
                params=merged,
                queue=job_queue(kind=kind, method=method, params=merged),
                created_by=user,
                request_key=request_key or None,
            )
    except IntegrityError:
        if not request_key:
            raise
        earlier = TrainingJob.objects.get(request_key=request_key)  # the other click won
        return _same_request(earlier, kind=kind, method=method, params=merged, user=user)
    if enqueue:
        transaction.on_commit(lambda: training_job_enqueue(job_id=job.pk))
    return job


def _same_request(job: TrainingJob, *, kind, method, params, user) -> TrainingJob:
    """The job a key already made, if this request asks for the same thing; a form sent
    again with other choices (Back, change, submit) is refused rather than answered with
    the wrong job."""
    import json

    as_stored = json.loads(json.dumps(params))  # tuples come back from the row as lists
    same = (job.kind, job.method, job.params, job.created_by_id) == (
        kind,
        method,
        as_stored,
        getattr(user, "pk", None),
    )
    if not same:
        raise JobError(
            f"this form was already used for job #{job.pk} ({job.method}); reload the page "
            "to start another job"
        )
    return job


def training_job_enqueue(*, job_id: int) -> None:
    """Send the job to its queue. A broker that is down fails the job at once (the check
    answers within 2 s) with one clear line, instead of leaving it queued forever."""
    from webapp.jobs.broker import broker_address, broker_problem

    job = TrainingJob.objects.get(pk=job_id)
    problem = broker_problem()
    if not problem:
        try:
            result = celery_client().send_task(
                RUN_JOB_TASK, args=[job_id], queue=job.queue or settings.CELERY_TASK_DEFAULT_QUEUE
            )
        except Exception as exc:  # kombu raises several types for one cause: unreachable
            problem = f"Could not reach the task broker ({broker_address()}): {exc}"
    if problem:
        logger.warning("could not send job %s: %s", job_id, problem)
        TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.QUEUED).update(
            status=TrainingJob.Status.FAILED, error=problem, finished_at=timezone.now()
        )
        return
    TrainingJob.objects.filter(pk=job_id).update(task_id=result.id or "")


def training_job_rerun(*, job: TrainingJob, user) -> TrainingJob:
    """A new job with the same method and hyperparameters."""
    return training_job_create(kind=job.kind, method=job.method, params=job.params, user=user)


def training_job_requeue(*, job: TrainingJob, user) -> TrainingJob:
    """Send a failed or cancelled job again, as its next attempt (it resumes from its last
    checkpoint when it has one)."""
    permissions.permission_require(user=user, permission=permissions.REQUEUE)
    if job.status not in (TrainingJob.Status.FAILED, TrainingJob.Status.CANCELLED):
        raise JobError(f"job #{job.pk} is {job.status}; only failed or cancelled jobs requeue")
    TrainingJob.objects.filter(pk=job.pk).update(
        status=TrainingJob.Status.QUEUED,
        cancel_requested=False,
        error="",
        finished_at=None,
        progress_message="queued again",
    )
    transaction.on_commit(lambda: training_job_enqueue(job_id=job.pk))
    job.refresh_from_db()
    return job


def training_job_cancel(*, job: TrainingJob, user) -> TrainingJob:
    """Stop a job: a queued one at once (and its message is revoked), a running one at its
    next progress report (between batches)."""
    permissions.permission_require(user=user, permission=permissions.CANCEL)
    if job.is_finished:
        raise JobError(f"job #{job.pk} is already {job.status}")
    TrainingJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    cancelled_now = TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.QUEUED).update(
        status=TrainingJob.Status.CANCELLED, finished_at=timezone.now(), error="cancelled"
    )
    if cancelled_now and job.task_id:
        try:  # saves a worker the wasted delivery; the claim would skip it anyway
            celery_client().control.revoke(job.task_id)
        except Exception:  # the broker being down must not block a cancel
            logger.warning("could not revoke task %s of job %s", job.task_id, job.pk)
    job.refresh_from_db()
    return job


def training_job_activate(*, job: TrainingJob, user) -> None:
    """Serve this job's model for its method (the only active one)."""
    permissions.permission_require(user=user, permission=permissions.SERVE)
    _serve(job)


def training_job_serve_trained(*, job: TrainingJob) -> bool:
    """The worker's step once a training succeeds: its model becomes the served one when
    nothing serves its method yet, or when the person who queued it may choose the served
    model (a job nobody queued, a row made outside these services, is served as before):
    training alone never replaces the served model. Returns whether it is served now."""
    creator = job.created_by
    may_serve = creator is None or creator.has_perm(permissions.SERVE)
    served = TrainingJob.objects.filter(method=job.method, is_active=True).exclude(pk=job.pk)
    if not may_serve and served.exists():
        return False
    _serve(job)
    return True


def _serve(job: TrainingJob) -> None:
    if job.status != TrainingJob.Status.SUCCEEDED or job.kind != TrainingJob.Kind.TRAIN:
        raise JobError(f"job #{job.pk} has no trained model to serve")
    with transaction.atomic():
        TrainingJob.objects.filter(method=job.method, is_active=True).exclude(pk=job.pk).update(
            is_active=False
        )
        TrainingJob.objects.filter(pk=job.pk).update(is_active=True)


def training_job_delete(*, job: TrainingJob, user) -> None:
    """Delete a job and every file it wrote. A running job must be cancelled first."""
    from webapp.jobs.artefacts import artefacts_delete

    permissions.permission_require(user=user, permission=permissions.DELETE)
    if job.status == TrainingJob.Status.RUNNING:
        raise JobError(f"job #{job.pk} is running; cancel it first")
    artefacts_delete(job=job)
    job.delete()


def default_training_jobs_create(
    *, user, only_missing: bool = False, enqueue: bool = True, request_key: str = ""
) -> list[TrainingJob]:
    """Queue the default trainings (methods, and the visual ones on pretrained features).
    only_missing skips those that already have a good or pending job on the same features,
    so a second `make demo` reuses what the first one trained."""
    from webapp.jobs.methods import default_trainings, method_defaults

    # Up front too: with only_missing and nothing missing, nothing else would check.
    permissions.permission_require(user=user, permission=permissions.TRAIN)

    jobs = []
    for method, params in default_trainings():
        wanted = {**method_defaults(kind=TrainingJob.Kind.TRAIN, method=method), **params}
        pending_or_done = TrainingJob.objects.filter(
            kind=TrainingJob.Kind.TRAIN,
            method=method,
            status__in=[
                TrainingJob.Status.QUEUED,
                TrainingJob.Status.RUNNING,
                TrainingJob.Status.SUCCEEDED,
            ],
        )
        features = wanted.get("features")
        if only_missing and any(
            (job.params or {}).get("features") == features for job in pending_or_done
        ):
            continue
        key = f"{request_key}:{len(jobs)}" if request_key else ""
        jobs.append(
            training_job_create(
                method=method, params=params, user=user, enqueue=enqueue, request_key=key
            )
        )
    return jobs
