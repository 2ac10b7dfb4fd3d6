"""Recommender models; importing this package registers every model."""

from . import oracle, popularity, random_model, visrank  # noqa: F401  (registration)
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
