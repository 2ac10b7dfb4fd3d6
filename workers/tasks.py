"""Thin tasks: take a job id, call the service that does the work; the row records it.

Task policy: acks_late with reject_on_worker_lost (a message is only gone once its job
ran), one message prefetched at a time (settings), soft and hard time limits (settings),
and retries with exponential backoff only for transient failures (database or broker
briefly unreachable); any other failure is final and written on the job row.
"""

import logging
import threading
import time

from celery import shared_task
from celery.signals import worker_ready

from webapp.jobs.errors import TransientJobError

logger = logging.getLogger(__name__)


@shared_task(
    name="vitrine.run_job",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientJobError,),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
)
def run_job(self, job_id: int) -> str:
    # Imported here so the worker has finished django.setup() before models load.
    from webapp.jobs.running import training_job_run

    return training_job_run(
        job_id=job_id, task_id=self.request.id or "", worker_name=self.request.hostname or ""
    )


@worker_ready.connect
def start_reaper(sender=None, **kwargs) -> None:
    """Reap when the worker starts (a worker replacing a killed one finds its job at once)
    and every VITRINE_REAPER_INTERVAL_S after, in a daemon thread of the main process."""

    def loop() -> None:
        from django.conf import settings
        from django.db import close_old_connections

        from webapp.jobs.reaping import jobs_reap

        while True:
            close_old_connections()
            try:
                jobs_reap()
            except Exception:  # the database may be briefly away; try again later
                logger.exception("reaper failed")
            time.sleep(settings.VITRINE_REAPER_INTERVAL_S)

    threading.Thread(target=loop, name="vitrine-reaper", daemon=True).start()


@shared_task(name="vitrine.describe_artwork", acks_late=True, reject_on_worker_lost=True)
def describe_artwork(artwork_id: int) -> str:
    """A work listed through the API: its image described for the served models."""
    from webapp.api.works import artwork_describe

    return artwork_describe(artwork_id=artwork_id)
