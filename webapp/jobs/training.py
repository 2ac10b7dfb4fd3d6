"""A training job's work: fit on the split's train part and evaluate, then serve.

What is served is what was evaluated, or the job says what differs. With
VITRINE_SERVE_MODEL=refit (the default) the evaluated recipe is fitted again on every
event, for exactly the epoch count early stopping chose (no validation, so no second
early stop), and the job records that in words; with "evaluated" the evaluated model
itself is served, with no second fit. Both fits run in one Celery task, so one soft time
limit (CELERY_TASK_SOFT_TIME_LIMIT) covers the evaluation fit, the evaluation, the
serving refit and saving, and one progress bar runs across them without starting over.

A crashed attempt resumes: once the test metrics are in, job.state holds
{"evaluated": true, "serve": ..., "best_epoch": n, "validated": bool}, the evaluation model is
stored, and the next attempt goes straight to serving.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Max

from webapp.catalogue.models import FeatureSet, Interaction
from webapp.jobs.models import Artefact, TrainingJob
from webapp.jobs.progress import ProgressRecorder

# Knobs the site reads (which feature set to use); not passed to the engine model.
SITE_PARAMS = ("features", "features_weights", "features_image_size", "features_l2", "features_pca")
EVAL_KS = (10, 20)
SPLIT = "temporal leave-last-out"
SERVE_REFIT, SERVE_EVALUATED = "refit", "evaluated"
# One bar per job: each stage's slice of 0..1, in the order the stages run, so the
# evaluation fit and the serving refit share it and the bar never restarts between them.
BAR = {
    SERVE_REFIT: {
        "extract": (0.0, 0.2),
        "fit": (0.2, 0.55),
        "evaluate": (0.55, 0.65),
        "serve": (0.65, 0.95),
        "save": (0.95, 1.0),
    },
    SERVE_EVALUATED: {
        "extract": (0.0, 0.2),
        "fit": (0.2, 0.85),
        "evaluate": (0.85, 0.95),
        "save": (0.95, 1.0),
    },
}
STAGE_LABELS = {
    "extract": "features",
    "fit": "evaluation fit (train part)",
    "evaluate": "evaluation",
    "serve": "serving refit (all events)",
    "save": "saving",
}


def serve_mode(job: TrainingJob) -> str:
    """The first attempt's choice, so a resumed job serves what it set out to."""
    return (job.state or {}).get("serve") or settings.VITRINE_SERVE_MODEL


def stages_in_words(job: TrainingJob) -> str:
    """What one job's task does, for the time-limit message and the job page."""
    if job.kind != TrainingJob.Kind.TRAIN:
        return "the extraction"
    if serve_mode(job) == SERVE_EVALUATED:
        return (
            "the evaluation fit, the evaluation and saving "
            "(VITRINE_SERVE_MODEL=evaluated: no refit)"
        )
    return "the evaluation fit, the evaluation, the serving refit on all events and saving"


def _stage(progress: ProgressRecorder, mode: str, name: str) -> ProgressRecorder:
    start, end = BAR[mode][name]
    return progress.stage(start, end, name, label=STAGE_LABELS[name])


def _feature_set_for(job: TrainingJob, progress: ProgressRecorder) -> FeatureSet:
    from webapp.jobs.features import feature_set_ensure

    p = job.params
    return feature_set_ensure(
        name=p.get("features", "handcrafted"),
        weights=p.get("features_weights") or "",
        image_size=p.get("features_image_size") or None,
        l2=bool(p.get("features_l2", False)),
        pca_dim=p.get("features_pca") or None,
        progress=_stage(progress, serve_mode(job), "extract"),
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


def run_training(job: TrainingJob, progress: ProgressRecorder) -> dict:
    """Evaluate (unless a previous attempt did), then serve; the job fields to finish with."""
    from recengine import model_info
    from recengine.device import resolve_device
    from webapp.catalogue.datasets import catalogue_interactions
    from webapp.jobs.snapshots import snapshot_of

    mode = serve_mode(job)
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
    # Read once the data is: any event with a larger id is one this job never trained on.
    last_event_id = Interaction.objects.aggregate(last=Max("id"))["last"] or 0
    # The events alone (no features) name what an evaluation ran on: two methods with
    # different features are still tested on the same held-out events.
    snapshot = {
        **snapshot_of(data, feature_set),
        "events_id": snapshot_of(data)["id"],
        "last_event_id": last_event_id,
    }
    hyperparameters = {k: v for k, v in job.params.items() if k not in SITE_PARAMS}
    TrainingJob.objects.filter(pk=job.pk).update(
        snapshot=snapshot,
        feature_set=feature_set,
        visual_source=_visual_source(job, feature_set),
        device=str(resolve_device(hyperparameters.get("device", "auto"))),
    )
    state = dict(job.state or {})
    if mode == SERVE_EVALUATED and job.evaluation_model_artefact is None:
        state["evaluated"] = False  # evaluated before the evaluation model was kept
    model, metrics = None, dict(job.metrics or {})
    if not state.get("evaluated"):
        model, metrics, state = _evaluate(
            job, progress, data, hyperparameters, timings, mode, snapshot
        )
    if mode == SERVE_EVALUATED:
        from webapp.jobs.serving import model_for_job

        evaluated = job.evaluation_model_artefact
        if model is None:  # a resumed attempt: the stored one, exactly as it was tested
            model = model_for_job(job, Artefact.Kind.EVALUATION_MODEL)
        saving = _stage(progress, mode, "save")
        saving(0.0, "serving the evaluated model: its index")
        started = time.perf_counter()
        _save_artefacts(job, model, checkpoint_stage="evaluate", shared=evaluated)
        timings["save"] = round(time.perf_counter() - started, 3)
        saving(1.0, "saved")
        served = "the evaluated model (fitted on the train part of the split; no refit)"
        return {"metrics": metrics, "timings": timings, "served_model": served}
    del model
    final, served = _refit(job, progress, data, hyperparameters, state, timings)
    started = time.perf_counter()
    saving = _stage(progress, mode, "save")
    saving(0.0, "the model and its index")
    _save_artefacts(job, final, checkpoint_stage="serve")
    timings["save"] = round(time.perf_counter() - started, 3)
    saving(1.0, "saved")
    return {"metrics": metrics, "timings": timings, "served_model": served}


def _evaluate(
    job: TrainingJob,
    progress: ProgressRecorder,
    data,
    hyperparameters: dict,
    timings: dict,
    mode: str,
    snapshot: dict,
) -> tuple[object, dict, dict]:
    """Fit on the train part (early stopping on valid), test, store the per-event values
    and the evaluation model; (model, metrics, state) once the job row records them."""
    from recengine import create_model, evaluate, temporal_leave_last_out
    from recengine.evaluation import METRICS
    from webapp.jobs.artefacts import local_checkpoint, model_save
    from webapp.jobs.evaluations import evaluation_save
    from webapp.jobs.progress import with_epoch_seconds

    split = temporal_leave_last_out(data)
    model = create_model(job.method, **hyperparameters)
    model.checkpoint_path = str(local_checkpoint(job, "evaluate"))
    started = time.perf_counter()
    model.fit(
        split.train,
        valid=split.valid,
        callback=_checkpointed(_stage(progress, mode, "fit"), job, "evaluate"),
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
        callback=_stage(progress, mode, "evaluate"),
    )
    timings["evaluate"] = round(time.perf_counter() - started, 3)
    metrics = {name: round(float(value), 6) for name, value in result.metrics.items()}
    metrics.update(test_users=int(result.n_users), fit_seconds=timings["fit"], split=SPLIT)
    best_epoch = int(getattr(model, "best_epoch_", 0) or 0)
    if best_epoch:
        metrics["best_epoch"] = best_epoch
    job.refresh_from_db(fields=["attempts"])
    evaluation_save(
        job=job,
        result=result,
        data=data,
        snapshot=snapshot["events_id"],
        split=SPLIT,
        job_snapshot=snapshot["id"],
    )
    model_save(job=job, model=model, kind=Artefact.Kind.EVALUATION_MODEL)
    state = {
        **(job.state or {}),
        "evaluated": True,
        "serve": mode,
        "best_epoch": best_epoch,
        # True when a validation metric picked the epoch; False when every epoch ran
        "validated": any(h.get("metric") is not None for h in getattr(model, "history_", [])),
        # Which of CuratorNet's guidelines made the training triples, and how many (share)
        "sampling_shares": getattr(model, "sampling_shares_", None) or {},
    }
    # The curves keep each epoch's seconds as the model timed them.
    progress.history = with_epoch_seconds(progress.history, getattr(model, "history_", None))
    # Recorded now: an attempt that resumes after a crash skips the evaluation.
    TrainingJob.objects.filter(pk=job.pk).update(
        metrics=metrics, timings=timings, state=state, history=progress.history
    )
    return model, metrics, state


def _refit(
    job: TrainingJob,
    progress: ProgressRecorder,
    data,
    hyperparameters: dict,
    state: dict,
    timings: dict,
) -> tuple[object, str]:
    """The evaluated recipe on every event: for the epoch count early stopping chose
    (exactly that many, with no validation), or as it is for models without epochs."""
    from recengine import create_model
    from webapp.jobs.artefacts import local_checkpoint

    best_epoch = int(state.get("best_epoch") or (job.metrics or {}).get("best_epoch") or 0)
    params = dict(hyperparameters)
    epochs = "epochs" in create_model(job.method, **hyperparameters).hyperparameters
    if epochs and best_epoch:
        params["epochs"] = best_epoch
    final = create_model(job.method, **params)
    final.checkpoint_path = str(local_checkpoint(job, "serve"))
    started = time.perf_counter()
    progress_ = _stage(progress, SERVE_REFIT, "serve")
    final.fit(data, callback=_checkpointed(progress_, job, "serve"))
    timings["serve_fit"] = round(time.perf_counter() - started, 3)
    if epochs and best_epoch:
        chose = "the epoch validation chose" if state.get("validated", True) else "every epoch"
        served = f"refitted on all {len(data)} events for {best_epoch} epochs ({chose})"
    else:
        served = f"refitted on all {len(data)} events with the evaluated hyperparameters"
    return final, served


def _checkpointed(progress: ProgressRecorder, job: TrainingJob, stage: str):
    """Progress that also copies the epoch's checkpoint to remote storage, if any."""
    from webapp.jobs.artefacts import checkpoint_sync, local_checkpoint

    def report(fraction: float, message: str = "", **details) -> None:
        if "epoch" in details and "loss" in details:
            checkpoint_sync(job, stage, local_checkpoint(job, stage))
        progress(fraction, message, **details)

    return report


def _save_artefacts(
    job: TrainingJob, model, *, checkpoint_stage: str, shared: Artefact | None = None
) -> None:
    """Model (or, with ``shared``, the stored evaluation model under the model's name),
    then (for dot-product models) embeddings and a faiss index, then the last checkpoint;
    each recorded only once fully written. The working checkpoints go."""
    from recengine.index import ItemIndex, dot_product_vectors
    from webapp.jobs.artefacts import artefact_save, artefact_share, local_checkpoint, model_save

    job.refresh_from_db(fields=["attempts"])
    if shared is not None:
        artefact_share(artefact=shared, kind=Artefact.Kind.MODEL)
    else:
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
    checkpoint = local_checkpoint(job, checkpoint_stage)
    if checkpoint.exists():
        artefact_save(job=job, kind=Artefact.Kind.CHECKPOINT, local=checkpoint)
    for stage in ("evaluate", "serve"):
        local_checkpoint(job, stage).unlink(missing_ok=True)
