"""What the API answers for a caller: which policy serves (the method asked for, the
running experiment's arm, or the default), its list, and the impression that records it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from webapp.api.candidates import Filters
from webapp.api.experiments import activated_winner, arm_of, experiment_running
from webapp.api.impressions import impression_log
from webapp.api.lists import (
    ListError,
    ServedList,
    collector_context,
    default_method_name,
    explored_list,
    interleaved_list,
    rank,
    served_list,
)
from webapp.api.models import Experiment, Impression
from webapp.catalogue.models import Artwork, Collector


@dataclass
class Answer:
    request_id: str
    served: ServedList
    experiment: Experiment | None = None
    arm: str = ""


def _rng(who: str, request_id_seed: str):
    """Exploration's and interleaving's coins: seeded per request, never per collector alone
    (then a collector would always explore or never)."""
    digest = hashlib.sha256(f"{who}:{request_id_seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _experiment_nonce(experiment, collector, who: str) -> str:
    """Inside an experiment the coins come from its salt and how many lists this caller
    already got in it: a replay of the same visits (the simulated shop, a test) draws the
    same coins, and each list still draws new ones."""
    mine = Impression.objects.filter(experiment=experiment)
    if collector is not None:
        mine = mine.filter(collector=collector)
    else:
        mine = mine.filter(session=who.split(":", 1)[1][:100])
    return f"{experiment.salt}:{mine.count()}"


def _policy(method: str, who: str):
    """(method or methods, experiment, arm label, epsilon) for a caller who named `method`
    (or not). An explicit method is served as asked and never enters an experiment."""
    if method:
        return [method], None, "", 0.0
    experiment = experiment_running()
    if experiment is not None:
        if experiment.design == Experiment.Design.INTERLEAVING:
            return experiment.methods, experiment, "interleaved", 0.0
        arm = experiment.methods[arm_of(experiment, who)]
        return [arm], experiment, arm, experiment.epsilon
    return [activated_winner() or default_method_name()], None, "", 0.0


def _answer(
    *, methods, experiment, arm, epsilon, k, filters, profile, exclude, collector, who, nonce
):
    policy = {"k": k, "filters": filters.as_dict(), "epsilon": epsilon, "explored": False}
    if experiment is not None:
        policy.update(experiment=experiment.pk, design=experiment.design, arm=arm)
    ranked = [
        rank(
            method=m,
            profile_ids=profile,
            exclude_ids=exclude,
            filters=filters,
            k=k,
            collector=collector,
        )
        for m in methods
    ]
    if experiment is not None:
        nonce = _experiment_nonce(experiment, collector, who)
    rng = _rng(who, nonce)
    if len(ranked) == 2:
        return interleaved_list(*ranked, methods, k=k, rng=rng, policy=policy)
    if epsilon > 0:
        return explored_list(ranked[0], methods[0], k=k, epsilon=epsilon, rng=rng, policy=policy)
    return served_list(ranked[0], methods[0], policy=policy)


def collector_answer(
    *, client, collector: Collector, method: str, k: int, filters: Filters, nonce: str
) -> Answer:
    profile, exclude = collector_context(collector)
    return _logged_answer(
        client=client,
        surface=Impression.Surface.COLLECTOR,
        who=f"collector:{collector.external_id}",
        method=method,
        k=k,
        filters=filters,
        profile=profile,
        exclude=exclude,
        collector=collector,
        nonce=nonce,
    )


def visitor_answer(
    *, client, works: list[str], session: str, method: str, k: int, filters: Filters, nonce: str
) -> Answer:
    """An anonymous visitor's picks are their profile (no retraining): for the models
    that fold a profile in; the experiment assigns by session."""
    found = dict(Artwork.objects.filter(external_id__in=works).values_list("external_id", "id"))
    missing = [w for w in works if w not in found]
    if missing:
        raise ListError(f"no work with id {missing[0]!r}", 400, "works")
    picked = [found[w] for w in works]
    return _logged_answer(
        client=client,
        surface=Impression.Surface.VISITOR,
        who=f"session:{session}",
        method=method,
        k=k,
        filters=filters,
        profile=picked,
        exclude=picked,
        session=session,
        nonce=nonce,
    )


def _logged_answer(
    *, client, surface, who, method, k, filters, profile, exclude, nonce, collector=None, session=""
) -> Answer:
    """The list under the caller's policy (experiment arm, winner or default), stored as
    an impression."""
    methods, experiment, arm, epsilon = _policy(method, who)
    served = _answer(
        methods=methods,
        experiment=experiment,
        arm=arm,
        epsilon=epsilon,
        k=k,
        filters=filters,
        profile=profile,
        exclude=exclude,
        collector=collector,
        who=who,
        nonce=nonce,
    )
    request_id = impression_log(
        client=client,
        surface=surface,
        served=served,
        collector=collector,
        session=session,
        experiment=experiment,
        arm=arm,
    )
    return Answer(str(request_id), served, experiment, arm)
