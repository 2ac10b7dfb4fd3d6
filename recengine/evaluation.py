"""Full-ranking offline evaluation of a fitted Recommender."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from . import metrics
from .data import Interactions

if TYPE_CHECKING:
    from .models.base import Recommender

Callback = Callable[[float, str], None]


@dataclass
class EvaluationResult:
    """Mean metrics plus the per-user values they were averaged from.

    metrics: {"AUC": .., "Recall@10": .., "NDCG@10": .., "HR@10": .., ...}
    per_user: same keys, each (n_users,) float64 aligned with ``users``
    users: (n_users,) int64 evaluated user indices
    """

    metrics: dict[str, float]
    per_user: dict[str, np.ndarray] = field(repr=False)
    users: np.ndarray = field(repr=False)
    n_users: int = 0


def _check_same_index(reference: Interactions, other: Interactions, name: str) -> None:
    if other.n_users != reference.n_users or other.n_items != reference.n_items:
        raise ValueError(
            f"{name} has {other.n_users} users x {other.n_items} items but train has "
            f"{reference.n_users} x {reference.n_items}; splits must share index maps"
        )


def evaluate(
    model: Recommender,
    train: Interactions,
    test: Interactions,
    ks: Sequence[int] = (10, 20),
    exclude: list[Interactions] | None = None,
    batch_size: int = 512,
    callback: Callback | None = None,
) -> EvaluationResult:
    """Rank every item for every user with a test row and score the ranking.

    Items the user has in ``train`` (and in each of ``exclude``, e.g. the
    validation split) are set to -inf: they are neither recommendable nor
    negatives for AUC. Test items that are also excluded are dropped from the
    user's positives (they cannot be recommended); a user left with no positive
    is skipped. AUC compares test items to all remaining non-excluded items.
    """
    exclude = list(exclude or [])
    _check_same_index(train, test, "test")
    for n, other in enumerate(exclude):
        _check_same_index(train, other, f"exclude[{n}]")
    seen = train.matrix()
    for other in exclude:
        seen = seen + other.matrix()
    seen = sp.csr_matrix(seen)
    relevant_matrix = test.matrix()

    candidates_users = np.unique(test.users)
    keys = ["AUC"] + [f"{name}@{k}" for k in ks for name in ("Recall", "NDCG", "HR")]
    per_user: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    evaluated: list[np.ndarray] = []

    for start in range(0, len(candidates_users), batch_size):
        batch = candidates_users[start : start + batch_size]
        excluded = seen[batch].toarray() > 0
        relevant = (relevant_matrix[batch].toarray() > 0) & ~excluded
        keep = relevant.any(axis=1)
        batch, excluded, relevant = batch[keep], excluded[keep], relevant[keep]
        if len(batch):
            scores = np.asarray(model.score(batch), dtype=np.float64)
            if scores.shape != excluded.shape:
                raise ValueError(f"model.score returned {scores.shape}, expected {excluded.shape}")
            scores[excluded] = -np.inf
            per_user["AUC"].append(metrics.auc(scores, relevant, ~excluded))
            for key, values in metrics.ranking_metrics(scores, relevant, ks).items():
                per_user[key].append(values)
            evaluated.append(batch)
        if callback is not None:
            done = min(start + batch_size, len(candidates_users))
            callback(
                done / len(candidates_users), f"evaluated {done}/{len(candidates_users)} users"
            )

    users = np.concatenate(evaluated) if evaluated else np.zeros(0, dtype=np.int64)
    arrays = {
        key: np.concatenate(values) if values else np.zeros(0) for key, values in per_user.items()
    }
    means = {
        key: float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        for key, values in arrays.items()
    }
    return EvaluationResult(metrics=means, per_user=arrays, users=users, n_users=len(users))
