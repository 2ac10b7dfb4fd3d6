"""Name -> Recommender class registry, and loading saved models through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Recommender, read_saved

_MODELS: dict[str, type[Recommender]] = {}


def register_model(cls: type[Recommender]) -> type[Recommender]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _MODELS and _MODELS[cls.name] is not cls:
        raise ValueError(f"a model named {cls.name!r} is already registered")
    _MODELS[cls.name] = cls
    return cls


def _model_class(name: str) -> type[Recommender]:
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}") from None


def create_model(name: str, **hyperparameters: Any) -> Recommender:
    """A new, unfitted model; unknown hyperparameters raise TypeError."""
    return _model_class(name)(**hyperparameters)


def list_models() -> list[str]:
    return sorted(_MODELS)


def model_info(name: str) -> dict[str, Any]:
    """{"name", "defaults", "needs", "description"} for the UI."""
    cls = _model_class(name)
    return {
        "name": cls.name,
        "defaults": dict(cls.defaults),
        "needs": tuple(cls.needs),
        "description": cls.description,
        "grid": {key: list(values) for key, values in cls.grid.items()},
        "smoke": dict(cls.smoke),
        "reference": cls.reference,
    }


def load_model(path: str | Path) -> Recommender:
    """Rebuild a model saved with ``Recommender.save``; it scores identically."""
    config, weights = read_saved(path)
    model = create_model(config["model"], **config["hyperparameters"])
    model._restore(config, weights)
    return model
