"""Running a job inside a worker: claim it, do the work with progress, record the outcome.

A delivery claims a queued job (or takes over one whose worker stopped beating); any other
delivery of the same job is a no-op, so duplicates never run a job twice. Transient
failures (database or broker unreachable) put the job back in the queue and let Celery
retry with backoff; anything else fails the job with the error; a cancel request stops it
between batches; a crash mid-training resumes from the last epoch's checkpoint.

A training job evaluates and then serves (webapp.jobs.training): the evaluation fit and,
by default, the serving refit run in this one task, under one soft time limit and one
progress bar.
"""

import logging
import socket
import time
import traceback

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from webapp.jobs.errors import TransientJobError
from webapp.jobs.models import TrainingJob
from webapp.jobs.progress import Heartbeat, JobCancelled, LogTail, ProgressRecorder
from webapp.jobs.training import run_training, stages_in_words

logger = logging.getLogger(__name__)

# Worth a retry: the database or the broker was briefly out of reach.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def _stale_before():
    return timezone.now() - timezone.timedelta(seconds=settings.VITRINE_STALE_AFTER_S)


def training_job_claim(
    *, job_id: int, task_id: str = "", worker_name: str = ""
) -> TrainingJob | None:
    """Mark the job running for this worker, or return None when another delivery owns it
    (it is finished, cancelled, or running with a live heartbeat)."""
    now = timezone.now()
    runnable = Q(status=TrainingJob.Status.QUEUED) | Q(
        status=TrainingJob.Status.RUNNING, heartbeat_at__lt=_stale_before()
    )
    claimed = TrainingJob.objects.filter(runnable, pk=job_id, cancel_requested=False).update(
        status=TrainingJob.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        worker=(worker_name or socket.gethostname())[:200],
        task_id=task_id or F("task_id"),
        progress_message="starting",
        error="",
    )
    if not claimed:
        return None
    return TrainingJob.objects.get(pk=job_id)


def training_job_run(
    *, job_id: int, on_progress=None, task_id: str = "", worker_name: str = ""
) -> str:
    """Run a job once; returns "succeeded", "failed", "cancelled" or "skipped"."""
    job = training_job_claim(job_id=job_id, task_id=task_id, worker_name=worker_name)
    if job is None:
        logger.info("job %s is not runnable here (finished, cancelled or owned); skipped", job_id)
        TrainingJob.objects.filter(
            pk=job_id, status=TrainingJob.Status.QUEUED, cancel_requested=True
        ).update(status=TrainingJob.Status.CANCELLED, finished_at=timezone.now())
        return "skipped"
    from recengine.memory import PeakMemory

    with LogTail() as log_tail, Heartbeat(job_id, settings.VITRINE_HEARTBEAT_S):
        # A resumed attempt's bar starts where the last one got, never back at 0.
        progress = ProgressRecorder(
            job_id, listener=on_progress, log_tail=log_tail, reached=job.progress
        )
        progress.history = list(job.history or [])  # a resumed attempt continues the curves
        logger.info("job %s (%s) attempt %s on %s", job.pk, job.method, job.attempts, job.worker)
        try:
            with PeakMemory() as memory:
                if job.kind == TrainingJob.Kind.EXTRACT:
                    outcome = _run_extraction(job, progress)
                else:
                    outcome = run_training(job, progress)
        except JobCancelled:
            _finish(job, TrainingJob.Status.CANCELLED, log_tail, error="cancelled by staff")
            return "cancelled"
        except TRANSIENT_ERRORS as error:
            logger.warning("job %s: transient error, queued again: %s", job_id, error)
            TrainingJob.objects.filter(pk=job_id).update(
                status=TrainingJob.Status.QUEUED,
                progress_message=f"retrying after a transient error: {error}"[:300],
            )
            raise TransientJobError(str(error)) from error
        except Exception as error:
            from celery.exceptions import SoftTimeLimitExceeded

            if isinstance(error, SoftTimeLimitExceeded):
                message = _time_limit_message(job, progress)
            else:
                message = f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=8)}"
            logger.exception("job %s failed", job_id)
            _finish(job, TrainingJob.Status.FAILED, log_tail, error=message)
            return "failed"
        outcome["peak_memory_mb"] = round(memory.peak / 2**20, 1)
        outcome.update(_gpu_memory())
        _finish(job, TrainingJob.Status.SUCCEEDED, log_tail, **outcome)
    return "succeeded"


def _time_limit_message(job: TrainingJob, progress: ProgressRecorder) -> str:
    """Which stage the limit stopped, and that one limit covers every stage of the job."""
    during = f" during the {progress.label}" if progress.label else ""
    return (
        f"stopped{during}: the job ran past the {settings.CELERY_TASK_SOFT_TIME_LIMIT} s time "
        f"limit (CELERY_TASK_SOFT_TIME_LIMIT), which covers all of one job in one task: "
        f"{stages_in_words(job)}"
    )


def _gpu_memory() -> dict:
    try:
        import torch
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {}
    return {"gpu_peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}


def _finish(job: TrainingJob, status: str, log_tail: LogTail, **fields) -> None:
    fields = {
        "status": status,
        "finished_at": timezone.now(),
        "log_tail": log_tail.text(),
        "seconds_left": None,
        **fields,
    }
    if status == TrainingJob.Status.SUCCEEDED:
        fields.update(progress=1.0, progress_message="done")
    with transaction.atomic():
        TrainingJob.objects.filter(pk=job.pk).update(**fields)
        if status == TrainingJob.Status.SUCCEEDED and job.kind == TrainingJob.Kind.TRAIN:
            from webapp.jobs.services import training_job_serve_trained

            training_job_serve_trained(job=TrainingJob.objects.get(pk=job.pk))


def _run_extraction(job: TrainingJob, progress: ProgressRecorder) -> dict:
    from webapp.jobs.features import features_extract

    p = job.params
    started = time.perf_counter()
    feature_set = features_extract(
        extractor_name=job.method,
        weights=p.get("weights") or None,
        image_size=p.get("image_size") or None,
        l2=bool(p.get("l2", False)),
        pca_dim=p.get("pca_dim") or None,
        progress=progress.stage(0.0, 1.0, "extract"),
    )
    return {
        "feature_set": feature_set,
        "visual_source": feature_set.source[:300],
        "metrics": {"items": feature_set.n_items, "dim": feature_set.dim},
        "timings": {"extract": round(time.perf_counter() - started, 3)},
    }
