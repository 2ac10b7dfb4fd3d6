"""How fast is Vitrine's full-ranking evaluation? Against implicit's recommend, same factors.

    uv run --frozen python -m recengine.bench_eval --dataset gowalla

Both sides get the same 64-factor user and item factors (a few iterations of Vitrine's
WMF, or seeded random normal factors with --factors random) and rank every item for
every test user with a held-out item outside train, train items excluded:

  Vitrine: recengine.evaluation.evaluate with every metric full ranking reports by
      default (HR, Recall, Precision, NDCG, MAP at each k, MRR over the whole ranking,
      Coverage, Novelty);
  implicit (when `import implicit` works): recommend(user_items=..., N=max k,
      filter_already_liked_items=True), plus Recall and NDCG at max k computed here from
      its lists, the only metrics its lists allow without ranking further.

The two are timed alternately in one process (so a noisy neighbour hurts both) and the
minimum of --repeat runs is kept; the ratio is Vitrine's over implicit's recommend plus
its metrics. Results go to docs/results/eval-speed.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from .datasets import load_benchmark
from .evaluation import evaluate

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
OUT = Path(__file__).resolve().parent.parent / "docs" / "results" / "eval-speed.json"


class FactorScores:
    """A fitted factor model reduced to its scores, so both sides use the same numbers."""

    name = "factors"

    def __init__(self, users: np.ndarray, items: np.ndarray) -> None:
        self.users, self.items = users, items

    def score(self, users: np.ndarray, items=None) -> np.ndarray:
        return self.users[users] @ self.items.T


def factors(train, source: str, n_factors: int, iterations: int, seed: int):
    """(user factors, item factors, seconds to fit, description), float32 C-contiguous."""
    started = time.perf_counter()
    if source == "random":
        rng = np.random.default_rng(seed)
        users = rng.normal(0.0, 0.1, size=(train.n_users, n_factors))
        items = rng.normal(0.0, 0.1, size=(train.n_items, n_factors))
        label = f"random normal (sd 0.1, seed {seed})"
    else:
        from .models import create_model

        model = create_model(
            "wmf", factors=n_factors, iterations=iterations, seed=seed, device="cpu"
        ).fit(train)
        users, items = model.user_factors, model.item_factors
        label = f"Vitrine WMF, {iterations} ALS iterations (seed {seed})"
    users = np.ascontiguousarray(users, dtype=np.float32)
    items = np.ascontiguousarray(items, dtype=np.float32)
    return users, items, time.perf_counter() - started, label


def list_metrics(ids: np.ndarray, relevant: sp.csr_matrix, k: int) -> dict[str, float]:
    """Recall@k and NDCG@k (the protocol's definitions) from ranked lists, one per row of
    ``relevant`` (the rows' held-out items outside train)."""
    ids = np.asarray(ids[:, :k], dtype=np.int64)
    n_rows, n_items = relevant.shape
    keys = np.repeat(np.arange(n_rows), np.diff(relevant.indptr)) * n_items + relevant.indices
    hits = np.isin(np.arange(n_rows)[:, None] * n_items + ids, keys) & (ids >= 0)
    n_relevant = np.diff(relevant.indptr)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    return {
        f"Recall@{k}": float(np.mean(hits.sum(axis=1) / n_relevant)),
        f"NDCG@{k}": float(np.mean((hits * discounts).sum(axis=1) / ideal)),
    }


def _implicit_model(users: np.ndarray, items: np.ndarray):
    """implicit's CPU ALS model holding the given factors, or None without implicit."""
    try:
        import implicit
        from implicit.cpu.als import AlternatingLeastSquares
    except ImportError:
        return None, None
    with warnings.catch_warnings():  # its BLAS-threads advice is about fitting, not here
        warnings.simplefilter("ignore")
        model = AlternatingLeastSquares(factors=users.shape[1], random_state=0)
    model.user_factors, model.item_factors = users, items
    return model, implicit.__version__


def _timed(function) -> tuple[float, object]:
    gc.collect()
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def run(args: argparse.Namespace) -> dict:
    data = load_benchmark(Path(args.data) / args.dataset)
    train, test = data.train, data.test
    ks = tuple(sorted(int(k) for k in args.k.split(",")))
    users, items, fit_s, label = factors(train, args.factors, 64, args.iterations, args.seed)
    scorer = FactorScores(users, items)
    seen = sp.csr_matrix(train.matrix())
    relevant = test.matrix()
    relevant = sp.csr_matrix(relevant - relevant.multiply(seen > 0))
    relevant.eliminate_zeros()
    test_users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    peer, peer_version = _implicit_model(users, items)

    def vitrine():
        return evaluate(scorer, train, test, ks=ks)

    # Sliced once, outside the timing: the peer is handed its inputs ready.
    user_items, relevant_rows = seen[test_users], relevant[test_users]

    def implicit_recommend():
        return peer.recommend(
            test_users, user_items=user_items, N=max(ks), filter_already_liked_items=True
        )[0]

    seconds: dict[str, list[float]] = {"vitrine": [], "implicit_recommend": []}
    seconds["implicit_metrics"] = []
    for _ in range(args.repeat):  # alternately, so a noisy neighbour hurts both sides
        elapsed, result = _timed(vitrine)
        seconds["vitrine"].append(elapsed)
        if peer is not None:
            elapsed, ids = _timed(implicit_recommend)
            seconds["implicit_recommend"].append(elapsed)
            elapsed, peer_metrics = _timed(partial(list_metrics, ids, relevant_rows, max(ks)))
            seconds["implicit_metrics"].append(elapsed)
    report = {
        "dataset": args.dataset,
        "users": int(result.n_users),
        "items": int(train.n_items),
        "factors": 64,
        "factors_from": label,
        "fit_s": fit_s,
        "ks": list(ks),
        "repeat": args.repeat,
        "threads": {"torch": torch.get_num_threads(), "cpus": os.cpu_count()},
        "vitrine_s": min(seconds["vitrine"]),
        "vitrine_metrics": result.metrics,
        "all_seconds": {name: values for name, values in seconds.items() if values},
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "platform": platform.platform(),
        },
    }
    if peer is not None:
        # the best recommend plus the best metric pass: each side's best, as for Vitrine
        best = min(seconds["implicit_recommend"]) + min(seconds["implicit_metrics"])
        report.update(
            {
                "implicit_version": peer_version,
                "implicit_recommend_s": min(seconds["implicit_recommend"]),
                "implicit_with_metrics_s": best,
                "implicit_metrics": peer_metrics,
                "ratio": report["vitrine_s"] / best,
                "ratio_to_recommend_alone": report["vitrine_s"]
                / min(seconds["implicit_recommend"]),
            }
        )
    return report


def _table(report: dict) -> str:
    k = max(report["ks"])
    lines = [
        f"{report['dataset']}: {report['users']} test users x {report['items']} items, "
        f"64 factors from {report['factors_from']}; min of {report['repeat']} runs",
        f"{'':44s}{'seconds':>9s}{f'Recall@{k}':>11s}{f'NDCG@{k}':>10s}",
        f"{'Vitrine evaluate (every metric)':44s}{report['vitrine_s']:9.2f}"
        f"{report['vitrine_metrics'][f'Recall@{k}']:11.4f}"
        f"{report['vitrine_metrics'][f'NDCG@{k}']:10.4f}",
    ]
    if "ratio" in report:
        peer = report["implicit_metrics"]
        lines += [
            f"{'implicit recommend':44s}{report['implicit_recommend_s']:9.2f}",
            f"{'implicit recommend + Recall/NDCG from lists':44s}"
            f"{report['implicit_with_metrics_s']:9.2f}"
            f"{peer[f'Recall@{k}']:11.4f}{peer[f'NDCG@{k}']:10.4f}",
            f"ratio Vitrine / (implicit + metrics): {report['ratio']:.2f}x "
            f"(to recommend alone {report['ratio_to_recommend_alone']:.2f}x)",
        ]
    else:
        lines.append("implicit is not installed: Vitrine's time alone")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="gowalla")
    parser.add_argument("--data", default=str(DATA), help="folder holding the datasets")
    parser.add_argument("--k", default="10,20", help="cut-offs, as the benchmark's --k")
    parser.add_argument("--factors", choices=("wmf", "random"), default="wmf")
    parser.add_argument("--iterations", type=int, default=3, help="WMF iterations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (>= 1)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    report = run(args)
    print(_table(report))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
