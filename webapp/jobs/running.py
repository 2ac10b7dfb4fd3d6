"""Running a job inside a worker: claim it, do the work with progress, record the outcome."""

import hashlib
import logging
import socket
import tempfile
import time
import traceback
from pathlib import Path, PurePosixPath

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from webapp.catalogue.models import FeatureSet
from webapp.jobs.models import TrainingJob

logger = logging.getLogger(__name__)

# Knobs the site reads (which feature set to use); not passed to the engine model.
SITE_PARAMS = ("features", "features_weights", "features_image_size", "features_l2", "features_pca")
PROGRESS_INTERVAL_S = 0.5
EVAL_KS = (10, 20)


class ProgressRecorder:
    """Turns the engine's callback(fraction, message) into throttled writes to the job row.

    A stage maps the engine's 0..1 into a slice of the job's bar, so extraction, fitting and
    evaluation share one bar that only moves forward.
    """

    def __init__(self, job_id: int, listener=None):
        self.job_id = job_id
        self.listener = listener  # e.g. a tqdm bar on the command line; sees every update
        self.start, self.span = 0.0, 1.0
        self._last_write = 0.0

    def stage(self, start: float, end: float) -> "ProgressRecorder":
        self.start, self.span = start, end - start
        return self

    def __call__(self, fraction: float, message: str = "", **details) -> None:
        value = self.start + self.span * max(0.0, min(1.0, float(fraction)))
        if self.listener is not None:
            self.listener(value, str(message))
        now = time.monotonic()
        if now - self._last_write < PROGRESS_INTERVAL_S and fraction < 1.0:
            return
        self._last_write = now
        TrainingJob.objects.filter(pk=self.job_id).update(
            progress=value, progress_message=str(message)[:300]
        )


def training_job_run(*, job_id: int, on_progress=None) -> str:
    """Run a queued job once. A duplicate delivery finds it no longer queued and returns."""
    claimed = TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.QUEUED).update(
        status=TrainingJob.Status.RUNNING,
        started_at=timezone.now(),
        attempts=F("attempts") + 1,
        worker=socket.gethostname()[:200],
        progress=0.0,
        progress_message="starting",
    )
    if not claimed:
        logger.info("job %s is not queued; nothing to do", job_id)
        return "skipped"
    job = TrainingJob.objects.get(pk=job_id)
    progress = ProgressRecorder(job_id, listener=on_progress)
    try:
        if job.kind == TrainingJob.Kind.EXTRACT:
            outcome = _run_extraction(job, progress)
        else:
            outcome = _run_training(job, progress)
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        TrainingJob.objects.filter(pk=job_id).update(
            status=TrainingJob.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=8)}",
            finished_at=timezone.now(),
        )
        return "failed"
    TrainingJob.objects.filter(pk=job_id).update(
        status=TrainingJob.Status.SUCCEEDED,
        progress=1.0,
        progress_message="done",
        finished_at=timezone.now(),
        **outcome,
    )
    return "succeeded"


def _run_extraction(job: TrainingJob, progress: ProgressRecorder) -> dict:
    from webapp.jobs.features import features_extract

    p = job.params
    feature_set = features_extract(
        extractor_name=job.method,
        weights=p.get("weights") or None,
        image_size=p.get("image_size") or None,
        l2=bool(p.get("l2", False)),
        pca_dim=p.get("pca_dim") or None,
        progress=progress,
    )
    return {
        "feature_set": feature_set,
        "metrics": {"items": feature_set.n_items, "dim": feature_set.dim},
    }


def _feature_set_for(job: TrainingJob, progress: ProgressRecorder) -> FeatureSet:
    from webapp.jobs.features import feature_set_ensure

    p = job.params

    def extracting(fraction: float, message: str = "", **details) -> None:
        progress.stage(0.0, 0.4)(fraction, message)

    return feature_set_ensure(
        name=p.get("features", "handcrafted"),
        weights=p.get("features_weights") or "",
        image_size=p.get("features_image_size") or None,
        l2=bool(p.get("features_l2", False)),
        pca_dim=p.get("features_pca") or None,
        progress=extracting,
    )


def _run_training(job: TrainingJob, progress: ProgressRecorder) -> dict:
    from recengine import create_model, evaluate, model_info, temporal_leave_last_out
    from recengine.evaluation import METRICS
    from webapp.catalogue.datasets import catalogue_interactions

    needs = tuple(model_info(job.method)["needs"])
    fine_tune = bool(job.params.get("fine_tune"))
    feature_set = _feature_set_for(job, progress) if "item_features" in needs else None
    data = catalogue_interactions(
        feature_set=feature_set,
        with_hidden_tastes="user_latent" in needs,
        with_images="item_images" in needs or fine_tune,
    )
    hyperparameters = {k: v for k, v in job.params.items() if k not in SITE_PARAMS}
    split = temporal_leave_last_out(data)

    started = time.perf_counter()
    model = create_model(job.method, **hyperparameters)
    model.fit(split.train, valid=split.valid, callback=progress.stage(0.4, 0.7))
    fit_seconds = time.perf_counter() - started
    result = evaluate(
        model,
        split.train,
        split.test,
        ks=EVAL_KS,
        exclude=[split.valid],
        metrics=METRICS,  # AUC too: cheap at a gallery's size
        callback=progress.stage(0.7, 0.85),
    )
    metrics = {name: round(float(value), 6) for name, value in result.metrics.items()}
    metrics.update(
        {
            "test_users": int(result.n_users),
            "fit_seconds": round(fit_seconds, 3),
            "split": "temporal leave-last-out",
        }
    )
    # What is served learns from everything, held-out rows included: the evaluation above
    # already measured the method; serving should not forget the newest purchases.
    progress.stage(0.85, 0.95)(0.0, "fitting on all data for serving")
    final = create_model(job.method, **hyperparameters).fit(data)
    artefact = _save_artefact(job, final)
    return {"metrics": metrics, "feature_set": feature_set, **artefact}


def _save_artefact(job: TrainingJob, model) -> dict:
    """Write the model under jobs/<id>/ through Django storage. The row only names the
    artefact after every file is written, so a crash leaves nothing marked as good."""
    digest = hashlib.sha256()
    size = 0
    folder = PurePosixPath("jobs") / str(job.pk) / f"attempt-{job.attempts}"
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        for path in sorted(Path(tmp).iterdir()):
            data = path.read_bytes()
            digest.update(path.name.encode() + b"\0" + data)
            size += len(data)
            target = str(folder / path.name)
            if default_storage.exists(target):
                default_storage.delete(target)
            with path.open("rb") as handle:
                default_storage.save(target, File(handle))
    return {
        "artefact_path": str(folder),
        "artefact_sha256": digest.hexdigest(),
        "artefact_size": size,
    }
