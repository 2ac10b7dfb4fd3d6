"""Offline evaluation of a fitted Recommender under the two standard protocols.

full ranking: every item is a candidate except the user's training items (and any
    ``exclude`` split, e.g. validation); the held-out items are the positives.
sampled ranking: each user's held-out items are ranked against a fixed list of
    negatives (negatives.csv, or ``sample_negatives``); nothing else is excluded, the
    negatives are used exactly as given.

Every metric is kept per user, so two models can be compared with a paired test
(``recengine.stats.paired_test``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from . import metrics as m
from .data import Interactions
from .evaluation_batches import batch_values, full_batch_size, full_ranking, nan_error
from .sampling import Negatives

if TYPE_CHECKING:
    from .models.base import Recommender

Callback = Callable[..., None]

METRICS = ("AUC", "HR", "Recall", "Precision", "NDCG", "MRR", "MAP", "Coverage", "Novelty")
# AUC over all items needs a pass over the row per positive: opt in for full ranking.
FULL_DEFAULT = tuple(name for name in METRICS if name != "AUC")
SAMPLED_DEFAULT = METRICS
_AT_K = ("HR", "Recall", "Precision", "NDCG", "MAP", "Coverage", "Novelty")


@dataclass
class EvaluationResult:
    """Mean metrics plus the per-user values they were averaged from.

    metrics: {"AUC": .., "Recall@10": .., "NDCG@10": .., "Coverage@10": .., ...}
    per_user: per-row metrics (not Coverage, a property of all lists together), each
        (n_rows,) float64 aligned with ``users``; a row is a user (full and sampled
        ranking of the user's held-out set) or an event (protocols that rank each event)
    users: (n_rows,) int64 user index of each row
    items: (n_rows,) int64 held-out work of each row when a row is an event, else None
    times: (n_rows,) float64 time of each row's event when a row is an event, else None
    snapshot: which data the result comes from (a dataset name and hash), set by callers
    """

    metrics: dict[str, float]
    per_user: dict[str, np.ndarray] = field(repr=False)
    users: np.ndarray = field(repr=False)
    n_users: int = 0
    protocol: str = "full"
    seconds: float = 0.0
    note: str = ""  # e.g. how profiles were formed
    items: np.ndarray | None = field(default=None, repr=False)
    times: np.ndarray | None = field(default=None, repr=False)
    snapshot: str = ""
    diagnostics: dict = field(default_factory=dict)  # counts a protocol reports beside metrics

    @property
    def unit(self) -> str:
        return "users" if self.items is None else "events"

    def keys(self) -> np.ndarray:
        """(n_rows, 3) float64 identity of each row: (user, work, time), with work and time
        -1 where a row is a user. Paired tests join two results on these."""
        n = len(self.users)
        items = np.full(n, -1.0) if self.items is None else self.items.astype(np.float64)
        times = np.full(n, -1.0) if self.times is None else self.times.astype(np.float64)
        return np.column_stack([self.users.astype(np.float64), items, times])


def metric_name_check(name: str) -> str:
    """``name`` if it is a canonical metric name (AUC, MRR, HR@10, NDCG@20, ...), else a
    ValueError that lists them. One spelling everywhere: protocols, --select, JSON, site."""
    base, at, k = name.partition("@")
    if base not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)} (k as NAME@K)")
    if base in _AT_K and not (at and k.isdigit() and int(k) > 0):
        raise ValueError(f"metric {name!r} needs a cut-off, e.g. {base}@20")
    if base not in _AT_K and at:
        raise ValueError(f"metric {base} takes no cut-off (got {name!r})")
    return name


def _check_same_index(reference: Interactions, other: Interactions, name: str) -> None:
    if other.n_users != reference.n_users or other.n_items != reference.n_items:
        raise ValueError(
            f"{name} has {other.n_users} users x {other.n_items} items but train has "
            f"{reference.n_users} x {reference.n_items}; splits must share index maps"
        )


def _metric_names(requested: Sequence[str] | None, default: Sequence[str]) -> tuple[str, ...]:
    names = tuple(requested or default)
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    return names


class _Collector:
    """Accumulates per-user values and the recommended lists of every batch."""

    def __init__(self, names: tuple[str, ...], ks: Sequence[int]) -> None:
        self.names, self.ks = names, tuple(ks)
        self.per_user: dict[str, list[np.ndarray]] = {}
        self.users: list[np.ndarray] = []
        self.recommended: list[np.ndarray] = []

    def add(self, users: np.ndarray, values: dict[str, np.ndarray], recommended: np.ndarray):
        for key, value in values.items():
            if key.split("@")[0] in self.names:
                self.per_user.setdefault(key, []).append(value)
        self.users.append(users)
        self.recommended.append(recommended)

    def result(self, train: Interactions, protocol: str, started: float) -> EvaluationResult:
        per_user = {k: np.concatenate(v) for k, v in self.per_user.items()}
        recommended = (
            np.concatenate(self.recommended)
            if self.recommended
            else np.zeros((0, max(self.ks)), dtype=np.int64)
        )
        if "Novelty" in self.names:
            information = m.self_information(train.item_popularity(), train.n_users)
            for k in self.ks:
                per_user[f"Novelty@{k}"] = m.novelty(recommended[:, :k], information)
        means = {
            key: float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
            for key, values in per_user.items()
        }
        if "Coverage" in self.names:
            for k in self.ks:
                means[f"Coverage@{k}"] = m.coverage(recommended[:, :k], train.n_items)
        users = np.concatenate(self.users) if self.users else np.zeros(0, dtype=np.int64)
        ordered = {key: means[key] for key in _ordered_keys(self.names, self.ks) if key in means}
        return EvaluationResult(
            metrics=ordered,
            per_user=per_user,
            users=users,
            n_users=len(users),
            protocol=protocol,
            seconds=time.perf_counter() - started,
        )


def _ordered_keys(names: tuple[str, ...], ks: Sequence[int]) -> list[str]:
    keys = []
    for name in METRICS:
        if name not in names:
            continue
        keys.extend([f"{name}@{k}" for k in ks] if name in _AT_K else [name])
    return keys


def _scores_for(model, users, fold_in_profiles, known_users: bool = False) -> np.ndarray:
    if fold_in_profiles is None:
        return np.asarray(model.score(users), dtype=np.float32)
    profiles = [fold_in_profiles[u] for u in users]
    if known_users:
        return np.asarray(model.score_histories(users, profiles), dtype=np.float32)
    return np.asarray(model.score_profiles(profiles), np.float32)


def evaluate(
    model: Recommender,
    train: Interactions,
    test: Interactions,
    ks: Sequence[int] = (10, 20),
    exclude: list[Interactions] | None = None,
    negatives: Negatives | None = None,
    metrics: Sequence[str] | None = None,
    fold_in: Interactions | None = None,
    batch_size: int | None = None,
    callback: Callback | None = None,
    known_users: bool = False,
) -> EvaluationResult:
    """Rank items for every user with a test row and score the ranking.

    With ``negatives`` the sampled protocol is used, otherwise full ranking. Full
    ranking sets the items a user has in ``train`` (and in each of ``exclude``, and in
    ``fold_in``) to -inf: they are neither recommendable nor negatives. Test items that
    are also excluded are dropped from the user's positives (they cannot be
    recommended); a user left with no positive is skipped.

    fold_in: profiles read at prediction time: cold-start users' (scored by
        ``model.score_profiles``; a model that cannot fold in raises NotImplementedError),
        or, with ``known_users``, training users' whole histories for next-item models
        (``model.score_histories``: a model with user parameters uses its trained ones).
    metrics: names from METRICS; default FULL_DEFAULT (AUC is opt-in for full ranking,
        since it compares every positive with every item) or SAMPLED_DEFAULT.
    batch_size: users scored at once; None: about 30 MiB of full-ranking scores
        (``evaluation_batches.full_batch_size``), 1024 for the sampled protocol.
    """
    started = time.perf_counter()
    ks = tuple(sorted(set(int(k) for k in ks)))
    exclude = list(exclude or [])
    for name, part in (("test", test), ("fold_in", fold_in)):
        if part is not None:
            _check_same_index(train, part, name)
    for n, other in enumerate(exclude):
        _check_same_index(train, other, f"exclude[{n}]")
    profiles = None
    if fold_in is not None:
        profiles = fold_in.profiles()
        exclude.append(fold_in)
    if negatives is not None:
        names = _metric_names(metrics, SAMPLED_DEFAULT)
        return _evaluate_sampled(
            model,
            train,
            test,
            negatives,
            names,
            ks,
            profiles,
            batch_size,
            callback,
            started,
            known_users,
        )
    names = _metric_names(metrics, FULL_DEFAULT)
    seen = train.matrix()
    for other in exclude:
        seen = seen + other.matrix()
    seen = sp.csr_matrix(seen)
    relevant_matrix = test.matrix()
    candidates_users = np.unique(test.users)
    collector = _Collector(names, ks)
    # Held-out pairs the user also has among the excluded ones cannot be recommended:
    # they are not positives (and a user left with none is skipped).
    relevant_matrix = sp.csr_matrix(relevant_matrix - relevant_matrix.multiply(seen > 0))
    relevant_matrix.eliminate_zeros()
    candidates_users = candidates_users[np.diff(relevant_matrix.indptr)[candidates_users] > 0]
    scores = partial(_scores_for, model, fold_in_profiles=profiles, known_users=known_users)
    for users, values, ranked in full_ranking(
        model,
        scores,
        candidates_users,
        train,
        seen,
        relevant_matrix,
        names,
        ks,
        batch_size,
        callback,
    ):
        collector.add(users, values, ranked)
    return _with_events(collector.result(train, "full", started), test)


def _with_events(result: EvaluationResult, test: Interactions) -> EvaluationResult:
    """Where every evaluated user has exactly one held-out event (leave-last-out), a row is
    that event: record its work and time, so results pair on events."""
    counts = np.bincount(test.users, minlength=test.n_users)
    if not len(result.users) or (counts[result.users] != 1).any():
        return result
    position = np.full(test.n_users, -1, dtype=np.int64)
    position[test.users] = np.arange(len(test))
    rows = position[result.users]
    result.items = test.items[rows].astype(np.int64)
    result.times = (
        test.timestamps[rows].astype(np.float64)
        if test.timestamps is not None
        else np.full(len(rows), -1.0)
    )
    return result


def _evaluate_sampled(
    model,
    train,
    test,
    negatives,
    names,
    ks,
    profiles,
    batch_size,
    callback,
    started,
    known_users=False,
) -> EvaluationResult:
    # Without profiles only the candidates are scored: small rows, large batches.
    batch_size = batch_size or (1024 if profiles is None else full_batch_size(train.n_items))
    positives = test.matrix()
    users = np.unique(test.users)
    table = negatives.for_users(users)
    lacking = users[(table < 0).all(axis=1)]
    if len(lacking):
        raise ValueError(
            f"{len(lacking)} test users have no negatives (first: {test.user_ids[lacking[0]]!r})"
        )
    collector = _Collector(names, ks)
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        sub = positives[batch]
        n_positive = np.diff(sub.indptr)
        width = int(n_positive.max())
        candidates = np.full((len(batch), width + table.shape[1]), -1, dtype=np.int64)
        rows = np.repeat(np.arange(len(batch)), n_positive)
        columns = np.arange(len(rows)) - np.repeat(sub.indptr[:-1], n_positive)
        candidates[rows, columns] = sub.indices
        negative_part = table[start : start + len(batch)].copy()
        # A negative that is also a positive would be counted twice: drop the copy.
        clash = (negative_part[:, :, None] == candidates[:, None, :width]).any(axis=2)
        negative_part[clash] = -1
        candidates[:, width:] = negative_part
        # Ties are broken by the lower item index, as in full ranking. Candidates are put
        # in item order first: left with the positives in front, every tie (a model that
        # scores many items 0, say) would go to the positive and inflate HR and NDCG.
        order = np.argsort(np.where(candidates < 0, np.iinfo(np.int64).max, candidates), axis=1)
        candidates = np.take_along_axis(candidates, order, axis=1)
        relevant = np.zeros(candidates.shape, dtype=bool)
        relevant[rows, columns] = True
        rows, columns = np.nonzero(np.take_along_axis(relevant, order, axis=1))
        if profiles is None:
            scores = np.asarray(model.score(batch, candidates), dtype=np.float32)
        else:
            full = _scores_for(model, batch, profiles, known_users)
            scores = np.take_along_axis(full, np.maximum(candidates, 0), axis=1)
            scores[candidates < 0] = -np.inf
        values, ranked = batch_values(
            scores, rows, columns, names, ks, nan_error(model, train, batch)
        )
        recommended = np.where(
            ranked >= 0, np.take_along_axis(candidates, np.maximum(ranked, 0), axis=1), -1
        )
        collector.add(batch, values, recommended)
        if callback is not None:
            done = min(start + batch_size, len(users))
            callback(done / len(users), f"evaluated {done}/{len(users)} users")
    return _with_events(collector.result(train, "sampled", started), test)
