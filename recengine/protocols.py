"""The two visual-art protocols beside full and sampled ranking.

profile cut (the art-recommendation tutorial's): one held-out item per user, the user's
    profile cut to their last ``profile_limit`` training items, the whole catalogue
    ranked (training items excluded).
one-of-a-kind (CuratorNet's paper): at every purchase, in time order, rank only the works
    in stock at that moment: listed by then and not sold before it. A work is sold by
    its first purchase (a like is not a sale). The profile is every earlier event of the
    chosen kinds (validation window included); a one-of-a-kind work is bought once, so
    this is the question a gallery really asks.

Both report the canonical metric names of recengine.evaluation (AUC, MRR, HR@k, Recall@k,
Precision@k, NDCG@k) and keep one row per ranked event, keyed by (user, work, time), so
paired tests join events, not users.

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

PURCHASE = "purchase"
SCORE_BATCH = 256  # profiles scored at once


def can_fold_in(model) -> bool:
    """True when the model scores arbitrary profiles (no per-user parameters)."""
    try:
        model.score_profiles([np.zeros(0, dtype=np.int64)])
    except NotImplementedError:
        return False
    return True


def _metrics_of(scores: np.ndarray, relevant: np.ndarray, ks: Sequence[int]) -> dict:
    values = m.ranking_metrics(scores, relevant, ks)
    out = {"AUC": m.auc(scores, relevant), "MRR": m.reciprocal_rank(scores, relevant)}
    for k in ks:
        for name in ("HR", "Recall", "Precision", "NDCG"):
            out[f"{name}@{k}"] = values[f"{name}@{k}"]
    return out


def _result(values, users, items, times, protocol, started, note, diagnostics=None):
    per_row = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    means = {
        k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
        for k, v in per_row.items()
    }
    result = EvaluationResult(
        metrics=means,
        per_user=per_row,
        users=np.asarray(users, dtype=np.int64),
        n_users=len(users),
        protocol=protocol,
        seconds=time.perf_counter() - started,
        note=note,
        items=np.asarray(items, dtype=np.int64),
        times=np.asarray(times, dtype=np.float64),
        diagnostics=dict(diagnostics or {}),
    )
    return result


def _scores(model, fold: bool, users: np.ndarray, profiles: list[np.ndarray]) -> np.ndarray:
    """(len(users), n_items) float64 scores, in batches."""
    parts = []
    for start in range(0, len(users), SCORE_BATCH):
        if fold:
            block = model.score_profiles(profiles[start : start + SCORE_BATCH])
        else:
            block = model.score(np.asarray(users[start : start + SCORE_BATCH]))
        parts.append(np.asarray(block, dtype=np.float64))
    return np.concatenate(parts) if parts else np.zeros((0, 0))


def evaluate_profile_cut(
    model,
    train: Interactions,
    test: Interactions,
    ks: Sequence[int] = (20, 100),
    profile_limit: int = 10,
) -> EvaluationResult:
    """The tutorial protocol; ``test`` should hold one item per user (leave-last-out).

    One row per test event (a user with several test events is ranked once per event,
    each event against the same training profile)."""
    started = time.perf_counter()
    fold = can_fold_in(model)
    profiles = train.profiles()  # time order
    seen = train.matrix()
    order = np.lexsort((test.items, test.users))
    users, items = test.users[order], test.items[order]
    times = test.timestamps[order] if test.timestamps is not None else np.full(len(order), -1.0)
    cut = [profiles[u][-profile_limit:] for u in users]
    scores = _scores(model, fold, users, cut)
    values: dict[str, list] = {}
    kept = []
    for row, (user, item) in enumerate(zip(users, items, strict=True)):
        line = scores[row].copy()
        line[seen.indices[seen.indptr[user] : seen.indptr[user + 1]]] = -np.inf
        if not np.isfinite(line[item]):
            continue  # the held-out work is also a training work of this user
        relevant = np.zeros((1, len(line)), dtype=bool)
        relevant[0, item] = True
        for key, value in _metrics_of(line[None, :], relevant, ks).items():
            values.setdefault(key, []).extend(value.tolist())
        kept.append(row)
    note = f"last {profile_limit} training items" if fold else "user vector"
    kept = np.asarray(kept, dtype=np.int64)
    return _result(values, users[kept], items[kept], times[kept], "profile-cut", started, note)


def sale_times(history: Interactions, sale_kinds: Sequence[str] = (PURCHASE,)) -> np.ndarray:
    """(n_items,) time of each work's first sale event (inf: never sold). In a log without
    kinds every event is a sale (a plain purchase log)."""
    sold = np.full(history.n_items, np.inf)
    sales = history.kind_mask(list(sale_kinds))
    np.minimum.at(sold, history.items[sales], history.timestamps[sales])
    return sold


def evaluate_one_of_a_kind(
    model,
    events: Interactions,
    history: Interactions,
    *,
    listed_at: np.ndarray | None = None,
    sold_at: np.ndarray | None = None,
    profile_kinds: Sequence[str] | None = None,
    ks: Sequence[int] = (20, 100),
) -> EvaluationResult:
    """Rank the works in stock at each event of ``events`` (time order).

    events: the ranked events (purchases in the test window, by default of the split).
    history: every event the gallery knew (all parts of the split, every kind): profiles
        are read from it.
    listed_at: (n_items,) listing time of each work; default: listed from the start.
    sold_at: (n_items,) sale time of each work; default: its first purchase in history
        (``sale_times``). A work is in stock at t when listed_at <= t <= sold_at: the
        work bought at t is a candidate, nothing sold before t is.
    profile_kinds: kinds of the earlier events that form the profile; default all.

    The profile of an event (u, i, t) is the works of u's events before t of those kinds,
    except i itself: the held-out work's own earlier events (a like before the purchase)
    would put the answer in the question. Candidates are every work in stock at t, the
    user's liked works included (still for sale, so still a fair answer), minus the
    profile. An event without a profile is skipped (a first purchase has nothing to
    start from), and so is one whose work was not in stock (inconsistent data); both are
    counted in ``diagnostics``.
    """
    started = time.perf_counter()
    if events.timestamps is None or history.timestamps is None:
        raise ValueError("the one-of-a-kind protocol needs timestamps")
    fold = can_fold_in(model)
    n_items = history.n_items
    listed_at = np.full(n_items, -np.inf) if listed_at is None else np.asarray(listed_at, float)
    sold_at = sale_times(history) if sold_at is None else np.asarray(sold_at, dtype=float)
    sold_at = np.where(np.isnan(sold_at), np.inf, sold_at)
    usable = history.kind_mask(None if profile_kinds is None else list(profile_kinds))
    by_user = [[] for _ in range(history.n_users)]
    for row in np.flatnonzero(usable):
        by_user[int(history.users[row])].append(row)
    order = np.lexsort((events.items, events.users, events.timestamps))
    chosen, profiles = [], []
    skipped = {"no profile": 0, "not in stock": 0}
    for e in order:
        user, item, when = int(events.users[e]), int(events.items[e]), events.timestamps[e]
        rows = np.asarray(by_user[user], dtype=np.int64)
        earlier = rows[history.timestamps[rows] < when] if len(rows) else rows
        profile = np.unique(history.items[earlier])
        profile = profile[profile != item]
        if not len(profile):
            skipped["no profile"] += 1
            continue
        if not (listed_at[item] <= when <= sold_at[item]):
            skipped["not in stock"] += 1
            continue
        chosen.append(e)
        profiles.append(profile)
    chosen = np.asarray(chosen, dtype=np.int64)
    scores = _scores(model, fold, events.users[chosen], profiles)
    values: dict[str, list] = {}
    candidates = []
    for row, e in enumerate(chosen):
        when = events.timestamps[e]
        in_stock = (listed_at <= when) & (sold_at >= when)
        in_stock[profiles[row]] = False
        line = np.where(in_stock, scores[row], -np.inf)[None, :]
        relevant = np.zeros_like(line, dtype=bool)
        relevant[0, events.items[e]] = True
        for key, value in _metrics_of(line, relevant, ks).items():
            values.setdefault(key, []).extend(value.tolist())
        candidates.append(int(in_stock.sum()))
    kinds = (
        "every earlier event" if profile_kinds is None else "earlier " + ", ".join(profile_kinds)
    )
    note = f"{kinds} (the held-out work's own left out)" if fold else "user vector"
    diagnostics = {
        "ranked_events": int(len(chosen)),
        "skipped_no_profile": skipped["no profile"],
        "skipped_not_in_stock": skipped["not in stock"],
        "mean_candidates": round(float(np.mean(candidates)), 2) if candidates else 0.0,
    }
    return _result(
        values,
        events.users[chosen],
        events.items[chosen],
        events.timestamps[chosen],
        "one-of-a-kind",
        started,
        note,
        diagnostics,
    )
