"""Command line: `python -m recengine bench ...`, `python -m recengine models`."""

from __future__ import annotations

import argparse
import json
import sys

from .bench_setup import PROTOCOLS, SPLITS
from .evaluation import METRICS
from .sampling import STRATEGIES


def add_bench_arguments(bench: argparse.ArgumentParser) -> None:
    """The benchmark's options, shared by `python -m recengine bench` and the site's
    `manage.py bench_gallery`."""
    bench.add_argument("--models", required=True, help="comma-separated model names")
    bench.add_argument("--protocol", choices=PROTOCOLS, default="full")
    bench.add_argument(
        "--split",
        choices=SPLITS,
        help="default: given when test.csv exists, else temporal-loo (one-of-a-kind: "
        "purchase-time)",
    )
    bench.add_argument("--k", default="10,20", help="cut-offs, e.g. 10,20")
    bench.add_argument(
        "--sampled", type=int, help="draw N negatives per user (default: negatives.csv)"
    )
    bench.add_argument("--negatives", choices=STRATEGIES, default="uniform")
    bench.add_argument("--metrics", help=f"comma-separated subset of {', '.join(METRICS)}")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--grid", action="store_true", help="tune each model's grid on validation")
    bench.add_argument(
        "--no-validation",
        action="store_true",
        help="fit once on all of train with the given settings: no tuning, no early stopping",
    )
    bench.add_argument(
        "--refit-with-valid",
        action="store_true",
        help="fit the final model on train and the split's validation events (settings and "
        "epochs chosen on validation first); recorded in the JSON",
    )
    bench.add_argument(
        "--select", help="canonical metric the best setting and model are chosen by (NDCG@k)"
    )
    bench.add_argument(
        "--target-kinds",
        default="purchase",
        help="one-of-a-kind: the event kinds ranked (comma-separated; default purchase)",
    )
    bench.add_argument(
        "--profile-kinds", help="one-of-a-kind: event kinds that form profiles (default: all)"
    )
    bench.add_argument("--params", help='fixed hyperparameters, JSON: {"ease": {"l2": 300}}')
    bench.add_argument("--out", help="write the results as JSON here")
    bench.add_argument("--per-user", help="write per-row metric values and keys (.npz) here")
    bench.add_argument("--quiet", action="store_true", help="no progress bars")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recengine", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("models", help="list the registered models and their defaults")

    bench = commands.add_parser("bench", help="fit and evaluate models on a benchmark directory")
    bench.add_argument("--data", required=True, help="directory with train.csv / test.csv ...")
    add_bench_arguments(bench)

    ease = commands.add_parser(
        "bench-ease", help="EASE's fit time against plain float32 inversions of that size"
    )
    ease.add_argument("--data", required=True)
    ease.add_argument("--l2", type=float, default=500.0)
    ease.add_argument("--repeat", type=int, default=1)
    ease.add_argument("--out")

    extract = commands.add_parser(
        "bench-extract", help="feature-extraction throughput against the bare forward pass"
    )
    extract.add_argument("--backbone", default="resnet50")
    extract.add_argument("--images", type=int, default=256)
    extract.add_argument("--batch-size", type=int, default=32)
    extract.add_argument("--image-size", type=int, default=224)
    extract.add_argument("--workers", type=int, help="DataLoader workers (default: automatic)")
    extract.add_argument("--repeat", type=int, default=2)
    extract.add_argument("--out")

    serving = commands.add_parser("bench-serving", help="top-k latency from the faiss index")
    serving.add_argument("--sizes", default="10000,100000,1000000")
    serving.add_argument("--queries", type=int, default=1000)
    serving.add_argument("--k", type=int, default=20)
    serving.add_argument("--dim", type=int, default=64)
    serving.add_argument("--index", choices=("auto", "flat", "hnsw"), default="auto")
    serving.add_argument("--available", type=float, default=0.5, help="share of unsold works")
    serving.add_argument("--out")

    search = commands.add_parser(
        "bench-search", help="search by photo: describing one image, then the index search"
    )
    search.add_argument("--sizes", default="10000,100000")
    search.add_argument(
        "--dims", help="vector sizes searched (default: 1280 for EfficientNet-Lite0, handcrafted's)"
    )
    search.add_argument(
        "--extractors",
        help="default: handcrafted, test_efficientnet and tf_efficientnet_lite0 (random init)",
    )
    search.add_argument("--queries", type=int, default=200)
    search.add_argument("--k", type=int, default=24, help="results shown (the page's 24)")
    search.add_argument("--kinds", default="flat,auto", help="index kinds: flat, auto, hnsw")
    search.add_argument("--available", type=float, default=0.5, help="share of unsold works")
    search.add_argument("--image", help="photo to describe (default: skimage's coffee.png)")
    search.add_argument("--out")

    seeds = commands.add_parser("seeds", help="one benchmark over several seeds: mean, spread")
    seeds.add_argument("files", nargs="+", help="one JSON per seed (rows in NAME-rows.npz)")
    seeds.add_argument("--metric", default="NDCG@20", help="canonical metric of the tests")
    seeds.add_argument("--pairs", help="a:b,c:d model pairs to test on each seed")
    seeds.add_argument("--out")

    merge = commands.add_parser(
        "merge", help="one seed's runs on different features as one file (models renamed)"
    )
    merge.add_argument("out", help="merged JSON (rows beside it as OUT-rows.npz)")
    merge.add_argument("parts", nargs="+", help="RUN.json=tag, e.g. gallery-cold-s0.json=hand")

    weights = commands.add_parser(
        "weights", help="convert installed pretrained weights into the weights folder"
    )
    weights.add_argument("--dir", help="weights folder (default: VITRINE_WEIGHTS_DIR, var/weights)")
    weights.add_argument("--force", action="store_true", help="convert again, replacing the file")

    report = commands.add_parser("report", help="benchmark JSON files as Markdown tables")
    report.add_argument("files", nargs="+")
    report.add_argument("--metrics", help="comma-separated metric keys to show")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "models":
        from .models import list_models, model_info

        for name in list_models():
            info = model_info(name)
            needs = f" (needs {', '.join(info['needs'])})" if info["needs"] else ""
            print(f"{name}{needs}: {info['description']}")
            print(f"    defaults {json.dumps(info['defaults'])}")
        return 0
    try:
        if args.command == "merge":
            from .bench_merge import run as run_merge

            run_merge(args.out, args.parts)
            return 0
        if args.command == "weights":
            from .features.pretrained import INSTALLED, weights_install

            for name, entry in INSTALLED.items():
                print(f"{entry.label}: {weights_install(name, args.dir, force=args.force)}")
            return 0
        if args.command == "report":
            from .report import run as run_report

            run_report(args.files, args.metrics.split(",") if args.metrics else None)
            return 0
        if args.command == "seeds":
            from .bench_seeds import run as run_seeds

            run_seeds(args.files, args.metric, args.pairs, args.out)
            return 0
        if args.command == "bench-serving":
            from .bench_serving import run as run_serving

            run_serving(
                [int(n) for n in args.sizes.split(",")],
                args.queries,
                args.k,
                args.dim,
                args.index,
                args.available,
                args.out,
            )
            return 0
        if args.command == "bench-search":
            from .bench_search import run as run_search

            run_search(
                [int(n) for n in args.sizes.split(",")],
                [int(d) for d in args.dims.split(",")] if args.dims else None,
                args.extractors.split(",") if args.extractors else None,
                args.queries,
                args.k,
                args.kinds.split(","),
                args.available,
                args.image,
                args.out,
            )
            return 0
        if args.command == "bench-extract":
            from .bench_extract import run as run_extract

            run_extract(
                args.backbone,
                args.images,
                args.batch_size,
                args.image_size,
                args.workers,
                args.repeat,
                args.out,
            )
            return 0
        if args.command == "bench-ease":
            from .bench_ease import run as run_ease

            run_ease(args.data, args.l2, args.repeat, args.out)
            return 0
        from .bench import run

        run(args)
    except (ValueError, MemoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
