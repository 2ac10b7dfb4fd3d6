"""Recommender models; importing this package registers every model."""

# Importing a model's module registers it: one line per model.
from . import (  # noqa: F401
    autorec,
    bpr,
    bspm,
    caser,
    cdae,
    convae,
    curatornet,
    deepfm,
    dvbpr,
    ease,
    gfcf,
    gru4rec,
    hybrid,
    hybrid_init,
    item2vec,
    knn,
    lightgcn,
    mf,
    multvae,
    ncf,
    ngcf,
    oracle,
    popularity,
    random_model,
    sasrec,
    slim,
    twostage,
    vbpr,
    visrank,
    widedeep,
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
