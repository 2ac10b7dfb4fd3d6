"""Every finished training job's test evaluation, side by side: the table (and its
exports), means with 95% confidence intervals from the per-event values, and paired
significance tests between two jobs.

A result carries its identity (webapp.jobs.evaluations): the events it ranked, the data
snapshot and the split. Jobs are grouped by (snapshot, split); only jobs of one group are
compared, and a paired test joins their values on (collector, artwork, time).
"""

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.db.models import Prefetch

from webapp.curation.selectors.recommenders import finished_training_jobs, job_params_label
from webapp.jobs.evaluations import JobEvaluation
from webapp.jobs.methods import method_references
from webapp.jobs.models import Artefact, TrainingJob
from webapp.jobs.selectors import job_evaluation

METRIC_ORDER = ("AUC", "HR", "Recall", "Precision", "NDCG", "MRR", "MAP", "Coverage", "Novelty")
HEADLINE = ("AUC", "Recall", "NDCG")
FIELD_SORTS = ("job", "method", "fit", "size")
NOT_COMPARABLE = (
    "evaluated before results carried their events' identity (collector, work, time) and "
    "data snapshot: not comparable with any other job; train it again to compare it"
)


def is_metric(name: str) -> bool:
    """A canonical metric name (job.metrics also holds facts such as test_users)."""
    from recengine.evaluation import metric_name_check

    try:
        metric_name_check(name)
    except ValueError:
        return False
    return True


@dataclass
class JobRow:
    job: TrainingJob
    params: str
    metrics: dict[str, float]
    fit_seconds: float | None
    model_bytes: int | None
    reference: str = ""  # e.g. "reference: the generator's hidden tastes"; "" for a method
    snapshot: str = ""  # the events the evaluation ran on; "" when not comparable
    split: str = ""

    @property
    def data_key(self) -> str:
        return f"{self.snapshot}|{self.split}" if self.snapshot else ""

    def value(self, key: str):
        if key == "job":
            return self.job.pk
        if key == "method":
            return self.job.method
        if key == "fit":
            return self.fit_seconds
        if key == "size":
            return self.model_bytes
        return self.metrics.get(key)


@dataclass
class DataGroup:
    """Jobs evaluated on one snapshot's events with one split: comparable with each other."""

    snapshot: str
    split: str
    rows: list[JobRow] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.snapshot}|{self.split}"

    @property
    def newest(self) -> datetime | None:
        return max((r.job.finished_at for r in self.rows if r.job.finished_at), default=None)

    @property
    def methods(self) -> list[str]:
        return sorted({r.job.method for r in self.rows})


@dataclass
class Interval:
    job: TrainingJob
    mean: float
    low: float | None  # 95% CI; None without per-event values
    high: float | None
    n: int


def _metric_sort_key(name: str) -> tuple:
    base, _, k = name.partition("@")
    family = METRIC_ORDER.index(base) if base in METRIC_ORDER else len(METRIC_ORDER)
    return (family, base, int(k) if k.isdigit() else 0)


def comparison_rows() -> list[JobRow]:
    jobs = finished_training_jobs().prefetch_related(
        Prefetch(
            "artefacts",
            queryset=Artefact.objects.filter(kind=Artefact.Kind.MODEL),
            to_attr="model_artefacts",
        ),
        Prefetch(
            "artefacts",
            queryset=Artefact.objects.filter(kind=Artefact.Kind.EVALUATION),
            to_attr="evaluation_artefacts",
        ),
    )
    references = method_references()
    rows = []
    for job in jobs:
        metrics = {
            k: float(v)
            for k, v in (job.metrics or {}).items()
            if isinstance(v, int | float) and not isinstance(v, bool) and is_metric(k)
        }
        fit = (job.timings or {}).get("fit", (job.metrics or {}).get("fit_seconds"))
        model = job.model_artefacts[0] if job.model_artefacts else None
        evaluation = evaluation_of(job)
        identified = evaluation is not None and evaluation.has_identity
        rows.append(
            JobRow(
                job=job,
                params=job_params_label(job),
                metrics=metrics,
                fit_seconds=float(fit) if fit is not None else None,
                model_bytes=model.size if model else None,
                reference=references.get(job.method, ""),
                snapshot=evaluation.snapshot if identified else "",
                split=evaluation.split if identified else "",
            )
        )
    return rows


def data_groups(rows: list[JobRow]) -> tuple[list[DataGroup], list[JobRow]]:
    """(groups of comparable jobs, newest finished first; jobs that compare with none)."""
    groups: dict[str, DataGroup] = {}
    alone = []
    for row in rows:
        if not row.snapshot:
            alone.append(row)
            continue
        groups.setdefault(row.data_key, DataGroup(row.snapshot, row.split)).rows.append(row)

    def newest(group: DataGroup) -> float:
        return group.newest.timestamp() if group.newest else 0.0

    return sorted(groups.values(), key=newest, reverse=True), alone


def metric_names(rows: list[JobRow]) -> list[str]:
    return sorted({name for row in rows for name in row.metrics}, key=_metric_sort_key)


def parse_sort(value: str) -> tuple[str, bool]:
    """(column, descending) of a checked ?sort= value ("NDCG@20", "-NDCG@20", "method");
    jobs newest first when empty. Checking is MethodsTableForm's."""
    if not value:
        return "job", True
    return value.lstrip("-"), value.startswith("-")


def sort_rows(rows: list[JobRow], key: str, descending: bool) -> list[JobRow]:
    """Missing values last whichever the direction."""
    present = [r for r in rows if r.value(key) is not None]
    missing = [r for r in rows if r.value(key) is None]
    present.sort(key=lambda r: (r.value(key), r.job.pk), reverse=descending)
    return present + missing


def export_records(rows: list[JobRow], metrics: list[str]) -> list[dict]:
    """One flat dict per job, for the CSV and JSON downloads."""
    return [
        {
            "job": row.job.pk,
            "method": row.job.method,
            "reference": row.reference,
            "params": row.params,
            "serving": row.job.is_active,
            "served_model": row.job.served_model,
            "snapshot": row.snapshot,
            "split": row.split,
            "finished_at": row.job.finished_at.isoformat() if row.job.finished_at else None,
            "feature_set": str(row.job.feature_set) if row.job.feature_set else "",
            "fit_seconds": row.fit_seconds,
            "model_bytes": row.model_bytes,
            **{name: row.metrics.get(name) for name in metrics},
        }
        for row in rows
    ]


# --------------------------------------------------------------- per-event values
_evaluations: dict[tuple[int, str], JobEvaluation | None] = {}
_lock = threading.Lock()


def evaluation_of(job: TrainingJob) -> JobEvaluation | None:
    """The job's per-event test values with their identity, cached by checksum."""
    prefetched = getattr(job, "evaluation_artefacts", None)
    if prefetched is not None:
        artefact = prefetched[0] if prefetched else None
    else:
        artefact = job.artefacts.filter(kind=Artefact.Kind.EVALUATION).only("sha256").first()
    if artefact is None:
        return None
    key = (job.pk, artefact.sha256)
    with _lock:
        if key in _evaluations:
            return _evaluations[key]
    evaluation = job_evaluation(job=job)
    with _lock:
        _evaluations[key] = evaluation
    return evaluation


def confidence_interval(values: np.ndarray) -> tuple[float, float, float, int]:
    """(mean, low, high, n) with a two-sided 95% Student-t interval over finite values."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(values.mean())
    if n < 2:
        return mean, mean, mean, n
    half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


def metric_intervals(rows: list[JobRow], metric: str) -> list[Interval]:
    """One interval per job that has the metric, in the rows' order."""
    intervals = []
    for row in rows:
        evaluation = evaluation_of(row.job)
        values = evaluation.metrics.get(metric) if evaluation else None
        if values is not None and np.isfinite(values).any():
            mean, low, high, n = confidence_interval(values)
            intervals.append(Interval(row.job, mean, low, high, n))
        elif metric in row.metrics:  # jobs from before per-event values were kept
            intervals.append(Interval(row.job, row.metrics[metric], None, None, 0))
    return intervals


def chart_metrics(metrics: list[str]) -> tuple[list[str], list[str]]:
    """(headline metrics shown at once, the rest) among the table's columns."""
    headline = [m for m in metrics if m.partition("@")[0] in HEADLINE]
    return headline, [m for m in metrics if m not in headline]


def paired_comparison(*, job_a: TrainingJob, job_b: TrainingJob, metric: str):
    """recengine.stats.paired_test of two jobs on one metric, joined on the events both
    ranked; ValueError with a sentence when they cannot be paired."""
    from recengine.stats import paired_test

    evaluations = {}
    for job in (job_a, job_b):
        evaluation = evaluation_of(job)
        if evaluation is None:
            raise ValueError(f"Job #{job.pk} has no per-event test values (train it again).")
        if not evaluation.has_identity:
            raise ValueError(f"Job #{job.pk} was {NOT_COMPARABLE}.")
        evaluations[job.pk] = evaluation
    first, second = evaluations[job_a.pk], evaluations[job_b.pk]
    if first.data != second.data:
        raise ValueError(
            f"Job #{job_a.pk} was evaluated on data snapshot {first.snapshot} "
            f"({first.split}) and job #{job_b.pk} on {second.snapshot} ({second.split}): "
            "a paired test needs both tested on the same events, so these two cannot be "
            "compared. Train both on the same data."
        )
    if metric not in first.metrics or metric not in second.metrics:
        raise ValueError(f"{metric} was not evaluated per event for both jobs.")
    return paired_test(
        first.keys(), first.metrics[metric], second.keys(), second.metrics[metric], metric=metric
    )
