"""`python -m recengine bench-serving`: top-20 latency from the faiss item index.

For each catalogue size, random unit item vectors (dim 64, the factor size of the MF
models) go into the index the worker would build (exact up to 50k items, HNSW above; or
the kind asked for), and single-collector queries are timed one at a time, the way the
site asks: top-20 among the available works (a random half, as in a gallery where many
works are sold). Latency is measured per query with perf_counter; p50 and p99 are
reported with the build time.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from .index import ItemIndex


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def run(
    sizes: list[int],
    queries: int,
    k: int,
    dim: int,
    kind: str,
    available: float,
    out: str | None,
    seed: int = 0,
) -> dict:
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        items = _unit(rng, n, dim)
        started = time.perf_counter()
        index = ItemIndex.build(items, kind=kind)
        build = time.perf_counter() - started
        allowed = rng.random(n) < available
        users = _unit(rng, queries, dim)
        index.search(users[:5], k, allowed=allowed)  # warm-up
        latencies = np.empty(queries)
        for q in range(queries):
            started = time.perf_counter()
            index.search(users[q : q + 1], k, allowed=allowed)
            latencies[q] = time.perf_counter() - started
        exact = np.argsort(-(users[:50] @ items.T) + np.where(allowed, 0, np.inf), axis=1)[:, :k]
        found, _ = index.search(users[:50], k, allowed=allowed)
        recall = float(
            np.mean([len(set(a) & set(b)) / k for a, b in zip(found, exact, strict=True)])
        )
        row = {
            "items": n,
            "index": index.kind,
            "build_seconds": round(build, 3),
            "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 3),
            "p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 3),
            "mean_ms": round(float(latencies.mean()) * 1000, 3),
            "recall_at_k_vs_exact": round(recall, 4),
        }
        rows.append(row)
        print(
            f"{n:>9,} items {row['index']:>5}: p50 {row['p50_ms']:.2f} ms, p99 "
            f"{row['p99_ms']:.2f} ms (build {build:.1f} s, recall vs exact {recall:.3f})"
        )
    report = {
        "k": k,
        "dim": dim,
        "queries": queries,
        "available_share": available,
        "rows": rows,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    if out:
        Path(out).write_text(json.dumps(report, indent=2))
    return report
