"""Which recommender a collector page opens with: the one the site's own evaluation ranks
best, with the reason in words.

The site's training jobs are all tested on the temporal split (each collector's last
events held out, nothing after them trained on); among the jobs evaluated on the newest
event snapshot with that split, the default is the method with the best NDCG@20. A
reference line (the oracle) is never a default, and jobs evaluated on other data do not
compete: their numbers are not comparable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from webapp.curation.selectors.evaluations import comparison_rows, data_groups
from webapp.curation.selectors.recommenders import finished_training_jobs, job_label
from webapp.jobs.models import TrainingJob
from webapp.jobs.training import SPLIT

DEFAULT_METRIC = "NDCG@20"


@dataclass(frozen=True)
class DefaultMethod:
    value: str  # the choice the collector page takes: "visrank" or "job:12"
    job: TrainingJob
    label: str  # "visrank on efficientnet_lite0 (ImageNet) features"
    metric: str
    score: float
    runner_up: tuple[str, float] | None  # (label, score) of the next best method
    compared: int  # methods that competed
    snapshot: str
    split: str

    @property
    def reason(self) -> str:
        against = (
            f"; next: {self.runner_up[0]} at {self.runner_up[1]:.4f}" if self.runner_up else ""
        )
        return (
            f"{self.label} (job #{self.job.pk}) has the best {self.metric} "
            f"({self.score:.4f}) of {self.compared} methods tested on the {self.split} split "
            f"of events snapshot {self.snapshot[:12]}{against}"
        )


_cache: dict[tuple, DefaultMethod | None] = {}
_cache_lock = threading.Lock()


def default_method() -> DefaultMethod | None:
    """The best method under the temporal protocol, or None before any job has been
    evaluated (the page then falls back to a served method and says so)."""
    signature = tuple(finished_training_jobs().values_list("pk", "finished_at", "is_active"))
    with _cache_lock:
        if signature in _cache:
            return _cache[signature]
    found = _choose()
    with _cache_lock:
        _cache.clear()  # only the current jobs matter
        _cache[signature] = found
    return found


def _choose() -> DefaultMethod | None:
    groups, _ = data_groups(comparison_rows())
    for group in groups:  # newest first
        if group.split != SPLIT:
            continue
        rows = [r for r in group.rows if not r.reference and DEFAULT_METRIC in r.metrics]
        if not rows:
            continue
        # Best score; among equals the newer job (it saw the newest catalogue).
        rows.sort(key=lambda r: (r.metrics[DEFAULT_METRIC], r.job.pk), reverse=True)
        best = rows[0]
        others = [r for r in rows[1:] if job_label(r.job) != job_label(best.job)]
        job = best.job
        return DefaultMethod(
            value=job.method if job.is_active else f"job:{job.pk}",
            job=job,
            label=job_label(job),
            metric=DEFAULT_METRIC,
            score=best.metrics[DEFAULT_METRIC],
            runner_up=(job_label(others[0].job), others[0].metrics[DEFAULT_METRIC])
            if others
            else None,
            compared=len({job_label(r.job) for r in rows}),
            snapshot=group.snapshot,
            split=group.split,
        )
    return None
