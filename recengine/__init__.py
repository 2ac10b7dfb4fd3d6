"""Vitrine's recommendation engine: pure numpy / scipy / torch, no Django or Celery.

Interactions in, splits, models, evaluation and image features out; the web app
and workers only talk to the names exported here.
"""

from .data import Interactions
from .evaluation import EvaluationResult, evaluate
from .features import create_extractor, list_extractors
from .models import Recommender, create_model, list_models, load_model, model_info, register_model
from .splits import Split, temporal_leave_last_out

__all__ = [
    "EvaluationResult",
    "Interactions",
    "Recommender",
    "Split",
    "create_extractor",
    "create_model",
    "evaluate",
    "list_extractors",
    "list_models",
    "load_model",
    "model_info",
    "register_model",
    "temporal_leave_last_out",
]
