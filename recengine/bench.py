"""`python -m recengine bench`: fit and evaluate models on a benchmark directory.

Hyperparameters are chosen on validation data, never on test: valid.csv when the
directory has one (or the protocol's own validation rows), otherwise one random
training item per user (users with at least 3) carved out of train. Gradient models
early-stop on that validation data; when it was carved out of train, the final model is
refitted on the whole training set for the number of epochs that validation chose.
"""

from __future__ import annotations

import itertools
import json
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import Interactions
from .datasets import BenchmarkData, load_benchmark
from .evaluation import EvaluationResult, evaluate
from .memory import PeakMemory
from .models import create_model, model_info
from .models.gradient import GradientRecommender
from .protocols import evaluate_one_of_a_kind, evaluate_profile_cut
from .sampling import Negatives, sample_negatives
from .splits import (
    Split,
    cold_start_items_split,
    cold_start_users_split,
    random_ratio_split,
    temporal_leave_last_out,
    time_cut_split,
)
from .stats import paired_test

SPLITS = ("given", "temporal-loo", "random", "time-cut", "cold-items", "cold-users")
PROTOCOLS = ("full", "sampled", "profile-cut", "one-of-a-kind")
# The split each protocol is defined on, when none is named.
PROTOCOL_SPLITS = {"profile-cut": "temporal-loo", "one-of-a-kind": "time-cut"}


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


def make_split(data: BenchmarkData, split: str, seed: int) -> Split:
    if split == "given":
        if data.train is None or data.test is None:
            raise ValueError(f"{data.name}: the given split needs train.csv and test.csv")
        empty = data.train.select(np.zeros(len(data.train), dtype=bool))
        return Split(train=data.train, valid=data.valid or empty, test=data.test)
    source = data.interactions
    if source is None:
        if data.train is None:
            raise ValueError(f"{data.name} has no interactions to split")
        parts = [p for p in (data.train, data.valid, data.test) if p is not None]
        source = _concatenate(parts)
    if split == "temporal-loo":
        return temporal_leave_last_out(source)
    if split == "random":
        return random_ratio_split(source, seed=seed)
    if split == "time-cut":
        return time_cut_split(source)
    if split == "cold-items":
        return cold_start_items_split(source, valid_share=0.1, seed=seed)
    if split == "cold-users":
        return cold_start_users_split(source, valid_share=0.1, seed=seed)
    raise ValueError(f"split must be one of {SPLITS}, not {split!r}")


def _concatenate(parts: list[Interactions]) -> Interactions:
    def join(name):
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else np.concatenate(values)

    first = parts[0]
    return Interactions(
        user_ids=first.user_ids,
        item_ids=first.item_ids,
        users=np.concatenate([p.users for p in parts]),
        items=np.concatenate([p.items for p in parts]),
        timestamps=join("timestamps"),
        ratings=join("ratings"),
        item_features=first.item_features,
        item_attributes=first.item_attributes,
        attribute_names=first.attribute_names,
    )


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


def prepare(
    data: BenchmarkData,
    *,
    split: str,
    protocol: str,
    sampled: int | None,
    negative_strategy: str,
    seed: int,
) -> Setup:
    parts = make_split(data, split, seed)
    carved = len(parts.valid) == 0
    if carved:
        tune_train, tune_valid = carve_validation(parts.train, seed)
    else:
        tune_train, tune_valid = parts.train, parts.valid
    negatives = tune_negatives = None
    if protocol == "sampled":
        known = [p for p in (parts.train, parts.valid, parts.test, parts.fold_in) if p is not None]
        popularity = parts.train.item_popularity()
        if sampled is None and data.negatives is not None and split == "given":
            negatives = data.negatives
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
    elif protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
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
    )


def model_name(label: str) -> str:
    """ "curatornet@guided" -> "curatornet": a label runs one model in a named setting."""
    return label.split("@", 1)[0]


def grid_points(name: str, fixed: dict[str, Any], use_grid: bool) -> list[dict[str, Any]]:
    """Hyperparameter settings to try: the model's grid (minus what was fixed) or one."""
    grid = model_info(model_name(name))["grid"] if use_grid else {}
    grid = {key: values for key, values in grid.items() if key not in fixed}
    if not grid:
        return [dict(fixed)]
    keys = list(grid)
    return [
        {**fixed, **dict(zip(keys, combo, strict=True))}
        for combo in itertools.product(*grid.values())
    ]


class _Bar:
    """A tqdm bar fed by the engine's callback(fraction, message, **details)."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=1000, desc=label, leave=False, file=sys.stderr)

    def __call__(self, fraction: float, message: str = "", **details: Any) -> None:
        if self.bar is not None:
            self.bar.update(max(0, round(1000 * fraction) - self.bar.n))
            self.bar.set_postfix_str(message[:50], refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _fit(name: str, params: dict, train, valid, label: str, quiet: bool):
    bar = _Bar(label, quiet)
    try:
        model = create_model(model_name(name), **params)
        started = time.perf_counter()
        model.fit(train, valid=valid, callback=bar)
        return model, time.perf_counter() - started
    finally:
        bar.close()


def _evaluate(model, setup: Setup, train, test, negatives, ks, metrics, fold_in=None):
    """Tuning evaluates with the standard protocol (full or sampled); the final test uses
    the protocol asked for."""
    return evaluate(
        model, train, test, ks=ks, negatives=negatives, metrics=metrics, fold_in=fold_in
    )


def _evaluate_final(model, setup: Setup, ks, metrics) -> EvaluationResult:
    if getattr(model, "sequential", False) and len(setup.tune_valid) and not setup.valid_carved:
        # Next-item protocol: the test item follows the whole history, validation item
        # included; the model reads it as a profile (it trained on train only).
        history = _concatenate([setup.train, setup.tune_valid])
        return evaluate(
            model,
            setup.train,
            setup.test,
            ks=ks,
            negatives=setup.negatives,
            metrics=metrics,
            fold_in=history,
        )
    if setup.protocol == "profile-cut":
        return evaluate_profile_cut(model, setup.train, setup.test, ks=ks)
    if setup.protocol == "one-of-a-kind":
        return evaluate_one_of_a_kind(model, setup.train, setup.test, setup.listed_at, ks=ks)
    return _evaluate(
        model, setup, setup.train, setup.test, setup.negatives, ks, metrics, setup.fold_in
    )


def run_model(
    name: str,
    fixed: dict[str, Any],
    setup: Setup,
    *,
    ks: tuple[int, ...],
    metrics: tuple[str, ...] | None,
    use_grid: bool,
    select: str,
    quiet: bool = False,
    validate: bool = True,
) -> tuple[dict[str, Any], EvaluationResult]:
    """Tune (optionally), fit and evaluate one model; returns its JSON row and result."""
    missing = [
        need for need in model_info(model_name(name))["needs"] if getattr(setup.train, need) is None
    ]
    if missing:
        reason = f"needs {', '.join(missing)}, which this dataset does not have"
        return {"model": name, "hyperparameters": fixed, "error": reason}, None
    gradient = isinstance(create_model(model_name(name)), GradientRecommender)
    points = grid_points(name, fixed, use_grid)
    tried = []
    best = None
    if not validate:
        points = points[:1]  # fixed settings, fitted once on all of train
    if validate and (len(points) > 1 or (gradient and setup.valid_carved)):
        for n, params in enumerate(points, start=1):
            model, seconds = _fit(
                name, params, setup.tune_train, setup.tune_valid, f"{name} tune {n}", quiet
            )
            result = _evaluate(
                model,
                setup,
                setup.tune_train,
                setup.tune_valid,
                setup.tune_negatives,
                ks,
                (select.split("@")[0],),
                fold_in=None,
            )
            value = result.metrics.get(select, float("nan"))
            row = {"hyperparameters": params, select: value, "fit_seconds": round(seconds, 2)}
            if gradient:
                row["best_epoch"] = model.best_epoch_
            tried.append(row)
            if best is None or value > best[0]:
                best = (value, params, getattr(model, "best_epoch_", None))
            del model
    chosen = dict(best[1]) if best else dict(points[0])
    final_valid = None if setup.valid_carved or not validate else setup.tune_valid
    if gradient and setup.valid_carved and best is not None and best[2]:
        chosen["epochs"] = int(best[2])  # the epoch count validation chose
    with PeakMemory() as fit_memory:
        model, fit_seconds = _fit(name, chosen, setup.train, final_valid, name, quiet)
    try:
        with PeakMemory() as eval_memory:
            result = _evaluate_final(model, setup, ks, metrics)
    except NotImplementedError as error:
        return {
            "model": name,
            "hyperparameters": model.hyperparameters,
            "error": str(error),
        }, None
    row = {
        "model": name,
        "hyperparameters": model.hyperparameters,
        "metrics": {k: round(v, 6) for k, v in result.metrics.items()},
        "fit_seconds": round(fit_seconds, 3),
        "eval_seconds": round(result.seconds, 3),
        "peak_memory_mb": round(max(fit_memory.peak, eval_memory.peak) / 2**20, 1),
        "eval_peak_memory_mb": round(eval_memory.peak / 2**20, 1),
        "test_users": result.n_users,
    }
    if result.note:
        row["profile"] = result.note
    if tried:
        row["tuning"] = {"selected_by": f"{select} on validation", "tried": tried}
    if gradient:
        row["epochs_run"] = len(model.history_)
        row["best_epoch"] = model.best_epoch_
        seconds = [epoch["seconds"] for epoch in model.history_]
        row["epoch_seconds"] = round(float(np.mean(seconds)), 3) if seconds else None
    return row, result


def _table(rows: list[dict], keys: list[str]) -> str:
    shown = [k for k in keys if any(k in r.get("metrics", {}) for r in rows)]
    header = ["model"] + shown + ["fit s", "eval s", "peak MB"]
    lines = [header]
    for r in rows:
        if "error" in r:
            lines.append([r["model"], "n/a: " + r["error"][:60]])
            continue
        lines.append(
            [r["model"]]
            + [f"{r['metrics'].get(k, float('nan')):.4f}" for k in shown]
            + [f"{r['fit_seconds']:.1f}", f"{r['eval_seconds']:.1f}", f"{r['peak_memory_mb']:.0f}"]
        )
    widths = [max(len(str(line[i])) for line in lines if i < len(line)) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            str(cell).rjust(widths[i]) if i else str(cell).ljust(widths[i])
            for i, cell in enumerate(line)
        )
        for line in lines
    )


def run(args, data: BenchmarkData | None = None) -> dict[str, Any]:
    """Run the benchmark ``args`` describe (see __main__); ``data`` replaces --data, e.g.
    a gallery read from the site's database."""
    ks = tuple(int(k) for k in args.k.split(","))
    select = args.select or f"NDCG@{ks[0]}"
    metrics = tuple(args.metrics.split(",")) if args.metrics else None
    fixed_by_model = json.loads(args.params) if args.params else {}
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for name in names:
        model_info(model_name(name))  # unknown names fail before any work
    data = data if data is not None else load_benchmark(args.data)
    split = args.split or PROTOCOL_SPLITS.get(
        args.protocol, "given" if data.test is not None else "temporal-loo"
    )
    setup = prepare(
        data,
        split=split,
        protocol=args.protocol,
        sampled=args.sampled,
        negative_strategy=args.negatives,
        seed=args.seed,
    )
    rows, results = [], {}
    for name in names:
        row, result = run_model(
            name,
            fixed_by_model.get(name, {}),
            setup,
            ks=ks,
            metrics=metrics,
            use_grid=args.grid,
            validate=not getattr(args, "no_validation", False),
            select=select,
            quiet=args.quiet,
        )
        rows.append(row)
        if result is not None:
            results[name] = result
        if not args.quiet and "metrics" in row:
            summary = ", ".join(f"{k} {v:.4f}" for k, v in row["metrics"].items() if "@" in k)
            print(f"{name}: {summary[:160]}", file=sys.stderr)
    keys = list(dict.fromkeys(k for r in rows for k in r.get("metrics", {})))
    print(_table(rows, keys))
    tests = []
    ranked = sorted(results, key=lambda n: -results[n].metrics.get(select, -np.inf))
    if len(ranked) > 1:
        best = ranked[0]
        candidates = (select, f"nDCG@{ks[0]}", "AUC")
        base_key = next((k for k in candidates if k in results[best].per_user), None)
        for other in ranked[1:]:
            if base_key is None or base_key not in results[other].per_user:
                continue
            a, b = results[best], results[other]
            test = paired_test(
                a.users, a.per_user[base_key], b.users, b.per_user[base_key], metric=base_key
            )
            tests.append({"a": best, "b": other, **test.as_dict()})
            print(
                f"{best} vs {other} on {base_key}: diff {test.mean_difference:+.4f}, "
                f"Wilcoxon p={test.wilcoxon_p:.2g}, paired t p={test.t_p:.2g}"
            )
    catalogue = data.catalogue
    report = {
        "dataset": data.name,
        "data_dir": str(Path(args.data)) if getattr(args, "data", None) else data.name,
        "split": split,
        "protocol": args.protocol,
        "negatives": (
            "negatives.csv"
            if setup.negatives is data.negatives and data.negatives is not None
            else (
                f"{setup.negatives.width} {args.negatives}, seed {args.seed}"
                if setup.negatives is not None
                else None
            )
        ),
        "k": list(ks),
        "seed": args.seed,
        "selected_by": select,
        "users": catalogue.n_users,
        "items": catalogue.n_items,
        "train_interactions": len(setup.train),
        "test_interactions": len(setup.test),
        "command": getattr(args, "command_line", None)
        or "python -m recengine " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "models": rows,
        "paired_tests": tests,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    if args.per_user:
        np.savez_compressed(
            args.per_user,
            **{
                f"{name}/{key}": values
                for name, result in results.items()
                for key, values in result.per_user.items()
            },
            **{f"{name}/users": result.users for name, result in results.items()},
        )
    return report
