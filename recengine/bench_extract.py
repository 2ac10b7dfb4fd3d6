"""`python -m recengine bench-extract`: is the extraction pipeline the bottleneck?

Times, in one process, on the same backbone, batch size and image size:
  bare     the model's forward pass on ready-made tensors (inference mode), and
  pipeline CNNExtractor.extract on JPEG files: decoding, resizing and normalising in
           DataLoader workers, then the same forward pass.
The ratio pipeline / bare images per second says how much the pipeline costs
(1.0: nothing). The images are generated (random textures at 640 x 480), never
downloaded.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def _write_images(folder: Path, n: int, seed: int) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = []
    for index in range(n):
        base = rng.integers(0, 255, size=(60, 80, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((640, 480), Image.Resampling.BICUBIC)
        path = folder / f"{index}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def run(
    backbone: str,
    n_images: int,
    batch_size: int,
    image_size: int | None,
    num_workers: int | None,
    repeat: int,
    out: str | None,
) -> dict:
    import torch

    from .features.cnn import CNNExtractor

    extractor = CNNExtractor(
        backbone, image_size=image_size, batch_size=batch_size, num_workers=num_workers
    )
    size = extractor.image_size
    batches = [
        torch.randn(min(batch_size, n_images - s), 3, size, size)
        for s in range(0, n_images, batch_size)
    ]

    def bare() -> float:
        started = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                extractor.forward(batch)
        return time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        paths = _write_images(Path(folder), n_images, seed=0)
        extractor.extract(paths[: min(len(paths), batch_size)])  # warm-up: threads, allocator
        bare()

        def pipeline() -> float:
            started = time.perf_counter()
            extractor.extract(paths)
            return time.perf_counter() - started

        timings = {"bare": [], "pipeline": []}
        for _ in range(repeat):  # interleaved: a noisy neighbour slows both alike
            timings["bare"].append(bare())
            timings["pipeline"].append(pipeline())
    best = {name: min(values) for name, values in timings.items()}
    rates = {name: n_images / seconds for name, seconds in best.items()}
    report = {
        "backbone": backbone,
        "weights": extractor.weights.label,
        "device": str(extractor.device),
        "images": n_images,
        "batch_size": batch_size,
        "image_size": size,
        "num_workers": extractor.num_workers,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "repeat": repeat,
        "images_per_second": rates,
        "ratio": rates["pipeline"] / rates["bare"],
        "seconds": timings,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    print(
        f"{backbone} at {size} px, batch {batch_size}, {extractor.num_workers} loader workers, "
        f"{extractor.device}: bare {rates['bare']:.1f} img/s, pipeline "
        f"{rates['pipeline']:.1f} img/s, ratio {report['ratio']:.2f}"
    )
    if out:
        Path(out).write_text(json.dumps(report, indent=2))
    return report
