"""What a benchmark run fits and evaluates on: the split, the protocol, the tuning data.

Kept apart from the runner (recengine.bench) and light (numpy only), so the command lines
can list the splits and protocols without importing torch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .data import Interactions, concatenate
from .datasets import BenchmarkData
from .sampling import Negatives, sample_negatives
from .splits import (
    Split,
    cold_start_items_split,
    cold_start_users_split,
    purchase_time_split,
    random_ratio_split,
    temporal_leave_last_out,
    time_cut_split,
)

SPLITS = (
    "given",
    "temporal-loo",
    "random",
    "time-cut",
    "purchase-time",
    "cold-items",
    "cold-users",
)
PROTOCOLS = ("full", "sampled", "profile-cut", "one-of-a-kind")
# The split each protocol is defined on, when none is named.
PROTOCOL_SPLITS = {"profile-cut": "temporal-loo", "one-of-a-kind": "purchase-time"}


@dataclass
class Setup:
    """Everything a model is fitted and evaluated on, on one index."""

    train: Interactions
    test: Interactions
    fold_in: Interactions | None
    negatives: Negatives | None
    tune_train: Interactions
    tune_valid: Interactions
    tune_negatives: Negatives | None
    valid_carved: bool  # validation rows came out of train: refit on all of train
    protocol: str = "full"
    listed_at: np.ndarray | None = None  # (n_items,) listing times, for one-of-a-kind
    sold_at: np.ndarray | None = None  # (n_items,) sale times, for one-of-a-kind
    history: Interactions | None = None  # every event, for one-of-a-kind profiles
    profile_kinds: tuple[str, ...] | None = None
    test_items: np.ndarray | None = None  # cold-start works: not in any training catalogue
    valid_items: np.ndarray | None = None
    snapshot: str = ""
    # negatives.csv on a split it was not published with: pairs dropped because they are
    # the user's own items in this split (None: the file's split, used as given)
    negatives_dropped: int | None = None

    def refits_with_valid(self, asked: bool) -> bool:
        """Whether the final fit adds the split's validation events to train: when asked
        and train lacks them (validation carved out of train is in it already; the final
        fit of a cold-start split always has them)."""
        return (
            asked and not self.valid_carved and self.test_items is None and len(self.tune_valid) > 0
        )

    def final_fit(self, asked: bool) -> str:
        """What the final models learn from, for the report."""
        if self.test_items is not None:
            return "train + validation (a cold-start split's validation works always join)"
        if self.refits_with_valid(asked):
            return "train + validation"
        if self.valid_carved:
            return "train (validation was carved out of it for tuning)"
        return "train"


def snapshot_of(data: Interactions, name: str) -> str:
    """A short, stable id of the exact events a run read: "name@sha256[:12]"."""
    digest = hashlib.sha256()
    for ids in (data.user_ids, data.item_ids, data.kind_names):
        if ids is not None:
            digest.update("\x1f".join(str(v) for v in ids).encode())
        digest.update(b"\x1e")
    for array in (data.users, data.items, data.timestamps, data.kinds, data.weights):
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(b"\x1e")
    if data.item_features is not None:
        digest.update(np.ascontiguousarray(data.item_features).tobytes())
    return f"{name}@{digest.hexdigest()[:12]}"


def source_of(data: BenchmarkData) -> Interactions:
    if data.interactions is not None:
        return data.interactions
    if data.train is None:
        raise ValueError(f"{data.name} has no interactions to split")
    return concatenate([p for p in (data.train, data.valid, data.test) if p is not None])


def make_split(
    data: BenchmarkData, split: str, seed: int, target_kinds: tuple[str, ...] = ("purchase",)
) -> Split:
    if split == "given":
        if data.train is None or data.test is None:
            raise ValueError(f"{data.name}: the given split needs train.csv and test.csv")
        empty = data.train.select(np.zeros(len(data.train), dtype=bool))
        return Split(train=data.train, valid=data.valid or empty, test=data.test)
    source = source_of(data)
    if split == "temporal-loo":
        return temporal_leave_last_out(source)
    if split == "random":
        return random_ratio_split(source, seed=seed)
    if split == "time-cut":
        return time_cut_split(source)
    if split == "purchase-time":
        return purchase_time_split(source, target_kinds=target_kinds)
    if split == "cold-items":
        return cold_start_items_split(source, valid_share=0.1, seed=seed)
    if split == "cold-users":
        return cold_start_users_split(source, valid_share=0.1, seed=seed)
    raise ValueError(f"split must be one of {SPLITS}, not {split!r}")


def carve_validation(train: Interactions, seed: int) -> tuple[Interactions, Interactions]:
    """One random distinct item per user with >= 3 items moves (all its rows) to valid."""
    rng = np.random.default_rng(seed)
    keys = train.users * train.n_items + train.items
    unique = np.unique(keys)
    owner = unique // train.n_items
    counts = np.bincount(owner, minlength=train.n_users)
    shuffled = rng.permutation(len(unique))
    order = shuffled[np.argsort(owner[shuffled], kind="stable")]
    first = np.concatenate(([True], owner[order][1:] != owner[order][:-1]))
    chosen = unique[order[first & (counts[owner[order]] >= 3)]]
    held = np.isin(keys, chosen)
    return train.select(~held), train.select(held)


def published_negatives(negatives: Negatives, known: list[Interactions]) -> tuple[Negatives, int]:
    """negatives.csv on a split other than the one it came with (leave-last-out of the
    same events, say): a negative that is one of the user's own items in any part of
    this split is dropped (padded with -1), as ``sample_negatives`` would never draw
    it; the rest are kept in the file's order. Returns (table, pairs dropped). On the
    given split the file is used exactly as published."""
    seen = known[0].matrix()
    for part in known[1:]:
        seen = seen + part.matrix()
    seen = seen.tocsr()
    table = negatives.items.copy()
    users = np.repeat(negatives.users, table.shape[1]).reshape(table.shape)
    real = table >= 0
    own = np.zeros(table.shape, dtype=bool)
    own[real] = np.asarray(seen[users[real], table[real]]).reshape(-1) > 0
    table[own] = -1
    return Negatives(users=negatives.users, items=table), int(own.sum())


def prepare(
    data: BenchmarkData,
    *,
    split: str,
    protocol: str,
    sampled: int | None,
    negative_strategy: str,
    seed: int,
    target_kinds: tuple[str, ...] = ("purchase",),
    profile_kinds: tuple[str, ...] | None = None,
) -> Setup:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    if protocol == "one-of-a-kind" and split != "purchase-time":
        raise ValueError("the one-of-a-kind protocol ranks purchases: use --split purchase-time")
    parts = make_split(data, split, seed, target_kinds)
    carved = len(parts.valid) == 0
    if carved:
        tune_train, tune_valid = carve_validation(parts.train, seed)
    else:
        tune_train, tune_valid = parts.train, parts.valid
    negatives = tune_negatives = dropped = None
    if protocol == "sampled":
        known = [p for p in (parts.train, parts.valid, parts.test, parts.fold_in) if p is not None]
        popularity = parts.train.item_popularity()
        if sampled is None and data.negatives is not None and split == "given":
            negatives = data.negatives
        elif sampled is None and data.negatives is not None and split == "temporal-loo":
            # published negatives per user serve any per-user hold-out of the same users
            negatives, dropped = published_negatives(data.negatives, known)
        else:
            negatives = sample_negatives(
                np.unique(parts.test.users),
                sampled or 100,
                known,
                strategy=negative_strategy,
                popularity=popularity,
                seed=seed,
            )
        tune_negatives = sample_negatives(
            np.unique(tune_valid.users),
            negatives.width,
            known,
            strategy=negative_strategy,
            popularity=popularity,
            seed=seed + 1,
        )
    return Setup(
        train=parts.train,
        test=parts.test,
        fold_in=parts.fold_in,
        negatives=negatives,
        tune_train=tune_train,
        tune_valid=tune_valid,
        tune_negatives=tune_negatives,
        valid_carved=carved,
        protocol=protocol,
        listed_at=data.item_listed_at,
        sold_at=data.item_sold_at,
        history=parts.history,
        profile_kinds=profile_kinds,
        test_items=parts.test_items,
        valid_items=parts.valid_items,
        snapshot=snapshot_of(source_of(data), data.name),
        negatives_dropped=dropped,
    )
