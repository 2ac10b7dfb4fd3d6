"""A job's test results with their identity: which event each value ranked (collector,
artwork, time, as external ids), on which data snapshot and which split.

Two jobs' values are paired on that identity, and only when both were evaluated on the
same snapshot and split; a file written before results carried their identity is read
(its means and intervals still show) but says it cannot be paired.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from webapp.jobs.models import Artefact, TrainingJob
from webapp.storage import artefact_storage

FILE_NAME = "evaluation.npz"


@dataclass
class JobEvaluation:
    """Per-row test values of one job; a row is an event (or, for protocols that rank a
    user's whole held-out set, a collector: artwork "" and time -1)."""

    collector_ids: np.ndarray  # (n,) str
    metrics: dict[str, np.ndarray]  # name -> (n,) float64
    artwork_ids: np.ndarray | None = None  # (n,) str; None in files from before keys
    times: np.ndarray | None = None  # (n,) float64 unix seconds, -1 for a collector row
    snapshot: str = ""  # id of the events the split was cut from
    split: str = ""

    @property
    def has_identity(self) -> bool:
        return self.artwork_ids is not None and bool(self.snapshot) and bool(self.split)

    @property
    def data(self) -> tuple[str, str]:
        """(snapshot id, split name): two results pair only when these are equal."""
        return self.snapshot, self.split

    def keys(self) -> np.ndarray:
        """(n, 3) object array of (collector id, artwork id, time): what paired tests join
        on (``recengine.stats.paired_test``)."""
        if not self.has_identity:
            raise ValueError("this evaluation was stored without its events' identity")
        keys = np.empty((len(self.collector_ids), 3), dtype=object)
        keys[:, 0] = self.collector_ids.tolist()
        keys[:, 1] = self.artwork_ids.tolist()
        keys[:, 2] = self.times.tolist()
        return keys

    def held_out_pairs(self) -> set[tuple[str, str]]:
        """(collector id, artwork id) of every held-out event: the split left every row of
        these pairs out of training (recengine.splits' leakage guard)."""
        if not self.has_identity:
            return set()
        return {
            (c, a)
            for c, a in zip(self.collector_ids.tolist(), self.artwork_ids.tolist(), strict=True)
            if a
        }


def evaluation_save(
    *, job: TrainingJob, result, data, snapshot: str, split: str, job_snapshot: str = ""
) -> Artefact:
    """Store an engine EvaluationResult of ``data`` (recengine.Interactions) with external
    ids: result.keys() rows (user, work, time) become (collector id, artwork id, time).

    snapshot: the id of the events alone, what pairs two results; job_snapshot: the job's
    own snapshot id (events and the features it read), kept for the record."""
    from webapp.jobs.artefacts import artefact_save

    keys = result.keys()
    users = keys[:, 0].astype(np.int64)
    works = keys[:, 1].astype(np.int64)
    artwork_ids = np.where(
        works >= 0, np.asarray(data.item_ids, dtype=str)[np.maximum(works, 0)], ""
    )
    job.refresh_from_db(fields=["attempts"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / FILE_NAME
        np.savez(
            path,
            collector_ids=np.asarray(data.user_ids, dtype=str)[users],
            artwork_ids=artwork_ids.astype(str),
            times=keys[:, 2].astype(np.float64),
            snapshot=np.asarray(snapshot),
            split=np.asarray(split),
            job_snapshot=np.asarray(job_snapshot),
            **{f"metric:{name}": values for name, values in result.per_user.items()},
        )
        return artefact_save(job=job, kind=Artefact.Kind.EVALUATION, local=path)


def evaluation_load(*, artefact: Artefact) -> JobEvaluation:
    with artefact_storage().open(artefact.path, "rb") as handle:
        with np.load(handle, allow_pickle=False) as stored:
            files = set(stored.files)
            metrics = {
                key.removeprefix("metric:"): stored[key].astype(np.float64)
                for key in files
                if key.startswith("metric:")
            }
            users = stored["collector_ids" if "collector_ids" in files else "user_ids"]
            identity = {"artwork_ids", "times", "snapshot", "split"} <= files
            return JobEvaluation(
                collector_ids=users.astype(str),
                metrics=metrics,
                artwork_ids=stored["artwork_ids"].astype(str) if identity else None,
                times=stored["times"].astype(np.float64) if identity else None,
                snapshot=str(stored["snapshot"]) if identity else "",
                split=str(stored["split"]) if identity else "",
            )
