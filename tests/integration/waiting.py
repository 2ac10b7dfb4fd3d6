"""Waiting on real workers by progress, not by the clock.

A busy machine may take minutes over what an idle one does in seconds, so a wait fails
only when nothing moves: no change in the job (status, progress, epochs, heartbeat,
message) and no new line in any worker's log for ``stall_s`` seconds.
"""

import time

import pytest

from webapp.jobs.models import TrainingJob

POLL_S = 0.05


def _signature(job_ids, processes) -> tuple:
    jobs = TrainingJob.objects.filter(pk__in=job_ids).order_by("pk")
    state = [
        (j.status, j.progress, len(j.history or []), j.heartbeat_at, j.progress_message)
        for j in jobs
    ]
    logs = [p.log_path.stat().st_size if p.log_path.exists() else 0 for p in processes]
    return tuple(state), tuple(logs)


def wait_until(predicate, what: str, *, jobs=(), processes=(), stall_s: float = 240):
    """Poll ``predicate`` until it returns something true; fail with the workers' logs if
    neither the jobs nor the workers' logs change for ``stall_s`` seconds, or if a worker
    exits."""
    job_ids = [getattr(j, "pk", j) for j in jobs]
    last, moved = None, time.monotonic()
    while True:
        value = predicate()
        if value:
            return value
        for process in processes:
            if process.poll() is not None and not getattr(process, "killed", False):
                pytest.fail(
                    f"worker exited ({process.returncode}) while waiting for {what}\n"
                    + _logs(processes)
                )
        now = _signature(job_ids, processes)
        if now != last:
            last, moved = now, time.monotonic()
        elif time.monotonic() - moved > stall_s:
            pytest.fail(f"no progress for {stall_s:.0f} s waiting for {what}\n" + _logs(processes))
        time.sleep(POLL_S)


def wait_for_job(job_id: int, processes=(), stall_s: float = 240) -> TrainingJob:
    """The job once it has finished, however long that takes while it keeps moving."""

    def finished():
        job = TrainingJob.objects.get(pk=job_id)
        return job if job.is_finished else None

    return wait_until(
        finished, f"job {job_id} to finish", jobs=[job_id], processes=processes, stall_s=stall_s
    )


def _logs(processes) -> str:
    return "\n".join(
        f"--- {p.log_path.name} ---\n{p.log_path.read_text()[-3000:]}"
        for p in processes
        if p.log_path.exists()
    )
