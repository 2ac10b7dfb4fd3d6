"""One place that decides where tensors live and how runs are seeded."""

from __future__ import annotations

import os
import random

import numpy as np


def resolve_device(name: str | None = "auto"):
    """torch.device for ``name``: "auto" picks CUDA, then Apple's MPS, then the CPU.

    An explicit "cuda" or "mps" that is not available raises instead of silently
    training on the CPU for hours.
    """
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but no CUDA GPU is available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("device 'mps' was asked for but MPS is not available")
    return device


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, numpy and torch (all devices); returns a numpy Generator for the caller."""
    import torch

    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    return np.random.default_rng(seed)
