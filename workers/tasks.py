"""Thin tasks: take a job id, call the service that does the work; the row records it."""

from celery import shared_task


@shared_task(name="vitrine.run_job", acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: int) -> str:
    # Imported here so the worker has finished django.setup() before models load.
    from webapp.jobs.running import training_job_run

    return training_job_run(job_id=job_id)
