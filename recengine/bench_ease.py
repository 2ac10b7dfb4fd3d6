"""`python -m recengine bench-ease`: EASE's fit time against plain float32 inversions.

EASE's cost is dominated by inverting an n_items x n_items matrix, so the honest
yardstick is a general-purpose inversion of the same float32 matrix on the same machine,
timed in the same process: numpy.linalg.inv, scipy.linalg.inv and torch.linalg.inv.
"""

from __future__ import annotations

import gc
import json
import platform
import time
from pathlib import Path

import numpy as np

from .datasets import load_benchmark
from .models import create_model
from .models.ease import check_memory, gram_matrix


def _timed(function) -> float:
    gc.collect()
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def run(data_dir: str, l2: float, repeat: int, out: str | None) -> dict:
    train = load_benchmark(data_dir).train
    n = train.n_items
    check_memory(2 * n)  # the matrix and its inverse live side by side here
    matrix = np.zeros((n, n), dtype=np.float32)
    gram_matrix(train.matrix(), matrix)
    matrix[np.diag_indices(n)] += np.float32(l2)

    def numpy_inverse():
        np.linalg.inv(matrix)

    def scipy_inverse():
        import scipy.linalg

        scipy.linalg.inv(matrix, check_finite=False)

    def torch_inverse():
        import torch

        torch.linalg.inv(torch.from_numpy(matrix))

    def ease_fit():
        create_model("ease", l2=l2).fit(train)

    timings: dict[str, list[float]] = {}
    for _ in range(repeat):  # interleaved, so a noisy neighbour hurts every contender
        for name, function in (
            ("ease_fit", ease_fit),
            ("numpy.linalg.inv", numpy_inverse),
            ("scipy.linalg.inv", scipy_inverse),
            ("torch.linalg.inv", torch_inverse),
        ):
            timings.setdefault(name, []).append(_timed(function))
    best = {name: min(values) for name, values in timings.items()}
    ease = best["ease_fit"]
    inversions = {name: seconds for name, seconds in best.items() if name != "ease_fit"}
    fastest = min(inversions, key=inversions.get)
    report = {
        "dataset": Path(data_dir).name,
        "items": n,
        "l2": l2,
        "repeat": repeat,
        "seconds": best,
        "all_seconds": timings,
        "ratio_to_fastest_inversion": ease / inversions[fastest],
        "fastest_inversion": fastest,
        "ratios": {name: ease / seconds for name, seconds in inversions.items()},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    print(f"EASE fit on {n:,} items: {ease:.1f} s")
    for name, seconds in inversions.items():
        print(f"{name:18s} {seconds:7.1f} s   EASE / inversion = {ease / seconds:.2f}")
    if out:
        Path(out).write_text(json.dumps(report, indent=2))
    return report
