"""The lists the API serves, through the site's own serving path (the same models, faiss
indexes, exclusions and explanations as the curators' pages), and the policy that chose
each one: a method, an experiment's arm, exploration or interleaving."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from webapp.api.candidates import Filters, candidate_mask
from webapp.catalogue.datasets import item_key, user_key
from webapp.catalogue.models import Artwork, Collector, Interaction
from webapp.curation.selectors.recommenders import (
    item_space,
    job_label,
    positions_of,
    recommender_resolve,
    served_model,
)
from webapp.jobs.methods import method_reference
from webapp.jobs.models import TrainingJob
from webapp.jobs.serving import recommendations_from_items, top_items


class ListError(Exception):
    """What the caller asked cannot be served; status is the HTTP answer."""

    def __init__(self, message: str, status: int = 404, field: str = "") -> None:
        super().__init__(message)
        self.status, self.field = status, field


@dataclass
class ServedItem:
    artwork: Artwork
    score: float | None
    propensity: float | None
    because: Artwork | None = None
    explanation: str = ""
    team: str = ""


@dataclass
class ServedList:
    job: TrainingJob | None
    method: str
    items: list[ServedItem]
    served_by: str
    n_candidates: int
    policy: dict = field(default_factory=dict)

    @property
    def model_label(self) -> str:
        return job_label(self.job) if self.job is not None else ""


def job_for(method: str) -> TrainingJob:
    """The job serving a method (or "job:<id>"); never a reference line such as the oracle."""
    job = recommender_resolve(method)
    if job is None:
        raise ListError(f"no trained model serves {method!r}", 404, "method")
    if method_reference(job.method):
        raise ListError(
            f"{job.method} is a reference line ({method_reference(job.method)}), not a method "
            "a shop may serve",
            400,
            "method",
        )
    return job


def default_method_name() -> str:
    """What serves when the caller names no method and no experiment runs: the method the
    site's evaluation ranks best, else the first trained method."""
    from webapp.curation.selectors.default_method import default_method
    from webapp.jobs.methods import methods_first
    from webapp.jobs.selectors import trained_methods

    chosen = default_method()
    if chosen is not None:
        return chosen.value
    methods = [m for m in methods_first(trained_methods()) if not method_reference(m)]
    if not methods:
        raise ListError("no method has been trained yet", 503)
    return methods[0]


@dataclass
class Ranked:
    """One ranker's answer before any exploration: model item positions and scores."""

    job: TrainingJob
    model: object
    profile: np.ndarray
    items: np.ndarray  # (m,) positions in the model's item order
    scores: np.ndarray
    allowed: np.ndarray  # (n_items,) bool: candidates for this caller, exclusions applied
    served_by: str


def rank(
    *,
    method: str,
    profile_ids: list[int],
    exclude_ids: list[int],
    filters: Filters,
    k: int,
    collector: Collector | None = None,
) -> Ranked:
    job = job_for(method)
    model = served_model(job)
    space = item_space(model)
    profile = positions_of(space, profile_ids)
    exclude = positions_of(space, exclude_ids)
    allowed = candidate_mask(filters, space.artwork_ids)
    user_index = -1
    if collector is not None:
        user_index = int(model.user_index([user_key(collector.pk)])[0])
    items, scores, served_by = top_items(
        job=job,
        model=model,
        profile=profile,
        exclude=exclude,
        allowed=allowed,
        user_index=user_index,
        k=k,
    )
    allowed = allowed.copy()
    allowed[exclude] = False
    keep = np.asarray(items[0]) >= 0
    return Ranked(
        job,
        model,
        profile,
        np.asarray(items[0])[keep],
        np.asarray(scores[0])[keep],
        allowed,
        served_by,
    )


def served_list(ranked: Ranked, method: str, *, policy: dict) -> ServedList:
    """A deterministic ranker's list: each work's propensity is 1."""
    rows = recommendations_from_items(
        ranked.job,
        ranked.model,
        ranked.profile,
        ranked.items[None, :],
        ranked.scores[None, :],
        ranked.served_by,
    )
    items = [
        ServedItem(r.artwork, r.score, 1.0, r.because, _because_text(r.because)) for r in rows.items
    ]
    return ServedList(
        ranked.job, method, items, ranked.served_by, int(ranked.allowed.sum()), policy
    )


def explored_list(ranked: Ranked, method: str, *, k: int, epsilon: float, rng, policy: dict):
    """Epsilon-greedy over the ranker: its own list with probability 1 - epsilon, else a
    uniform sample of the candidates; every shown work carries its exact inclusion
    probability (recengine.online)."""
    from recengine.online import epsilon_greedy_list, inclusion_propensity

    candidates = np.flatnonzero(ranked.allowed)
    if len(candidates) == 0:  # nothing left to show (all sold, or filtered out)
        return served_list(ranked, method, policy={**policy, "epsilon": epsilon})
    shown, propensities, explored = epsilon_greedy_list(ranked.items, candidates, k, epsilon, rng)
    policy = {**policy, "epsilon": epsilon, "explored": bool(explored)}
    if not explored:
        served = served_list(ranked, method, policy=policy)
        top = set(ranked.items[:k].tolist())
        space = item_space(ranked.model)
        for item in served.items:
            in_top = space.positions[item_key(item.artwork.pk)] in top
            item.propensity = float(inclusion_propensity(in_top, epsilon, k, len(candidates)))
        return served
    space = item_space(ranked.model)
    chosen = [int(space.artwork_ids[i]) for i in shown]
    works = Artwork.objects.select_related("artist").in_bulk(chosen)
    items = [
        ServedItem(
            works[pk],
            None,
            float(p),
            None,
            "shown at random, to learn about works the "
            "model would not show (epsilon-greedy exploration)",
        )
        for pk, p in zip(chosen, propensities, strict=True)
        if pk in works
    ]
    return ServedList(ranked.job, method, items, "exploration", len(candidates), policy)


def interleaved_list(first: Ranked, second: Ranked, methods: list[str], *, k: int, rng, policy):
    """Team-draft interleaving of two rankers (Radlinski et al., 2008): which ranker a work
    came from is kept, so clicks credit one of the two. The coin flips give no closed-form
    propensity per work, so none is recorded and these lists are left out of off-policy
    estimates (they are for the interleaving comparison)."""
    from recengine.online import team_draft_interleave

    lists = []
    for ranked in (first, second):
        space = item_space(ranked.model)
        lists.append([int(space.artwork_ids[i]) for i in ranked.items])
    scores = [
        dict(zip(ids, ranked.scores.tolist(), strict=True))
        for ids, ranked in zip(lists, (first, second), strict=True)
    ]
    chosen, teams = team_draft_interleave(lists[0], lists[1], k, rng)
    works = Artwork.objects.select_related("artist").in_bulk(chosen)
    items = []
    for pk, team in zip(chosen, teams, strict=True):
        if pk in works:
            source = 1 if team == "b" else 0  # "both": the rankers' shared top
            text = (
                f"first in both {methods[0]}'s and {methods[1]}'s lists"
                if team == "both"
                else f"from {methods[source]}'s list (team-draft interleaving)"
            )
            items.append(ServedItem(works[pk], float(scores[source][pk]), None, None, text, team))
    n = int((first.allowed).sum())
    return ServedList(first.job, "+".join(methods), items, "interleaving", n, policy)


def _because_text(because: Artwork | None) -> str:
    if because is None:
        return ""
    return f"because the collector chose “{because.title}” by {because.artist}"


def collector_context(collector: Collector) -> tuple[list[int], list[int]]:
    """(profile: purchases and likes, oldest first; exclude: every work they bought,
    liked or otherwise acted on except viewing), as the collector pages use them, in one
    query."""
    from webapp.catalogue.datasets import CONSUMED_KINDS

    events = list(
        Interaction.objects.filter(collector=collector)
        .exclude(kind=Interaction.Kind.VIEW)
        .order_by("timestamp", "id")
        .values_list("artwork_id", "kind")
    )
    profile = [a for a, kind in events if kind in CONSUMED_KINDS]
    return profile, [a for a, _ in events]
