"""The two visual-art protocols beside full and sampled ranking.

profile cut (the art-recommendation tutorial's): one held-out item per user, the
    user's profile cut to their last ``profile_limit`` training items, the whole
    catalogue ranked (training items excluded); AUC, RR, R@k, P@k, nDCG@k.
one-of-a-kind (CuratorNet's paper): at every purchase, in time order, rank only the
    works in stock at that moment (listed already, not sold before), with all of the
    collector's earlier purchases as the profile. A one-of-a-kind work is bought once,
    so this is the question a gallery really asks.

Models that pool a profile (VisRank, CuratorNet, ItemKNN, EASE, ...) are scored from
the profile; models with per-user vectors (BPR, VBPR, ...) score the user they were
trained on, and the result says so ("profile": "user vector").
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from . import metrics as m
from .data import Interactions
from .evaluation import EvaluationResult


def can_fold_in(model) -> bool:
    """True when the model scores arbitrary profiles (no per-user parameters)."""
    try:
        model.score_profiles([np.zeros(0, dtype=np.int64)])
    except NotImplementedError:
        return False
    return True


def _finish(values: dict[str, list], users: list, protocol: str, started: float, note: str):
    per_user = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    means = {
        k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
        for k, v in per_user.items()
    }
    return EvaluationResult(
        metrics=means,
        per_user=per_user,
        users=np.asarray(users, dtype=np.int64),
        n_users=len(users),
        protocol=protocol,
        seconds=time.perf_counter() - started,
        note=note,
    )


def _metrics_of(scores: np.ndarray, relevant: np.ndarray, ks: Sequence[int]) -> dict:
    values = m.ranking_metrics(scores, relevant, ks)
    reciprocal = m.reciprocal_rank(scores, relevant)
    out = {"AUC": m.auc(scores, relevant), "RR": reciprocal}
    for k in ks:
        out[f"R@{k}"] = values[f"Recall@{k}"]
        out[f"P@{k}"] = values[f"Precision@{k}"]
        out[f"nDCG@{k}"] = values[f"NDCG@{k}"]
        # the reciprocal rank counted only inside the top k (the seeds' MRR@k)
        out[f"MRR@{k}"] = np.where(reciprocal >= 1.0 / k, reciprocal, 0.0)
    return out


def evaluate_profile_cut(
    model,
    train: Interactions,
    test: Interactions,
    ks: Sequence[int] = (20, 100),
    profile_limit: int = 10,
    batch_size: int = 512,
) -> EvaluationResult:
    """The tutorial protocol; ``test`` should hold one item per user (leave-last-out)."""
    started = time.perf_counter()
    fold = can_fold_in(model)
    profiles = train.profiles()  # time order
    seen = train.matrix()
    positives = test.matrix()
    users = np.unique(test.users)
    values: dict[str, list] = {}
    kept: list[int] = []
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        if fold:
            cut = [profiles[u][-profile_limit:] for u in batch]
            scores = np.asarray(model.score_profiles(cut), dtype=np.float64)
        else:
            scores = np.asarray(model.score(batch), dtype=np.float64)
        sub = seen[batch]
        scores[np.repeat(np.arange(len(batch)), np.diff(sub.indptr)), sub.indices] = -np.inf
        relevant = (positives[batch].toarray() > 0) & np.isfinite(scores)
        keep = relevant.any(axis=1)
        for key, value in _metrics_of(scores[keep], relevant[keep], ks).items():
            values.setdefault(key, []).extend(value.tolist())
        kept.extend(batch[keep].tolist())
    note = f"last {profile_limit} training items" if fold else "user vector"
    return _finish(values, kept, "profile-cut", started, note)


def evaluate_one_of_a_kind(
    model,
    train: Interactions,
    events: Interactions,
    listed_at: np.ndarray | None = None,
    ks: Sequence[int] = (20, 100),
    history: Interactions | None = None,
) -> EvaluationResult:
    """Rank the works in stock at each purchase of ``events`` (time-ordered).

    train: what the model was fitted on (its purchases are history too).
    listed_at: (n_items,) listing time of each work; default: listed from the start.
    history: every purchase (train and events) for the profiles and what was sold when;
        default train + events.
    Per-event values are kept (``users`` holds the event's user).
    """
    started = time.perf_counter()
    if events.timestamps is None or train.timestamps is None:
        raise ValueError("the one-of-a-kind protocol needs timestamps")
    fold = can_fold_in(model)
    everything = history or _concatenate(train, events)
    n_items = train.n_items
    if listed_at is None:
        listed_at = np.full(n_items, -np.inf)
    first_sale = np.full(n_items, np.inf)
    np.minimum.at(first_sale, everything.items, everything.timestamps)
    order = np.argsort(everything.timestamps, kind="stable")
    all_users, all_items = everything.users[order], everything.items[order]
    all_times = everything.timestamps[order]
    values: dict[str, list] = {}
    kept: list[int] = []
    for e in np.argsort(events.timestamps, kind="stable"):
        user, item, when = int(events.users[e]), int(events.items[e]), events.timestamps[e]
        earlier = (all_users == user) & (all_times < when)
        profile = np.unique(all_items[earlier])
        if not len(profile):
            continue  # a first purchase has no profile to start from
        in_stock = (listed_at <= when) & (first_sale >= when)
        in_stock[profile] = False
        in_stock[item] = True
        if fold:
            scores = np.asarray(model.score_profiles([profile])[0], dtype=np.float64)
        else:
            scores = np.asarray(model.score(np.array([user]))[0], dtype=np.float64)
        scores = np.where(in_stock, scores, -np.inf)[None, :]
        relevant = np.zeros_like(scores, dtype=bool)
        relevant[0, item] = True
        for key, value in _metrics_of(scores, relevant, ks).items():
            values.setdefault(key, []).extend(value.tolist())
        values.setdefault("in_stock", []).append(int(in_stock.sum()))
        kept.append(user)
    note = "all earlier purchases" if fold else "user vector"
    return _finish(values, kept, "one-of-a-kind", started, note)


def _concatenate(a: Interactions, b: Interactions) -> Interactions:
    return Interactions(
        user_ids=a.user_ids,
        item_ids=a.item_ids,
        users=np.concatenate([a.users, b.users]),
        items=np.concatenate([a.items, b.items]),
        timestamps=np.concatenate([a.timestamps, b.timestamps]),
    )
