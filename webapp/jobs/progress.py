"""What a running job reports while it works: progress, curves, heartbeat, log tail, and
the cooperative check that lets staff cancel it between batches."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from webapp.jobs.models import TrainingJob

PROGRESS_INTERVAL_S = 0.5  # at most two writes a second, however fast batches go
LOG_LINES = 200


class JobCancelled(Exception):
    """Staff asked to stop this job; raised from the progress callback between batches."""


class ProgressRecorder:
    """Turns the engine's callback(fraction, message, **details) into throttled writes.

    A stage maps the engine's 0..1 into a slice of the job's bar, so extraction, the
    evaluation fit, the evaluation, the serving refit and saving share one bar. The bar
    only moves forward: a value below the highest one written so far (a resumed attempt
    replaying its first stages, a second fit starting at epoch 1) holds the bar where it
    is, and the stage's label prefixes the message, so "epoch 1/12" of the refit never
    reads as the job starting over. Epoch details (loss, validation metric, seconds) of
    the "fit" stage become the job's training curves. An epoch's seconds are the engine's
    when it reports them, else the time since the previous epoch's report (unknown for an
    attempt's first epoch); the evaluation fit replaces them with the model's own record
    once it ends (``with_epoch_seconds``). Every write also reads the cancel flag:
    cancelling takes effect within one progress interval.
    """

    def __init__(
        self,
        job_id: int,
        listener=None,
        log_tail: LogTail | None = None,
        reached: float = 0.0,
    ):
        self.job_id = job_id
        self.listener = listener  # e.g. a tqdm bar on the command line; sees every update
        self.log_tail = log_tail
        self.start, self.span = 0.0, 1.0
        self.stage_name = ""
        self.label = ""
        self.history: list[dict] = []
        # The highest value written: a resumed attempt starts from where the last one got.
        self.reached = max(0.0, min(1.0, float(reached or 0.0)))
        self._last_write = 0.0
        self._new_stage = False
        self._last_epoch_at: float | None = None  # when the last epoch was reported

    def stage(
        self, start: float, end: float, name: str = "", label: str | None = None
    ) -> ProgressRecorder:
        """Map the next callbacks onto [start, end] of the bar; ``label`` (default: none)
        prefixes their messages."""
        self.start, self.span = start, end - start
        if name:
            self.stage_name = name
        self.label = label or ""
        self._new_stage = True
        self._last_epoch_at = None
        return self

    def __call__(self, fraction: float, message: str = "", **details) -> None:
        value = self.start + self.span * max(0.0, min(1.0, float(fraction)))
        value = self.reached = max(value, self.reached)
        message = f"{self.label}: {message}" if self.label and message else str(message)
        if self.listener is not None:
            self.listener(value, message, **details)
        epoch_done = "epoch" in details and "loss" in details and "metric_name" in details
        now = time.monotonic()
        if epoch_done and self.stage_name == "fit":
            seconds = details.get("seconds")
            if seconds is None and self._last_epoch_at is not None:
                seconds = now - self._last_epoch_at
            self._last_epoch_at = now
            self.history = [h for h in self.history if h["epoch"] != details["epoch"]]
            self.history.append(
                {
                    "epoch": int(details["epoch"]),
                    "loss": float(details["loss"]),
                    "metric": None if details.get("metric") is None else float(details["metric"]),
                    "metric_name": details.get("metric_name", ""),
                    "seconds": None if seconds is None else float(seconds),
                }
            )
        if now - self._last_write < PROGRESS_INTERVAL_S and fraction < 1.0 and not epoch_done:
            return
        self._last_write = now
        fields = {"progress": value, "progress_message": message[:300]}
        if details.get("seconds_left") is not None:
            fields["seconds_left"] = float(details["seconds_left"])
        elif self._new_stage:  # the last stage's estimate says nothing about this one
            fields["seconds_left"] = None
        self._new_stage = False
        if epoch_done and self.stage_name == "fit":
            fields["history"] = self.history
        if self.log_tail is not None:
            fields["log_tail"] = self.log_tail.text()
        TrainingJob.objects.filter(pk=self.job_id).update(**fields)
        if TrainingJob.objects.filter(pk=self.job_id, cancel_requested=True).exists():
            raise JobCancelled("cancelled by staff")


def with_epoch_seconds(history: list[dict], model_history: list[dict] | None) -> list[dict]:
    """The job's ``history`` with each epoch's seconds from the model's own record
    (``model.history_``: the epoch alone, without reports or checkpoints); epochs the
    model did not time keep the seconds the recorder measured."""
    timed = {
        int(h["epoch"]): float(h["seconds"])
        for h in model_history or []
        if h.get("seconds") is not None
    }
    return [{**h, "seconds": timed.get(int(h["epoch"]), h.get("seconds"))} for h in history]


class Heartbeat:
    """A thread stamping heartbeat_at every ``interval`` seconds while the job runs, so the
    reaper can tell a slow job from one whose worker is gone."""

    def __init__(self, job_id: int, interval: float) -> None:
        self.job_id, self.interval = job_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                close_old_connections()
                try:
                    TrainingJob.objects.filter(
                        pk=self.job_id, status=TrainingJob.Status.RUNNING
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError:  # a missed beat is not an error; the next one counts
                    pass
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class LogTail(logging.Handler):
    """Keeps the last LOG_LINES log lines of the engine and the site while a job runs."""

    LOGGERS = ("recengine", "webapp")

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: deque[str] = deque(maxlen=LOG_LINES)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a log line must never break a job
            pass

    def text(self) -> str:
        return "\n".join(self.lines)

    def __enter__(self) -> LogTail:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)
