"""A model's test curve: its metric after every few epochs of one uninterrupted run.

    python -m recengine.bench_curve --data ../shared/data/gowalla --model lightgcn \
        --params '{"factors": 64, "layers": 3, "lr": 0.001, "reg": 1e-4, "batch_size": 2048}' \
        --every 5 --budget-minutes 60 --out docs/results/lightgcn-curve.json

The run trains in legs of ``--every`` epochs through the loop's checkpoint (a leg resumes
exactly where the last stopped: weights, optimiser, every random state), and after each
leg the model is scored on the test set. Nothing is selected on these numbers: there is
no validation, no early stopping and no best-epoch restore, so the curve is a reading of
one training run, as the LightGCN authors' curves are. It stops at --epochs or when the
time budget is spent, and the JSON is rewritten after every leg, so a stopped run keeps
what it measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from .datasets import load_benchmark
from .evaluation import evaluate
from .models import create_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recengine.bench_curve")
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--params", default="{}", help="JSON hyperparameters")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--budget-minutes", type=float, default=60.0)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="0: torch's default")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    params = json.loads(args.params)
    why = _not_one_run(create_model(args.model, **params))
    if why:
        parser.error(f"{args.model}: legs would not be one run: {why}")
    data = load_benchmark(args.data)
    started = time.perf_counter()
    points, seconds = [], []
    report = {
        "data": args.data,
        "model": args.model,
        "params": params,
        "metric": f"Recall@{args.k}, NDCG@{args.k} on the test set (full ranking)",
        "selection": "none: no validation, no early stopping, the last epoch is scored",
    }
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = str(Path(folder) / "run.pt")
        done = 0
        while done < args.epochs and time.perf_counter() - started < args.budget_minutes * 60:
            done = min(done + args.every, args.epochs)
            model = create_model(args.model, **{**params, "epochs": done})
            model.checkpoint_path = checkpoint
            model.fit(data.train)
            seconds = [record["seconds"] for record in model.history_]
            result = evaluate(
                model, data.train, data.test, ks=(args.k,), metrics=("Recall", "NDCG")
            )
            points.append({"epoch": done, **result.metrics})
            print(json.dumps(points[-1]), flush=True)
            report.update(
                curve=points,
                epoch_seconds=seconds,
                seconds_per_epoch_median=statistics.median(seconds),
                elapsed_s=time.perf_counter() - started,
            )
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


def _not_one_run(model) -> str | None:
    """Why training this model in legs would not give one run's curve, or None.

    Each leg is a fit with epochs set to the leg's end: what a model plans from its epoch
    count (before the checkpoint is read) would be planned for that leg, not the run."""
    from .models.gradient import GradientRecommender

    if not isinstance(model, GradientRecommender):
        return "it is not trained by the loop, so no checkpoint carries one leg to the next"
    h = model.hyperparameters
    if "total_anneal_steps" in h and h["total_anneal_steps"] is None:
        return "its KL annealing is planned from each leg's epochs; pass total_anneal_steps"
    if h.get("pretrain"):
        return "its pretraining would run for the first leg's epochs; pass pretrain false"
    return None


if __name__ == "__main__":
    raise SystemExit(main())
