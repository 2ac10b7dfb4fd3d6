"""`python -m recengine bench`: fit and evaluate models on a benchmark directory.

Hyperparameters are chosen on validation data, never on test: valid.csv when the
directory has one (or the protocol's own validation rows), otherwise one random
training item per user (users with at least 3) carved out of train. Gradient models
early-stop on that validation data; when it was carved out of train, the final model is
refitted on the whole training set for the number of epochs that validation chose.

With ``refit_with_valid`` (``--refit-with-valid``) the final model is fitted on train and
the split's validation events together, as the peers' final runs are: settings and epoch
count are chosen on validation first, then the refit runs that many epochs without
early stopping, and the test ranking excludes the validation items like training ones.
"""

from __future__ import annotations

import itertools
import json
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .bench_setup import PROTOCOL_SPLITS, Setup, prepare
from .cold import fit_without
from .data import concatenate
from .datasets import BenchmarkData, load_benchmark
from .evaluation import EvaluationResult, evaluate, metric_name_check
from .memory import PeakMemory
from .models import create_model, model_info
from .models.gradient import GradientRecommender
from .protocols import evaluate_one_of_a_kind, evaluate_profile_cut
from .stats import paired_test


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


def _fit(name: str, params: dict, train, valid, label: str, quiet: bool, unseen=None):
    """(fitted model, seconds). With ``unseen`` ((n_items,) bool), those works are kept out
    of the training catalogue and added through the model's cold path afterwards."""
    bar = _Bar(label, quiet)
    try:
        model = create_model(model_name(name), **params)
        started = time.perf_counter()
        if unseen is None:
            model.fit(train, valid=valid, callback=bar)
        else:
            model = fit_without(model, train, unseen, callback=bar)
        return model, time.perf_counter() - started
    finally:
        bar.close()


def _evaluate(model, train, test, negatives, ks, metrics):
    """Tuning evaluates with the standard protocol (full or sampled)."""
    return evaluate(model, train, test, ks=ks, negatives=negatives, metrics=metrics)


def _evaluate_final(model, setup: Setup, ks, metrics, train=None) -> EvaluationResult:
    """The final test, with the protocol asked for. ``train``: what the final model was
    fitted on, when more than ``setup.train`` (the validation events too): its items are
    excluded from the ranking and form the profiles."""
    train = setup.train if train is None else train
    if setup.protocol == "one-of-a-kind":
        return evaluate_one_of_a_kind(
            model,
            setup.test,
            setup.history,
            listed_at=setup.listed_at,
            sold_at=setup.sold_at,
            profile_kinds=setup.profile_kinds,
            ks=ks,
        )
    if setup.protocol == "profile-cut":
        return evaluate_profile_cut(model, train, setup.test, ks=ks)
    fold_in, known_users = setup.fold_in, False
    if getattr(model, "sequential", False) and len(setup.tune_valid) and not setup.valid_carved:
        # Next-item protocol: the test item follows the whole history, validation item
        # included; the model reads it with its trained user parameters.
        fold_in, known_users = concatenate([setup.train, setup.tune_valid]), True
    return evaluate(
        model,
        train,
        setup.test,
        ks=ks,
        negatives=setup.negatives,
        metrics=metrics,
        fold_in=fold_in,
        known_users=known_users,
    )


def _tuning_parts(setup: Setup, refit_with_valid: bool = False):
    """(train, valid, unseen works) of a tuning fit and (train, valid, unseen) of the final
    fit. Cold-start works are out of every training catalogue: validation works too while
    tuning; the final fit learns from the validation works' events (they were only held
    out to tune on) and sees the test works only through the cold path."""
    if setup.test_items is None:
        final = concatenate([setup.train, setup.tune_valid]) if refit_with_valid else setup.train
        return (setup.tune_train, setup.tune_valid, None), (final, None, None)
    tune = (setup.tune_train, setup.tune_valid, setup.test_items | setup.valid_items)
    final = concatenate([setup.train, setup.tune_valid])
    return tune, (final, None, setup.test_items)


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
    refit_with_valid: bool = False,
) -> tuple[dict[str, Any], EvaluationResult]:
    """Tune (optionally), fit and evaluate one model; returns its JSON row and result.
    ``refit_with_valid``: the final fit learns from train and validation (module doc)."""
    info = model_info(model_name(name))
    missing = [need for need in info["needs"] if getattr(setup.train, need) is None]
    if missing:
        reason = f"needs {', '.join(missing)}, which this dataset does not have"
        return {"model": name, "hyperparameters": fixed, "error": reason}, None
    gradient = isinstance(create_model(model_name(name)), GradientRecommender)
    points = grid_points(name, fixed, use_grid)
    cold = setup.test_items is not None
    refit = setup.refits_with_valid(refit_with_valid)
    # Both a carved validation and a refit leave the final fit without validation data:
    # validation runs first, on the tuning fits, and chooses the epoch count.
    tune_first = setup.valid_carved or refit
    (tune_train, tune_valid, tune_unseen), (final_train, _, final_unseen) = _tuning_parts(
        setup, refit
    )
    tried = []
    best = None
    if not validate:
        points = points[:1]  # fixed settings, fitted once on all of train
    # Early stopping needs a validation pass per epoch; in a cold split the validation
    # works are outside the catalogue while training, so gradient models run their epochs.
    early_stop = gradient and not cold
    try:
        if validate and (len(points) > 1 or (early_stop and tune_first)):
            for n, params in enumerate(points, start=1):
                model, seconds = _fit(
                    name,
                    params,
                    tune_train,
                    None if cold else tune_valid,
                    f"{name} tune {n}",
                    quiet,
                    unseen=tune_unseen,
                )
                result = _evaluate(
                    model, tune_train, tune_valid, setup.tune_negatives, ks,
                    (select.split("@")[0],),
                )  # fmt: skip
                value = result.metrics.get(select, float("nan"))
                row = {"hyperparameters": params, select: value, "fit_seconds": round(seconds, 2)}
                if early_stop:
                    row["best_epoch"] = model.best_epoch_
                tried.append(row)
                if best is None or value > best[0]:
                    best = (value, params, getattr(model, "best_epoch_", None))
                del model
        chosen = dict(best[1]) if best else dict(points[0])
        final_valid = None if tune_first or not validate or cold else setup.tune_valid
        if early_stop and tune_first and best is not None and best[2]:
            chosen["epochs"] = int(best[2])  # the epoch count validation chose
        with PeakMemory() as fit_memory:
            model, fit_seconds = _fit(
                name, chosen, final_train, final_valid, name, quiet, unseen=final_unseen
            )
        with PeakMemory() as eval_memory:
            result = _evaluate_final(model, setup, ks, metrics, None if cold else final_train)
    except NotImplementedError as error:
        return {"model": name, "hyperparameters": fixed, "error": str(error)}, None
    result.snapshot = setup.snapshot
    row = {
        "model": name,
        "hyperparameters": model.hyperparameters,
        "metrics": {k: round(v, 6) for k, v in result.metrics.items()},
        "fit_seconds": round(fit_seconds, 3),
        "final_fit_rows": len(final_train),
        "eval_seconds": round(result.seconds, 3),
        "peak_memory_mb": round(max(fit_memory.peak, eval_memory.peak) / 2**20, 1),
        "eval_peak_memory_mb": round(eval_memory.peak / 2**20, 1),
        "test_users": int(len(np.unique(result.users))),
        "test_rows": result.n_users,
        "unit": result.unit,
    }
    if info["reference"]:
        row["reference"] = info["reference"]
    if result.note:
        row["profile"] = result.note
    if result.diagnostics:
        row["diagnostics"] = result.diagnostics
    if cold:
        row["cold_path"] = "trained without the test works; they were added by add_items"
    if tried:
        row["tuning"] = {"selected_by": f"{select} on validation", "tried": tried}
    if getattr(model, "sampling_shares_", None):
        row["sampling_shares"] = model.sampling_shares_
    if gradient:
        row["epochs_run"] = len(model.history_)
        row["best_epoch"] = model.best_epoch_
        seconds = [epoch["seconds"] for epoch in model.history_]
        row["epoch_seconds"] = round(float(np.mean(seconds)), 3) if seconds else None
        row["epoch_seconds_median"] = round(float(np.median(seconds)), 3) if seconds else None
        row["epoch_seconds_min"] = round(float(np.min(seconds)), 3) if seconds else None
    return row, result


def _label(row: dict) -> str:
    return f"{row['model']} ({row['reference']})" if row.get("reference") else row["model"]


def _table(rows: list[dict], keys: list[str]) -> str:
    shown = [k for k in keys if any(k in r.get("metrics", {}) for r in rows)]
    header = ["model"] + shown + ["fit s", "eval s", "peak MB"]
    lines = [header]
    for r in rows:
        if "error" in r:
            lines.append([r["model"], "n/a: " + r["error"][:60]])
            continue
        lines.append(
            [_label(r)]
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


def paired_tests(results: dict[str, EvaluationResult], select: str) -> list[dict]:
    """The best method on ``select`` against every other result, paired on events.
    References (the oracle) are compared but never chosen as the best."""
    usable = {n: r for n, r in results.items() if select in r.per_user}
    methods = [n for n in usable if not model_info(model_name(n))["reference"]]
    if not methods or len(usable) < 2:
        return []
    best = max(methods, key=lambda n: (usable[n].metrics.get(select, -np.inf), -methods.index(n)))
    tests = []
    for other in usable:
        if other == best:
            continue
        a, b = usable[best], usable[other]
        try:
            test = paired_test(a.keys(), a.per_user[select], b.keys(), b.per_user[select], select)
        except ValueError as error:
            tests.append({"a": best, "b": other, "metric": select, "error": str(error)})
            continue
        tests.append({"a": best, "b": other, "unit": a.unit, **test.as_dict()})
    return tests


def run(args, data: BenchmarkData | None = None) -> dict[str, Any]:
    """Run the benchmark ``args`` describe (see __main__); ``data`` replaces --data, e.g.
    a gallery read from the site's database."""
    ks = tuple(int(k) for k in args.k.split(","))
    select = metric_name_check(args.select or f"NDCG@{ks[0]}")
    metrics = tuple(args.metrics.split(",")) if args.metrics else None
    fixed_by_model = json.loads(args.params) if args.params else {}
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for name in names:
        model_info(model_name(name))  # unknown names fail before any work
    data = data if data is not None else load_benchmark(args.data)
    split = args.split or PROTOCOL_SPLITS.get(
        args.protocol, "given" if data.test is not None else "temporal-loo"
    )
    kinds = getattr(args, "profile_kinds", None)
    setup = prepare(
        data,
        split=split,
        protocol=args.protocol,
        sampled=args.sampled,
        negative_strategy=args.negatives,
        seed=args.seed,
        target_kinds=tuple((getattr(args, "target_kinds", None) or "purchase").split(",")),
        profile_kinds=tuple(kinds.split(",")) if kinds else None,
    )
    refit_with_valid = bool(getattr(args, "refit_with_valid", False))
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
            refit_with_valid=refit_with_valid,
        )
        rows.append(row)
        if result is not None:
            results[name] = result
        if not args.quiet and "metrics" in row:
            summary = ", ".join(f"{k} {v:.4f}" for k, v in row["metrics"].items() if "@" in k)
            print(f"{name}: {summary[:160]}", file=sys.stderr)
    keys = list(dict.fromkeys(k for r in rows for k in r.get("metrics", {})))
    print(_table(rows, keys))
    tests = paired_tests(results, select)
    for test in tests:
        if "error" in test:
            print(f"{test['a']} vs {test['b']}: no paired test ({test['error']})")
            continue
        print(
            f"{test['a']} vs {test['b']} on {test['metric']}: diff {test['mean_difference']:+.4f}"
            f" over {test['n_pairs']} {test['unit']}, Wilcoxon p={test['wilcoxon_p']:.2g}, "
            f"paired t p={test['t_p']:.2g}"
        )
    catalogue = data.catalogue
    report = {
        "dataset": data.name,
        "snapshot": setup.snapshot,
        "data_dir": str(Path(args.data)) if getattr(args, "data", None) else data.name,
        "split": split,
        "protocol": args.protocol,
        "profile_kinds": list(setup.profile_kinds) if setup.profile_kinds else "all",
        "negatives": (
            "negatives.csv"
            if data.negatives is not None
            and (setup.negatives is data.negatives or setup.negatives_dropped is not None)
            else (
                f"{setup.negatives.width} {args.negatives}, seed {args.seed}"
                if setup.negatives is not None
                else None
            )
        ),
        "refit_with_valid": refit_with_valid,
        "final_fit": (
            setup.final_fit(refit_with_valid)
            if not getattr(args, "no_validation", False)
            else "train (no validation: fixed settings, no tuning, no early stopping)"
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
    if setup.negatives_dropped is not None:
        report["negatives_dropped"] = setup.negatives_dropped  # the users' own items
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    if args.per_user:
        arrays = {}
        for name, result in results.items():
            arrays.update({f"{name}/{key}": v for key, v in result.per_user.items()})
            arrays[f"{name}/keys"] = result.keys()
            arrays[f"{name}/users"] = result.users
        np.savez_compressed(args.per_user, snapshot=np.array(setup.snapshot), **arrays)
    return report
