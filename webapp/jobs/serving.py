"""Recommendations for the site, from the active model of a method."""

import logging
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from django.conf import settings

from webapp.catalogue.datasets import CONSUMED_KINDS, item_key, user_key
from webapp.catalogue.models import Artwork, Collector, Interaction
from webapp.catalogue.selectors import artworks_available, artworks_pending_count
from webapp.jobs.methods import method_needs
from webapp.jobs.models import Artefact, TrainingJob
from webapp.jobs.selectors import training_job_active
from webapp.storage import artefact_storage

MODEL_FILES = ("config.json", "weights.safetensors")
_cache: dict[tuple[int, str], object] = {}
_index_cache: dict[tuple, object] = {}
# (job id, artefact kind) -> (model, newest work id looked at)
_newest_seen: dict[tuple[int, str], tuple[object, int]] = {}
_cache_lock = threading.Lock()
_job_locks: dict[int, threading.Lock] = {}
_index_locks: dict[int, threading.Lock] = {}
logger = logging.getLogger(__name__)


def job_lock(job: TrainingJob) -> threading.Lock:
    """One lock per job: extending a cached model must not race another request."""
    with _cache_lock:
        return _job_locks.setdefault(job.pk, threading.Lock())


def _index_lock(job: TrainingJob) -> threading.Lock:
    """One lock per job's index: a request that arrives while the index is being read
    (at start, by the warm-up) waits for it instead of reading it a second time."""
    with _cache_lock:
        return _index_locks.setdefault(job.pk, threading.Lock())


@dataclass
class Recommendation:
    artwork: Artwork
    score: float
    because: Artwork | None = None  # the consumed work that drove the score, when known

    @property
    def score_label(self) -> str:
        return f"{self.score:.3f}"


@dataclass
class RecommendationList:
    job: TrainingJob
    items: list[Recommendation]
    served_by: str = "model"  # "faiss index" or "model"


def _local_copy(job: TrainingJob, artefact, names: tuple[str, ...]) -> Path:
    """Files of an artefact copied from storage into a local cache named by its hash, so a
    changed artefact is never served from a stale copy."""
    local = (
        Path(settings.VAR_DIR) / "model-cache" / f"{job.pk}-{artefact.kind}-{artefact.sha256[:16]}"
    )
    if not all((local / name).exists() for name in names):
        local.mkdir(parents=True, exist_ok=True)
        for name in names:
            source = str(PurePosixPath(artefact.path) / name) if len(names) > 1 else artefact.path
            with artefact_storage().open(source, "rb") as src:
                (local / f".{name}.part").write_bytes(src.read())
            (local / f".{name}.part").replace(local / name)
    return local


def model_for_job(job: TrainingJob, kind: str = Artefact.Kind.MODEL):
    """Load a job's model once per process: the served one, or (kind EVALUATION_MODEL) the
    one its test metrics measured, fitted on the split's train part only."""
    artefact = job.artefacts.filter(kind=kind).first()
    if artefact is None:
        raise ValueError(f"job #{job.pk} has no {Artefact.Kind(kind).label} artefact")
    key = (job.pk, artefact.sha256)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    from recengine import load_model

    model = load_model(_local_copy(job, artefact, MODEL_FILES))
    with _cache_lock:
        _cache[key] = model
    return model


def index_for_job(job: TrainingJob, model):
    """(faiss index, user vectors or None) of a dot-product model: the job's index
    artefact, or one rebuilt in memory when works were added since (cold start); None
    for other models."""
    from recengine.index import ItemIndex, dot_product_vectors

    artefact = job.artefacts.filter(kind=Artefact.Kind.INDEX).first()
    if artefact is None:
        return None
    key = (job.pk, artefact.sha256, model.n_items)
    with _cache_lock:
        if key in _index_cache:
            return _index_cache[key]
    with _index_lock(job):
        with _cache_lock:
            if key in _index_cache:  # built by the request (or warm-up) we waited for
                return _index_cache[key]
        vectors = dot_product_vectors(model)
        if vectors is None:
            return None
        local = _local_copy(job, artefact, ("items.faiss",))
        index = ItemIndex.load(local / "items.faiss")
        if index.n_items != model.n_items:  # works listed after training: their vectors too
            index = ItemIndex.build(vectors[1])
        served = (index, vectors[0])
        with _cache_lock:
            _index_cache[key] = served
    return served


def served_models_warm_up(jobs: list[TrainingJob] | None = None) -> list[TrainingJob]:
    """Load jobs' served models (by default every active job's), extended with the works
    listed since, and their faiss indexes into this process's caches: what a collector
    page would otherwise load on its first request. Returns the jobs loaded.

    Each job is loaded under its own lock, so a request for it meanwhile waits for this
    load instead of starting a second one; a job whose files cannot be read is logged and
    skipped (its page then reports the error, as it would without the warm-up).
    """
    import faiss  # noqa: F401  (the engine imports it lazily, on the first index read)

    import recengine  # noqa: F401  (torch and the model registry)

    if jobs is None:
        jobs = list(
            TrainingJob.objects.filter(
                kind=TrainingJob.Kind.TRAIN,
                is_active=True,
                status=TrainingJob.Status.SUCCEEDED,
                artefacts__kind=Artefact.Kind.MODEL,
            )
            .select_related("feature_set")
            .distinct()
            .order_by("method", "pk")
        )
    loaded = []
    for job in jobs:
        try:
            with job_lock(job):
                model = model_with_new_artworks(job)
            index_for_job(job, model)
        except Exception:  # one broken job must not keep the others cold
            logger.warning("warm-up could not load job #%s", job.pk, exc_info=True)
            continue
        loaded.append(job)
    return loaded


def model_with_new_artworks(job: TrainingJob, kind: str = Artefact.Kind.MODEL):
    """The job's model, extended with works listed after it was trained, for the models
    that can score a work from its features or image (cold start, no retraining).

    Vectors come from the job's own feature set (same extractor, weights, projection);
    a failure leaves the model as it was: new works are then simply not recommended.
    """
    model = model_for_job(job, kind)
    # Ids only grow: when the newest work with an image is the one already looked at for
    # this model, nothing was listed since, and one indexed MAX() says so (a NOT IN over
    # the whole catalogue costs ~100 ms a request at 10,000 works).
    # A work listed through the API joins once a worker has described it (features_pending
    # goes False), so the pending count is part of what "nothing changed" compares.
    # Walked down the primary key from the top (an aggregate MAX with these filters makes
    # SQLite scan the features_pending index instead: 8 ms at 100,000 works).
    described = Artwork.objects.exclude(image="").filter(features_pending=False)
    newest = (
        described.order_by("-id").values_list("id", flat=True).first(),
        artworks_pending_count(),
    )
    with _cache_lock:
        seen = _newest_seen.get((job.pk, kind))
    if newest[0] is None or (seen is not None and seen[0] is model and seen[1] == newest):
        return model
    _extend(job, model)
    with _cache_lock:
        _newest_seen[(job.pk, kind)] = (model, newest)
    return model


def _extend(job: TrainingJob, model) -> None:
    """Add the works the model lacks, for models that can describe them; a model that
    cannot (popularity, matrix factorisation) simply serves without them."""
    known = set(model.item_ids.tolist())
    new = list(
        Artwork.objects.exclude(image="")
        .filter(features_pending=False)
        .exclude(pk__in=[int(k) for k in known])
        .order_by("id")
        .only("id", "image", "image_checksum")
    )
    if not new:
        return
    keys = [item_key(a.pk) for a in new]
    try:
        if "item_images" in method_needs(job.method):
            from webapp.catalogue.selectors import artwork_image_files

            model.add_items(keys, images=artwork_image_files(new)[0])
        elif job.feature_set is not None:
            from webapp.jobs.features import features_for_artworks

            vectors = features_for_artworks(feature_set=job.feature_set, artworks=new)
            model.add_items(keys, features=vectors)
    except (NotImplementedError, ValueError) as error:
        logger.info("job %s serves without %d new works: %s", job.pk, len(new), error)


def collector_consumed(*, collector: Collector):
    """Purchases and likes, oldest first."""
    return (
        Interaction.objects.filter(collector=collector, kind__in=CONSUMED_KINDS)
        .select_related("artwork", "artwork__artist")
        .order_by("timestamp", "id")
    )


def collector_recommendations(
    *, collector: Collector, method: str, k: int = 20
) -> RecommendationList | None:
    """Top-k available works for a collector, never one they own or liked and never a sold one.

    The profile is what the collector consumed up to now, so a purchase made after training
    already shapes the list for models that can fold a profile in.
    """
    job = training_job_active(method=method)
    if job is None:
        return None
    with job_lock(job):
        model = model_with_new_artworks(job)
    item_ids = np.asarray(model.item_ids)
    position = {key: i for i, key in enumerate(item_ids)}

    owned_ids = set(
        Interaction.objects.filter(collector=collector)
        .exclude(kind=Interaction.Kind.VIEW)
        .values_list("artwork_id", flat=True)
    )
    consumed = [i.artwork_id for i in collector_consumed(collector=collector)]
    profile = np.asarray(
        list(dict.fromkeys(position[item_key(a)] for a in consumed if item_key(a) in position)),
        dtype=np.int64,
    )
    exclude = np.asarray(
        [position[item_key(a)] for a in owned_ids if item_key(a) in position], dtype=np.int64
    )
    available = set(artworks_available().values_list("id", flat=True))
    candidates = np.asarray([int(key) in available for key in item_ids], dtype=bool)

    user_index = int(model.user_index([user_key(collector.pk)])[0])
    items, scores, served_by = top_items(
        job=job,
        model=model,
        profile=profile,
        exclude=exclude,
        allowed=candidates,
        user_index=user_index,
        k=k,
    )
    return recommendations_from_items(job, model, profile, items, scores, served_by)


def top_items(
    *, job, model, profile, exclude, allowed, user_index: int, k: int, use_index: bool = True
):
    """(item indices (1, <=k), scores, "faiss index" | "model") for one collector.

    From the faiss index when the model has one and a query vector for this collector
    (their learned vector, or their current profile pooled); from the model's own
    scoring otherwise. Both honour ``allowed`` (unsold works) and ``exclude``.
    use_index False: the model is not the one the index was built from (the job's
    evaluation model), so it scores for itself.
    """
    mask = np.asarray(allowed, dtype=bool).copy()
    mask[np.asarray(exclude, dtype=np.int64)] = False
    served = index_for_job(job, model) if use_index else None
    if served is not None:
        index, user_vectors = served
        query = None
        if user_vectors is not None and user_index >= 0:
            query = user_vectors[user_index : user_index + 1]
        elif user_vectors is None:
            query = model.profile_embeddings([profile])
        if query is not None:
            items, scores = index.search(query, k, allowed=mask)
            return items, scores, "faiss index"
    try:
        items, scores = model.recommend_profiles(
            [profile], k, exclude=[exclude], candidates_mask=allowed
        )
        return items, scores, "model"
    except NotImplementedError:
        if user_index < 0:
            return np.zeros((1, 0), np.int64), np.zeros((1, 0), np.float32), "model"
        all_scores = model.score(np.asarray([user_index]))[0].astype(np.float64)
        all_scores[~mask] = -np.inf
        order = np.argsort(-all_scores, kind="stable")[:k]
        order = order[np.isfinite(all_scores[order])]
        return order[None, :], all_scores[order][None, :], "model"


def recommendations_from_items(
    job, model, profile, items, scores, served_by
) -> "RecommendationList":
    """Recommendation rows (artworks, scores, explanations) of one ranked item list."""
    item_ids = np.asarray(model.item_ids)
    keep = np.asarray(items[0]) >= 0  # rows narrower than k are padded with -1
    items, scores = np.asarray(items[0])[keep][None, :], np.asarray(scores[0])[keep][None, :]
    chosen = [int(item_ids[i]) for i in items[0]]
    explanations = [None] * len(chosen)
    if hasattr(model, "explain_profiles") and len(profile):
        drivers = model.explain_profiles([profile], np.asarray(items[0]))[0]
        explanations = [int(item_ids[d]) if d >= 0 else None for d in drivers]
    needed = set(chosen) | {e for e in explanations if e is not None}
    artworks = Artwork.objects.select_related("artist").in_bulk(list(needed))
    result = [
        Recommendation(
            artwork=artworks[pk],
            score=float(score),
            because=artworks.get(because) if because is not None else None,
        )
        for pk, score, because in zip(chosen, scores[0], explanations, strict=True)
        if pk in artworks
    ]
    return RecommendationList(job=job, items=result, served_by=served_by)
