"""Recommender models; importing this package registers every model."""

# Importing a model's module registers it: one line per model.
from . import (  # noqa: F401
    bpr,
    curatornet,
    dvbpr,
    ease,
    knn,
    mf,
    oracle,
    popularity,
    random_model,
    slim,
    vbpr,
    visrank,
    wmf,
)
from .base import Recommender
from .registry import create_model, list_models, load_model, model_info, register_model

__all__ = [
    "Recommender",
    "create_model",
    "list_models",
    "load_model",
    "model_info",
    "register_model",
]
