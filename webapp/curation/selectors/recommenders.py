"""Which recommenders a page may show, and their models ready to serve a profile.

A choice is a method name (the job serving it) or ``job:<id>`` (any succeeded training
job), so backbones or sampling strategies trained as separate jobs can be compared.
"""

import re
import threading
from dataclasses import dataclass

import numpy as np

from webapp.catalogue.datasets import item_key
from webapp.catalogue.selectors import artworks_available
from webapp.jobs.models import Artefact, TrainingJob
from webapp.jobs.selectors import training_job_active

# Serving's own pieces, so these pages explain and lock exactly as the collector page
# does rather than keeping a copy that could drift.
from webapp.jobs.serving import (
    RecommendationList,
    job_lock,
    model_with_new_artworks,
    recommendations_from_items,
    top_items,
)

_JOB_CHOICE = re.compile(r"job:(\d{1,12})")


@dataclass(frozen=True)
class RecommenderChoice:
    value: str  # what goes in the URL: "visrank" or "job:42"
    label: str
    job: TrainingJob


def finished_training_jobs():
    """Succeeded training jobs that left a model to serve, newest first."""
    return (
        TrainingJob.objects.filter(
            kind=TrainingJob.Kind.TRAIN,
            status=TrainingJob.Status.SUCCEEDED,
            artefacts__kind=Artefact.Kind.MODEL,
        )
        .select_related("feature_set")
        .order_by("-finished_at", "-id")
    )


def job_params_label(job: TrainingJob) -> str:
    """The hyperparameters that differ from the method's defaults, e.g. 'sampling=guided'."""
    from webapp.jobs.methods import method_defaults

    try:
        defaults = method_defaults(kind=job.kind, method=job.method)
    except (ValueError, KeyError):
        defaults = {}
    changed = {k: v for k, v in (job.params or {}).items() if defaults.get(k, object()) != v}
    return ", ".join(f"{k}={v}" for k, v in sorted(changed.items())) or "defaults"


def job_label(job: TrainingJob) -> str:
    """The method, and for a visual one the features it was trained on."""
    from recengine.features import extractor_label

    features = (job.params or {}).get("features")
    if not features:
        return job.method
    return f"{job.method} on {extractor_label(features)} features"


def recommender_choices() -> list[RecommenderChoice]:
    """Every served method by name, then every finished job by id; reference lines (the
    oracle) after the methods and labelled as what they are."""
    from webapp.jobs.methods import method_references

    references = method_references()

    def labelled(text: str, method: str) -> str:
        return f"{text}, {references[method]}" if method in references else text

    def references_last(job: TrainingJob) -> bool:
        return job.method in references

    jobs = sorted(finished_training_jobs(), key=references_last)  # stable: newest first
    by_name = [
        RecommenderChoice(
            job.method, labelled(f"{job.method} (serving, job #{job.pk}", job.method) + ")", job
        )
        for job in sorted(jobs, key=lambda j: (references_last(j), j.method))
        if job.is_active
    ]
    by_job = [
        RecommenderChoice(
            f"job:{job.pk}",
            labelled(f"job #{job.pk}: {job_label(job)} ({job_params_label(job)}", job.method) + ")",
            job,
        )
        for job in jobs
    ]
    return by_name + by_job


def recommender_choices_once(chosen: list[str] = ()) -> list[RecommenderChoice]:
    """One choice per finished job, for a menu or checkboxes: recommender_choices lists a
    serving job twice (by its method's name and by its id). A serving job goes by its
    method's name (what it serves follows the newest model) unless ``chosen`` (the URL)
    names it by id only; served methods first, reference lines after the methods."""
    from webapp.jobs.methods import method_references

    references = method_references()
    asked = set(chosen)

    def labelled(text: str, method: str) -> str:
        return f"{text}, {references[method]}" if method in references else text

    jobs = sorted(finished_training_jobs(), key=lambda j: j.method in references)
    serving = sorted(
        (j for j in jobs if j.is_active), key=lambda j: (j.method in references, j.method)
    )
    once = []
    for job in serving:
        by_id = f"job:{job.pk}"
        value = by_id if by_id in asked and job.method not in asked else job.method
        params = job_params_label(job)
        label = labelled(f"{job_label(job)} (serving, job #{job.pk}", job.method) + ")"
        once.append(
            RecommenderChoice(value, label + (f" · {params}" if params != "defaults" else ""), job)
        )
    once += [
        RecommenderChoice(
            f"job:{job.pk}",
            labelled(f"job #{job.pk}: {job_label(job)} ({job_params_label(job)}", job.method) + ")",
            job,
        )
        for job in jobs
        if not job.is_active
    ]
    return once


def recommender_resolve(choice: str) -> TrainingJob | None:
    """The job behind a choice, or None when it names nothing servable."""
    match = _JOB_CHOICE.fullmatch(choice or "")
    if match:
        return finished_training_jobs().filter(pk=int(match.group(1))).first()
    return training_job_active(method=choice) if choice else None


# --------------------------------------------------------------------------- serving
@dataclass
class ItemSpace:
    """A model's item order as artwork ids: position by engine key, and the ids array."""

    positions: dict[str, int]
    artwork_ids: np.ndarray  # (n_items,) int64


_spaces: dict[int, tuple[object, int, ItemSpace]] = {}
_spaces_lock = threading.Lock()


def item_space(model) -> ItemSpace:
    """Cached per model object and catalogue length (a model grows when works are added)."""
    n_items = len(model.item_ids)
    with _spaces_lock:
        cached = _spaces.get(id(model))
    if cached is not None and cached[0] is model and cached[1] == n_items:
        return cached[2]
    keys = np.asarray(model.item_ids).tolist()
    space = ItemSpace(
        positions={key: i for i, key in enumerate(keys)},
        artwork_ids=np.asarray([int(key) for key in keys], dtype=np.int64),
    )
    with _spaces_lock:  # the model is held too, so its id() is never reused meanwhile
        _spaces[id(model)] = (model, n_items, space)
    return space


def served_model(job: TrainingJob):
    """The job's model with the works listed since it was trained (see serving)."""
    with job_lock(job):
        return model_with_new_artworks(job)


def evaluation_model(job: TrainingJob):
    """The model the job's test metrics measured (fitted on its split's train part), with
    the works listed since; for asking about an event the served model trained on."""
    with job_lock(job):
        return model_with_new_artworks(job, Artefact.Kind.EVALUATION_MODEL)


def unsold_artwork_ids() -> np.ndarray:
    return np.asarray(artworks_available().values_list("id", flat=True), dtype=np.int64)


def positions_of(space: ItemSpace, artwork_ids) -> np.ndarray:
    """Item positions of the artworks the model knows, in the given order, no repeats."""
    found = (space.positions.get(item_key(pk)) for pk in artwork_ids)
    return np.asarray(list(dict.fromkeys(p for p in found if p is not None)), dtype=np.int64)


def profile_recommendations(
    *,
    job: TrainingJob,
    model,
    profile_ids: list[int],
    exclude_ids: list[int],
    allowed_ids: np.ndarray,
    k: int,
    user_index: int = -1,
    use_index: bool = True,
) -> RecommendationList:
    """Top-k for a profile of artwork ids through the site's own serving path (faiss
    index or the model's recommend_profiles), with explanations where the model has them.

    user_index -1 asks with the profile alone; a training-user index lets models that
    only know their users by a learned vector answer (that vector saw every purchase the
    model trained on). use_index False for a model other than the served one (the job's
    evaluation model): the job's faiss index holds the served model's vectors.
    """
    space = item_space(model)
    profile = positions_of(space, profile_ids)
    exclude = positions_of(space, exclude_ids)
    allowed = np.isin(space.artwork_ids, allowed_ids)
    items, scores, served_by = top_items(
        job=job,
        model=model,
        profile=profile,
        exclude=exclude,
        allowed=allowed,
        user_index=user_index,
        k=k,
        use_index=use_index,
    )
    return recommendations_from_items(job, model, profile, items, scores, served_by)


def collector_recommendations_served(
    *, collector, method: str, consumed: list, k: int = 20
) -> RecommendationList | None:
    """serving.collector_recommendations, the same profile, exclusions and scoring path,
    with the model taken through served_model (no catalogue-wide scan per request).

    method: a recommender choice, a method name (its serving job) or "job:<id>".

    consumed: the collector's purchases and likes, oldest first (collector_consumed).
    """
    from webapp.catalogue.datasets import user_key
    from webapp.catalogue.models import Interaction

    job = recommender_resolve(method)
    if job is None:
        return None
    model = served_model(job)
    owned = list(
        Interaction.objects.filter(collector=collector)
        .exclude(kind=Interaction.Kind.VIEW)
        .values_list("artwork_id", flat=True)
    )
    return profile_recommendations(
        job=job,
        model=model,
        profile_ids=[i.artwork_id for i in consumed],
        exclude_ids=owned,
        allowed_ids=unsold_artwork_ids(),
        k=k,
        user_index=int(model.user_index([user_key(collector.pk)])[0]),
    )
