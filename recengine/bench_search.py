"""`python -m recengine bench-search`: how long a search by photo takes, in its two parts.

1. Describing the photo: one image through an extractor, the way the site does it (one
   image per call, no DataLoader worker processes), after a few warm-up calls. The
   weight-free ``handcrafted`` extractor, timm's tiny ``test_efficientnet`` and, when it
   is registered, ``tf_efficientnet_lite0`` at random init (random weights cost the same
   time as trained ones), so the benchmark runs offline. Decoding the file is timed apart.
2. The search: one query against an ItemIndex of n random unit vectors, top-k among the
   available works (a random half), for the dimension of EfficientNet-Lite0 (1280) and of
   the handcrafted features; exact (flat) and the kind ItemIndex.build picks for n.

Each is timed per call with perf_counter over ``queries`` calls; median and p95 reported.
"""

from __future__ import annotations

import datetime
import importlib.util
import io
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from .index import HNSW_FROM, ItemIndex

EFFICIENTNET_LITE0_DIM = 1280
LITE0 = "tf_efficientnet_lite0"
WARM_UP = 3


def default_extractors() -> list[str]:
    from .features import list_extractors

    known = list_extractors(include_tests=True)
    return [name for name in ("handcrafted", "test_efficientnet", LITE0) if name in known]


def default_dims() -> list[int]:
    from .features.handcrafted import HandcraftedExtractor

    return [EFFICIENTNET_LITE0_DIM, HandcraftedExtractor.dim]


def _photo_bytes(path: str | None) -> tuple[bytes, str]:
    """The photo to describe: the one given, scikit-image's coffee.png (a 600×400 photo)
    when installed, else a seeded synthetic one."""
    if path:
        return Path(path).read_bytes(), str(path)
    spec = importlib.util.find_spec("skimage")
    if spec is not None and spec.origin:
        coffee = Path(spec.origin).parent / "data" / "coffee.png"
        if coffee.is_file():
            return coffee.read_bytes(), "skimage/data/coffee.png"
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue(), "synthetic 600×400 noise"


def _decode(data: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(data)) as opened:
        return opened.convert("RGB")


def _summary(seconds: np.ndarray) -> dict:
    return {
        "median_ms": round(float(np.median(seconds)) * 1000, 3),
        "p95_ms": round(float(np.percentile(seconds, 95)) * 1000, 3),
    }


def _timed(call, repeats: int) -> np.ndarray:
    for _ in range(WARM_UP):
        call()
    seconds = np.empty(repeats)
    for n in range(repeats):
        started = time.perf_counter()
        call()
        seconds[n] = time.perf_counter() - started
    return seconds


def describe_rows(names: list[str], data: bytes, queries: int) -> list[dict]:
    """Per extractor: build time, output dim, and the time to describe one decoded image."""
    from .features import create_extractor
    from .features.backbones import known_backbones

    image = _decode(data)
    decoding = _timed(lambda: _decode(data), queries)
    rows = [{"step": "decode", "extractor": "PIL open + RGB", **_summary(decoding)}]
    for name in names:
        started = time.perf_counter()
        kwargs = {"weights": None, "num_workers": 0} if name in known_backbones() else {}
        extractor = create_extractor(name, **kwargs)
        build = time.perf_counter() - started
        dim = int(extractor.extract([image]).shape[1])
        rows.append(
            {
                "step": "describe",
                "extractor": name,
                "image_size": getattr(extractor, "image_size", None),
                "dim": dim,
                "build_seconds": round(build, 3),
                **_summary(_timed(lambda e=extractor: e.extract([image]), queries)),
            }
        )
    return rows


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _kind_for(n: int, kind: str) -> str:
    """The index kind ItemIndex.build uses for n items when asked for ``kind``."""
    return ("hnsw" if n >= HNSW_FROM else "flat") if kind == "auto" else kind


def search_rows(
    sizes: list[int], dims: list[int], kinds: list[str], queries: int, k: int, available: float
) -> list[dict]:
    """Per (dim, n, index kind): build time, per-query latency, recall against exact.
    "auto" is timed once under the kind it resolves to (flat below HNSW_FROM items)."""
    rng = np.random.default_rng(0)
    rows = []
    for dim in dims:
        for n in sizes:
            items = _unit(rng, n, dim)
            allowed = rng.random(n) < available
            users = _unit(rng, queries, dim)
            masked = users[:50] @ items.T + np.where(allowed, 0.0, -np.inf).astype(np.float32)
            exact = np.argsort(-masked, axis=1)[:, :k]
            for kind in dict.fromkeys(_kind_for(n, kind) for kind in kinds):
                started = time.perf_counter()
                index = ItemIndex.build(items, kind=kind)
                build = time.perf_counter() - started
                seconds = _timed_queries(index, users, k, allowed)
                found, _ = index.search(users[:50], k, allowed=allowed)
                recall = np.mean(
                    [len(set(a) & set(b)) / k for a, b in zip(found, exact, strict=True)]
                )
                rows.append(
                    {
                        "dim": dim,
                        "items": n,
                        "index": kind,
                        "picked_by_build": kind == _kind_for(n, "auto"),
                        "build_seconds": round(build, 3),
                        **_summary(seconds),
                        "recall_at_k_vs_exact": round(float(recall), 4),
                    }
                )
                del index  # a 100k × 1280 index is half a gigabyte
    return rows


def _timed_queries(index: ItemIndex, users: np.ndarray, k: int, allowed: np.ndarray) -> np.ndarray:
    index.search(users[:WARM_UP], k, allowed=allowed)
    seconds = np.empty(len(users))
    for q in range(len(users)):
        started = time.perf_counter()
        index.search(users[q : q + 1], k, allowed=allowed)
        seconds[q] = time.perf_counter() - started
    return seconds


def _machine() -> dict:
    import faiss

    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        # Other work on the machine slows every row: the 1-minute load when the run ended.
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "faiss_threads": faiss.omp_get_max_threads(),
    }
    try:
        import torch

        machine["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return machine


def _print_tables(report: dict) -> None:
    print(f"Describing one photo ({report['photo']}), {report['queries']} calls:")
    print(f"  {'step':<9} {'extractor':<22} {'dim':>5} {'median ms':>10} {'p95 ms':>9}")
    for row in report["describe"]:
        dim = row.get("dim", "")
        print(
            f"  {row['step']:<9} {row['extractor']:<22} {dim:>5} "
            f"{row['median_ms']:>10.2f} {row['p95_ms']:>9.2f}"
        )
    print(
        f"Index search, top-{report['k']} among {report['available_share']:.0%} available, "
        f"{report['queries']} queries:"
    )
    print(f"  {'dim':>5} {'items':>8} {'index':<6} {'median ms':>10} {'p95 ms':>9} {'build s':>8}")
    for row in report["search"]:
        picked = "  (ItemIndex.build picks it)" if row["picked_by_build"] else ""
        print(
            f"  {row['dim']:>5} {row['items']:>8,} {row['index']:<6} {row['median_ms']:>10.2f} "
            f"{row['p95_ms']:>9.2f} {row['build_seconds']:>8.2f}{picked}"
        )


def run(
    sizes: list[int],
    dims: list[int] | None,
    extractors: list[str] | None,
    queries: int,
    k: int,
    kinds: list[str],
    available: float,
    image: str | None,
    out: str | None,
) -> dict:
    data, photo = _photo_bytes(image)
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2)
        if hasattr(os, "getloadavg")
        else None,
        "photo": photo,
        "queries": queries,
        "k": k,
        "available_share": available,
        "describe": describe_rows(extractors or default_extractors(), data, queries),
        "search": search_rows(sizes, dims or default_dims(), kinds, queries, k, available),
        "machine": _machine(),
    }
    _print_tables(report)
    if out:
        Path(out).write_text(json.dumps(report, indent=2))
    return report
