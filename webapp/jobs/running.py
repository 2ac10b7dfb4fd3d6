"""Running a job inside a worker: claim it, do the work with progress, record the outcome.

A delivery claims a queued job (or takes over one whose worker stopped beating); any other
delivery of the same job is a no-op, so duplicates never run a job twice. Transient
failures (database or broker unreachable) put the job back in the queue and let Celery
retry with backoff; anything else fails the job with the error; a cancel request stops it
between batches; a crash mid-training resumes from the last epoch's checkpoint.
"""

import logging
import socket
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from webapp.catalogue.models import FeatureSet
from webapp.jobs.errors import TransientJobError
from webapp.jobs.models import Artefact, TrainingJob
from webapp.jobs.progress import Heartbeat, JobCancelled, LogTail, ProgressRecorder

logger = logging.getLogger(__name__)

# Knobs the site reads (which feature set to use); not passed to the engine model.
SITE_PARAMS = ("features", "features_weights", "features_image_size", "features_l2", "features_pca")
EVAL_KS = (10, 20)
# Worth a retry: the database or the broker was briefly out of reach.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def _stale_before():
    return timezone.now() - timezone.timedelta(seconds=settings.VITRINE_STALE_AFTER_S)


def training_job_claim(
    *, job_id: int, task_id: str = "", worker_name: str = ""
) -> TrainingJob | None:
    """Mark the job running for this worker, or return None when another delivery owns it
    (it is finished, cancelled, or running with a live heartbeat)."""
    now = timezone.now()
    runnable = Q(status=TrainingJob.Status.QUEUED) | Q(
        status=TrainingJob.Status.RUNNING, heartbeat_at__lt=_stale_before()
    )
    claimed = TrainingJob.objects.filter(runnable, pk=job_id, cancel_requested=False).update(
        status=TrainingJob.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        worker=(worker_name or socket.gethostname())[:200],
        task_id=task_id or F("task_id"),
        progress_message="starting",
        error="",
    )
    if not claimed:
        return None
    return TrainingJob.objects.get(pk=job_id)


def training_job_run(
    *, job_id: int, on_progress=None, task_id: str = "", worker_name: str = ""
) -> str:
    """Run a job once; returns "succeeded", "failed", "cancelled" or "skipped"."""
    job = training_job_claim(job_id=job_id, task_id=task_id, worker_name=worker_name)
    if job is None:
        logger.info("job %s is not runnable here (finished, cancelled or owned); skipped", job_id)
        TrainingJob.objects.filter(
            pk=job_id, status=TrainingJob.Status.QUEUED, cancel_requested=True
        ).update(status=TrainingJob.Status.CANCELLED, finished_at=timezone.now())
        return "skipped"
    from recengine.memory import PeakMemory

    with LogTail() as log_tail, Heartbeat(job_id, settings.VITRINE_HEARTBEAT_S):
        progress = ProgressRecorder(job_id, listener=on_progress, log_tail=log_tail)
        progress.history = list(job.history or [])  # a resumed attempt continues the curves
        logger.info("job %s (%s) attempt %s on %s", job.pk, job.method, job.attempts, job.worker)
        try:
            with PeakMemory() as memory:
                if job.kind == TrainingJob.Kind.EXTRACT:
                    outcome = _run_extraction(job, progress)
                else:
                    outcome = _run_training(job, progress)
        except JobCancelled:
            _finish(job, TrainingJob.Status.CANCELLED, log_tail, error="cancelled by staff")
            return "cancelled"
        except TRANSIENT_ERRORS as error:
            logger.warning("job %s: transient error, queued again: %s", job_id, error)
            TrainingJob.objects.filter(pk=job_id).update(
                status=TrainingJob.Status.QUEUED,
                progress_message=f"retrying after a transient error: {error}"[:300],
            )
            raise TransientJobError(str(error)) from error
        except Exception as error:
            from celery.exceptions import SoftTimeLimitExceeded

            if isinstance(error, SoftTimeLimitExceeded):
                message = (
                    f"stopped: the job ran past the {settings.CELERY_TASK_SOFT_TIME_LIMIT} s "
                    "time limit (CELERY_TASK_SOFT_TIME_LIMIT)"
                )
            else:
                message = f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=8)}"
            logger.exception("job %s failed", job_id)
            _finish(job, TrainingJob.Status.FAILED, log_tail, error=message)
            return "failed"
        outcome["peak_memory_mb"] = round(memory.peak / 2**20, 1)
        outcome.update(_gpu_memory())
        _finish(job, TrainingJob.Status.SUCCEEDED, log_tail, **outcome)
    return "succeeded"


def _gpu_memory() -> dict:
    try:
        import torch
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {}
    return {"gpu_peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}


def _finish(job: TrainingJob, status: str, log_tail: LogTail, **fields) -> None:
    fields = {
        "status": status,
        "finished_at": timezone.now(),
        "log_tail": log_tail.text(),
        "seconds_left": None,
        **fields,
    }
    if status == TrainingJob.Status.SUCCEEDED:
        fields.update(progress=1.0, progress_message="done")
    with transaction.atomic():
        TrainingJob.objects.filter(pk=job.pk).update(**fields)
        if status == TrainingJob.Status.SUCCEEDED and job.kind == TrainingJob.Kind.TRAIN:
            from webapp.jobs.services import training_job_activate

            training_job_activate(job=TrainingJob.objects.get(pk=job.pk))


def _run_extraction(job: TrainingJob, progress: ProgressRecorder) -> dict:
    from webapp.jobs.features import features_extract

    p = job.params
    started = time.perf_counter()
    feature_set = features_extract(
        extractor_name=job.method,
        weights=p.get("weights") or None,
        image_size=p.get("image_size") or None,
        l2=bool(p.get("l2", False)),
        pca_dim=p.get("pca_dim") or None,
        progress=progress.stage(0.0, 1.0, "extract"),
    )
    return {
        "feature_set": feature_set,
        "visual_source": feature_set.source[:300],
        "metrics": {"items": feature_set.n_items, "dim": feature_set.dim},
        "timings": {"extract": round(time.perf_counter() - started, 3)},
    }


def _feature_set_for(job: TrainingJob, progress: ProgressRecorder) -> FeatureSet:
    from webapp.jobs.features import feature_set_ensure

    p = job.params
    return feature_set_ensure(
        name=p.get("features", "handcrafted"),
        weights=p.get("features_weights") or "",
        image_size=p.get("features_image_size") or None,
        l2=bool(p.get("features_l2", False)),
        pca_dim=p.get("features_pca") or None,
        progress=progress.stage(0.0, 0.3, "extract"),
    )


def _visual_source(job: TrainingJob, feature_set: FeatureSet | None) -> str:
    """Which backbone and weights produced this result, in words."""
    parts = []
    if feature_set is not None:
        parts.append(f"features: {feature_set.source}")
    if "backbone" in job.params and (job.method == "dvbpr" or job.params.get("fine_tune")):
        from recengine.features.backbones import resolve_weights

        weights = job.params.get("weights")
        label = "random init" if not weights else resolve_weights(weights).label
        parts.append(f"backbone: {job.params['backbone']} ({label})")
    return "; ".join(parts)[:300]


def _run_training(job: TrainingJob, progress: ProgressRecorder) -> dict:
    from recengine import create_model, evaluate, model_info, temporal_leave_last_out
    from recengine.device import resolve_device
    from recengine.evaluation import METRICS
    from webapp.catalogue.datasets import catalogue_interactions
    from webapp.jobs.artefacts import local_checkpoint
    from webapp.jobs.snapshots import snapshot_of

    timings: dict[str, float] = dict(job.timings or {})
    needs = tuple(model_info(job.method)["needs"])
    started = time.perf_counter()
    feature_set = _feature_set_for(job, progress) if "item_features" in needs else None
    if feature_set is not None:
        timings["extract"] = round(time.perf_counter() - started, 3)
    data = catalogue_interactions(
        feature_set=feature_set,
        with_hidden_tastes="user_latent" in needs,
        with_images="item_images" in needs or bool(job.params.get("fine_tune")),
    )
    hyperparameters = {k: v for k, v in job.params.items() if k not in SITE_PARAMS}
    device = str(resolve_device(hyperparameters.get("device", "auto")))
    TrainingJob.objects.filter(pk=job.pk).update(
        snapshot=snapshot_of(data, feature_set),
        feature_set=feature_set,
        visual_source=_visual_source(job, feature_set),
        device=device,
    )
    metrics = dict(job.metrics or {})
    if not (job.state or {}).get("evaluated"):
        split = temporal_leave_last_out(data)
        model = create_model(job.method, **hyperparameters)
        model.checkpoint_path = str(local_checkpoint(job, "evaluate"))
        started = time.perf_counter()
        model.fit(
            split.train,
            valid=split.valid,
            callback=_checkpointed(progress.stage(0.3, 0.65, "fit"), job, "evaluate"),
        )
        timings["fit"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        result = evaluate(
            model,
            split.train,
            split.test,
            ks=EVAL_KS,
            exclude=[split.valid],
            metrics=METRICS,
            callback=progress.stage(0.65, 0.75, "evaluate"),
        )
        timings["evaluate"] = round(time.perf_counter() - started, 3)
        metrics = {name: round(float(value), 6) for name, value in result.metrics.items()}
        metrics.update(
            test_users=int(result.n_users),
            fit_seconds=timings["fit"],
            split="temporal leave-last-out",
        )
        if getattr(model, "best_epoch_", None):
            metrics["best_epoch"] = int(model.best_epoch_)
        _save_evaluation(job, result, data)
        # Recorded now: an attempt that resumes after a crash skips the evaluation.
        TrainingJob.objects.filter(pk=job.pk).update(
            metrics=metrics, timings=timings, state={**(job.state or {}), "evaluated": True}
        )
        del model
    # What is served learns from everything, held-out rows included: the evaluation above
    # already measured the method; serving should not forget the newest purchases.
    final = create_model(job.method, **hyperparameters)
    final.checkpoint_path = str(local_checkpoint(job, "serve"))
    started = time.perf_counter()
    final.fit(data, callback=_checkpointed(progress.stage(0.75, 0.92, "serve"), job, "serve"))
    timings["serve_fit"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    progress.stage(0.92, 1.0, "save")(0.0, "saving the model and its index")
    _save_artefacts(job, final)
    timings["save"] = round(time.perf_counter() - started, 3)
    return {"metrics": metrics, "timings": timings}


def _save_evaluation(job: TrainingJob, result, data) -> None:
    """Per-user test metrics (collector ids and one array per metric), so two methods can
    be compared user by user with a paired test on the comparison page."""
    from webapp.jobs.artefacts import artefact_save

    job.refresh_from_db(fields=["attempts"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "evaluation.npz"
        np.savez(
            path,
            user_ids=np.asarray(data.user_ids, dtype=str)[result.users],
            **{f"metric:{name}": values for name, values in result.per_user.items()},
        )
        artefact_save(job=job, kind=Artefact.Kind.EVALUATION, local=path)


def _checkpointed(progress: ProgressRecorder, job: TrainingJob, stage: str):
    """Progress that also copies the epoch's checkpoint to remote storage, if any."""
    from webapp.jobs.artefacts import checkpoint_sync, local_checkpoint

    def report(fraction: float, message: str = "", **details) -> None:
        if "epoch" in details and "loss" in details:
            checkpoint_sync(job, stage, local_checkpoint(job, stage))
        progress(fraction, message, **details)

    return report


def _save_artefacts(job: TrainingJob, model) -> None:
    """Model, then (for dot-product models) embeddings and a faiss index, then the last
    checkpoint; each recorded only once fully written. The working checkpoints go."""
    from recengine.index import ItemIndex, dot_product_vectors
    from webapp.jobs.artefacts import artefact_save, local_checkpoint, model_save

    job.refresh_from_db(fields=["attempts"])
    model_save(job=job, model=model)
    vectors = dot_product_vectors(model)
    with tempfile.TemporaryDirectory() as tmp:
        if vectors is not None:
            users, items = vectors
            arrays = {"item_vectors": items, "item_ids": np.asarray(model.item_ids, dtype=str)}
            if users is not None:
                arrays.update(user_vectors=users, user_ids=np.asarray(model.user_ids, dtype=str))
            np.savez(Path(tmp) / "embeddings.npz", **arrays)
            artefact_save(
                job=job, kind=Artefact.Kind.EMBEDDINGS, local=Path(tmp) / "embeddings.npz"
            )
            ItemIndex.build(items).save(Path(tmp) / "items.faiss")
            artefact_save(job=job, kind=Artefact.Kind.INDEX, local=Path(tmp) / "items.faiss")
    checkpoint = local_checkpoint(job, "serve")
    if checkpoint.exists():
        artefact_save(job=job, kind=Artefact.Kind.CHECKPOINT, local=checkpoint)
    for stage in ("evaluate", "serve"):
        local_checkpoint(job, stage).unlink(missing_ok=True)
