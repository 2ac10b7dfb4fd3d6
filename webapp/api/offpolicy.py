"""How another served method would have done on the lists the shop was shown: IPS, SNIPS
and doubly robust estimates (recengine.offpolicy) from the impression log.

For each logged collector list, the target's own top-k is rebuilt as it would have been
then: the works listed by that time and not yet sold, through the list's filters, without
what the collector had bought or liked by then, from their profile at that time. Only
lists logged after the target's job finished count (its model never saw their outcomes),
and interleaved lists are left out (their propensities have no closed form).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import Max, Q

from webapp.api.models import ApiEvent, Impression, ImpressionItem
from webapp.catalogue.datasets import CONSUMED_KINDS, user_key
from webapp.catalogue.models import Artwork, Interaction

REWARDS = {"click": ("view", "like"), "purchase": ("purchase",)}


@dataclass
class OffPolicyRow:
    method: str
    job_id: int
    reward: str  # "click" or "purchase": the value is that many per list
    ips: float | None = None
    ips_se: float | None = None
    snips: float | None = None
    dr: float | None = None
    dr_se: float | None = None
    logged_value: float | None = None  # what the logging policies earned on these lists
    usable: int = 0
    support: float | None = None
    warning: str = ""


def _logged(max_lists: int, where: dict):
    lists = list(
        Impression.objects.filter(surface=Impression.Surface.COLLECTOR, collector__isnull=False)
        .filter(**where)
        # Not .exclude(policy__design=...): a list served outside an experiment has no
        # "design" key, the key's SQL value is NULL, and NOT (NULL = ...) drops the row too.
        .filter(Q(policy__design__isnull=True) | ~Q(policy__design="interleaving"))
        .order_by("-created_at", "-id")[:max_lists]
        .values("pk", "collector_id", "created_at", "policy")
    )
    lists.reverse()
    rows = list(
        ImpressionItem.objects.filter(impression_id__in=[i["pk"] for i in lists]).values_list(
            "pk", "impression_id", "artwork_id", "propensity"
        )
    )
    return lists, rows


def _rewards(rows, kinds) -> np.ndarray:
    hit = set(
        ApiEvent.objects.filter(
            impression_item_id__in=[r[0] for r in rows], kind__in=kinds
        ).values_list("impression_item_id", flat=True)
    )
    return np.asarray([1.0 if r[0] in hit else 0.0 for r in rows])


class _Catalogue:
    """Each work's listing and sale time, for "which works could a list hold then"."""

    def __init__(self):
        rows = list(
            Artwork.objects.values_list("id", "listed_at", "sold_at", "is_sold", "price", "medium")
        )
        never = np.datetime64("9999-01-01")
        self.ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        self.listed = np.asarray([np.datetime64(r[1].replace(tzinfo=None)) for r in rows])
        # Sold with no known time: out of every list, at any time.
        self.sold = np.asarray(
            [
                np.datetime64(r[2].replace(tzinfo=None))
                if r[2]
                else (np.datetime64("1000-01-01") if r[3] else never)
                for r in rows
            ]
        )
        self.price = np.asarray([np.nan if r[4] is None else float(r[4]) for r in rows])
        self.medium = np.asarray([(r[5] or "").lower() for r in rows], dtype=object)

    def candidates(self, when, filters: dict) -> np.ndarray:
        t = np.datetime64(when.replace(tzinfo=None))
        keep = (self.listed <= t) & (self.sold > t)
        if filters.get("price_min") is not None:
            keep &= self.price >= filters["price_min"]
        if filters.get("price_max") is not None:
            keep &= self.price <= filters["price_max"]
        if filters.get("media"):
            keep &= np.isin(self.medium, [m.lower() for m in filters["media"]])
        return self.ids[keep]


def _histories(collector_ids) -> dict[int, list[tuple]]:
    events = (
        Interaction.objects.filter(collector_id__in=set(collector_ids))
        .exclude(kind=Interaction.Kind.VIEW)
        .order_by("timestamp", "id")
        .values_list("collector_id", "artwork_id", "kind", "timestamp")
    )
    out: dict[int, list[tuple]] = {}
    for collector_id, artwork_id, kind, when in events:
        out.setdefault(collector_id, []).append((artwork_id, kind, when))
    return out


def _target_lists(job, lists, catalogue, histories) -> list[np.ndarray]:
    """The target's top-k artwork ids for each logged list (empty: not usable)."""
    from webapp.curation.selectors.recommenders import item_space, positions_of, served_model
    from webapp.jobs.serving import top_items

    model = served_model(job)
    space = item_space(model)
    out = []
    for entry in lists:
        when = entry["created_at"]
        if job.finished_at is None or when <= job.finished_at:
            out.append(np.zeros(0, dtype=np.int64))
            continue
        past = [h for h in histories.get(entry["collector_id"], []) if h[2] < when]
        profile = positions_of(space, [a for a, kind, _ in past if kind in CONSUMED_KINDS])
        exclude = positions_of(space, [a for a, _, _ in past])
        policy = entry["policy"]
        allowed = np.isin(space.artwork_ids, catalogue.candidates(when, policy.get("filters", {})))
        items, _, _ = top_items(
            job=job,
            model=model,
            profile=profile,
            exclude=exclude,
            allowed=allowed,
            user_index=int(model.user_index([user_key(entry["collector_id"])])[0]),
            k=int(policy.get("k", 20)),
        )
        chosen = np.asarray(items[0])
        out.append(space.artwork_ids[chosen[chosen >= 0]])
    return out


@dataclass
class Logged:
    """The logged collector lists, with their shown works, propensities and rewards."""

    lists: list[dict]
    impression: np.ndarray  # row -> list index
    item: np.ndarray
    propensity: np.ndarray
    rewards: dict[str, np.ndarray]
    catalogue: _Catalogue
    histories: dict


def logged_lists(*, where: dict | None = None, max_lists: int | None = None) -> Logged | None:
    """The latest logged collector lists (``where`` narrows them, e.g. to an experiment's
    arm), or None when there are none."""
    max_lists = max_lists or int(getattr(settings, "VITRINE_OPE_MAX_LISTS", 1000))
    lists, rows = _logged(max_lists, where or {})
    if not lists or not rows:
        return None
    index = {entry["pk"]: i for i, entry in enumerate(lists)}
    return Logged(
        lists,
        np.asarray([index[r[1]] for r in rows], dtype=np.int64),
        np.asarray([r[2] for r in rows], dtype=np.int64),
        np.asarray([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64),
        {reward: _rewards(rows, kinds) for reward, kinds in REWARDS.items()},
        _Catalogue(),
        _histories([entry["collector_id"] for entry in lists]),
    )


def job_estimates(logged: Logged, job) -> tuple[list[OffPolicyRow], list[np.ndarray]]:
    """(one row per reward, the target's list for each logged list) for one job."""
    from recengine.offpolicy import ItemRateModel, LoggedLists, estimate, on_policy_value

    impression, item, propensity = logged.impression, logged.item, logged.propensity
    # A list with an unrecorded propensity cannot be reweighted: it is left out.
    known = np.isfinite(propensity)
    bad = set(impression[~known].tolist())
    shown = [set() for _ in logged.lists]
    for i, a in zip(impression, item, strict=True):
        shown[i].add(int(a))
    exploring = [float(e["policy"].get("epsilon") or 0) > 0 for e in logged.lists]
    targets = _target_lists(job, logged.lists, logged.catalogue, logged.histories)
    targets = [t if i not in bad else t[:0] for i, t in enumerate(targets)]
    supported = [
        np.asarray([exploring[i] or int(a) in shown[i] for a in t], dtype=bool)
        for i, t in enumerate(targets)
    ]
    usable = np.asarray([len(t) > 0 for t in targets])
    on_rows = np.isin(impression, np.flatnonzero(usable)) & known
    result = []
    for reward, rewards in logged.rewards.items():
        data = LoggedLists(
            impression[known], item[known], propensity[known], rewards[known], len(logged.lists)
        )
        row = OffPolicyRow(job.method, job.pk, reward, usable=int(usable.sum()))
        if row.usable:
            est = estimate(data, targets, ItemRateModel(data), supported)
            sub = LoggedLists(
                _renumber(impression[on_rows]),
                item[on_rows],
                propensity[on_rows],
                rewards[on_rows],
                row.usable,
            )
            row.ips, row.ips_se, row.snips = est.ips, est.ips_se, est.snips
            row.dr, row.dr_se = est.dr, est.dr_se
            row.logged_value = on_policy_value(sub)[0]
            row.support, row.warning = est.support, est.warning
        else:
            row.warning = "no logged list came after this job was trained"
        result.append(row)
    return result, targets


def off_policy_estimates(*, jobs, max_lists: int | None = None) -> list[OffPolicyRow]:
    """One row per (job, reward) over every logged collector list, cached until a list or
    an event is logged (rebuilding every target list costs a second or more)."""
    version = (
        Impression.objects.aggregate(m=Max("id"))["m"],
        ApiEvent.objects.aggregate(m=Max("id"))["m"],
        tuple(sorted((j.pk, str(j.finished_at)) for j in jobs)),
        max_lists,
    )
    key = "vitrine:ope:v1:" + hashlib.sha256(repr(version).encode()).hexdigest()[:32]
    found = cache.get(key)
    if found is not None:
        return found
    logged = logged_lists(max_lists=max_lists)
    result = []
    if logged is not None:
        for job in jobs:
            result.extend(job_estimates(logged, job)[0])
    cache.set(key, result, 600)
    return result


def _renumber(impression: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(impression, return_inverse=True)
    return inverse.astype(np.int64)
