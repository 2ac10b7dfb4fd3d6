"""The reaper: jobs whose worker is gone are queued again, or failed after too many tries.

A worker killed with -9 cannot mark its job; its heartbeat simply stops. Workers run the
reaper when they start and every half minute; `manage.py reap_jobs` runs it from cron.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from webapp.jobs.models import TrainingJob

logger = logging.getLogger(__name__)


def jobs_reap() -> dict[str, list[int]]:
    """Requeue or fail running jobs with a stale heartbeat; returns the ids of each.

    Each change is one conditional UPDATE (still running, same heartbeat), so two reapers
    never act twice on a job; outside a transaction the requeued job is sent at once.
    """
    from webapp.jobs.services import training_job_enqueue

    cutoff = timezone.now() - timezone.timedelta(seconds=settings.VITRINE_STALE_AFTER_S)
    stale = TrainingJob.objects.filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff),
        status=TrainingJob.Status.RUNNING,
    )
    requeued, failed = [], []
    for job in stale:
        last = job.heartbeat_at.isoformat(timespec="seconds") if job.heartbeat_at else "never"
        lost = f"the worker {job.worker or '?'} stopped (last heartbeat {last})"
        if job.attempts < settings.VITRINE_MAX_ATTEMPTS and not job.cancel_requested:
            updated = TrainingJob.objects.filter(
                pk=job.pk, status=TrainingJob.Status.RUNNING, heartbeat_at=job.heartbeat_at
            ).update(
                status=TrainingJob.Status.QUEUED,
                progress_message=f"{lost}; queued again to resume from its checkpoint"[:300],
            )
            if updated:
                requeued.append(job.pk)
                transaction.on_commit(lambda pk=job.pk: training_job_enqueue(job_id=pk))
        else:
            status = (
                TrainingJob.Status.CANCELLED if job.cancel_requested else TrainingJob.Status.FAILED
            )
            updated = TrainingJob.objects.filter(
                pk=job.pk, status=TrainingJob.Status.RUNNING, heartbeat_at=job.heartbeat_at
            ).update(
                status=status,
                finished_at=timezone.now(),
                error=f"{lost} after {job.attempts} attempt(s); not retried",
            )
            if updated:
                failed.append(job.pk)
    if requeued or failed:
        logger.warning("reaper: requeued %s, gave up on %s", requeued, failed)
    return {"requeued": requeued, "failed": failed}
