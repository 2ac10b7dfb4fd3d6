"""Every finished training job's test evaluation, side by side: the table (and its
exports), means with 95% confidence intervals from the per-collector values, and paired
significance tests between two jobs on the collectors both were evaluated on."""

import math
import re
import threading
from dataclasses import dataclass

import numpy as np
from django.db.models import Prefetch

from webapp.curation.selectors.recommenders import finished_training_jobs, job_params_label
from webapp.jobs.models import Artefact, TrainingJob
from webapp.jobs.selectors import job_evaluation

# Facts stored beside the metrics in job.metrics, not metrics themselves.
NOT_METRICS = {"test_users", "fit_seconds", "best_epoch", "items", "dim"}
METRIC_ORDER = ("AUC", "HR", "Recall", "Precision", "NDCG", "MRR", "MAP", "Coverage", "Novelty")
HEADLINE = ("AUC", "Recall", "NDCG")
FIELD_SORTS = ("job", "method", "fit", "size")


@dataclass
class JobRow:
    job: TrainingJob
    params: str
    metrics: dict[str, float]
    fit_seconds: float | None
    model_bytes: int | None

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
class Interval:
    job: TrainingJob
    mean: float
    low: float | None  # 95% CI; None without per-collector values
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
    rows = []
    for job in jobs:
        metrics = {
            k: float(v)
            for k, v in (job.metrics or {}).items()
            if k not in NOT_METRICS and isinstance(v, int | float) and not isinstance(v, bool)
        }
        fit = (job.timings or {}).get("fit", (job.metrics or {}).get("fit_seconds"))
        model = job.model_artefacts[0] if job.model_artefacts else None
        rows.append(
            JobRow(
                job=job,
                params=job_params_label(job),
                metrics=metrics,
                fit_seconds=float(fit) if fit is not None else None,
                model_bytes=model.size if model else None,
            )
        )
    return rows


def metric_names(rows: list[JobRow]) -> list[str]:
    return sorted({name for row in rows for name in row.metrics}, key=_metric_sort_key)


def parse_sort(value: str, metrics: list[str]) -> tuple[str, bool]:
    """(column, descending) from ?sort=NDCG@20 or ?sort=-NDCG@20; jobs newest first
    by default."""
    descending = value.startswith("-")
    key = value.lstrip("-")
    if key in metrics or key in FIELD_SORTS:
        return key, descending
    return "job", True


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
            "params": row.params,
            "serving": row.job.is_active,
            "finished_at": row.job.finished_at.isoformat() if row.job.finished_at else None,
            "feature_set": str(row.job.feature_set) if row.job.feature_set else "",
            "fit_seconds": row.fit_seconds,
            "model_bytes": row.model_bytes,
            **{name: row.metrics.get(name) for name in metrics},
        }
        for row in rows
    ]


# --------------------------------------------------------------- per-collector values
_evaluations: dict[tuple[int, str], tuple] = {}
_lock = threading.Lock()


def evaluation_of(job: TrainingJob):
    """(collector ids, {metric: values}) of the job's test split, cached by checksum."""
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
        values = evaluation[1].get(metric) if evaluation else None
        if values is not None and np.isfinite(values).any():
            mean, low, high, n = confidence_interval(values)
            intervals.append(Interval(row.job, mean, low, high, n))
        elif metric in row.metrics:  # jobs from before per-collector values were kept
            intervals.append(Interval(row.job, row.metrics[metric], None, None, 0))
    return intervals


def chart_metrics(metrics: list[str]) -> tuple[list[str], list[str]]:
    """(headline metrics shown at once, the rest) among the table's columns."""
    headline = [m for m in metrics if m.partition("@")[0] in HEADLINE]
    return headline, [m for m in metrics if m not in headline]


def paired_comparison(*, job_a: TrainingJob, job_b: TrainingJob, metric: str):
    """recengine.stats.paired_test of two jobs on one metric; ValueError with a reason."""
    from recengine.stats import paired_test

    first, second = evaluation_of(job_a), evaluation_of(job_b)
    if first is None or second is None:
        raise ValueError("Both jobs need per-collector test values (train them again).")
    if metric not in first[1] or metric not in second[1]:
        raise ValueError(f"{metric} was not evaluated per collector for both jobs.")
    return paired_test(first[0], first[1][metric], second[0], second[1][metric], metric=metric)


def safe_metric(value: str) -> str:
    """Metric names are short words with an optional @k; anything else is refused."""
    return value if re.fullmatch(r"[A-Za-z]{1,20}(@\d{1,4})?", value or "") else ""
