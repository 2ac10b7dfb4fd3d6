"""Base class for models trained by the one training loop (recengine.training).

A subclass says what to build, what a batch is and what the loss is; fitting,
validation, early stopping, device placement, scoring in batches and saving the
weights happen here, the same way for every gradient model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from ..data import Interactions
from ..device import resolve_device, seed_everything
from ..training import train_loop
from .base import Callback, Recommender

TRAINING_DEFAULTS: dict[str, Any] = {
    "epochs": 30,
    "batch_size": 4096,
    "lr": 1e-3,
    "weight_decay": 0.0,
    "optimizer": "adam",
    "patience": 5,  # validations without improvement before stopping
    "eval_every": 1,
    "valid_metric": "NDCG@20",  # full ranking on (a sample of) the validation users
    "valid_users": 5000,
    "device": "auto",
    "amp": True,  # mixed precision, on CUDA only
    "seed": 0,
}


def with_training_defaults(**model_defaults: Any) -> dict[str, Any]:
    """A model's defaults: the loop's knobs first, then the model's own (which win)."""
    return {**TRAINING_DEFAULTS, **model_defaults}


class GradientRecommender(Recommender):
    """Subclasses implement:

    _prepare(train) -> dict    JSON-able shape facts for the module (saved with it);
                               may also keep arrays needed by _batches (not saved)
    _make_module(shape)        a fresh torch.nn.Module
    _batches(epoch) -> iterable of batches (tensors on self.device_)
    _loss(module, batch)       a scalar tensor
    _user_scores(module, users) -> (len(users), n_items) tensor
    and optionally _pair_scores(module, users, items (b, m)) -> (b, m) tensor.
    """

    def __init__(self, **hyperparameters: Any) -> None:
        super().__init__(**hyperparameters)
        from ..evaluation import metric_name_check

        metric_name_check(self.hyperparameters["valid_metric"])  # one spelling everywhere
        self.module_: torch.nn.Module | None = None
        self.shape_: dict[str, Any] = {}
        self.history_: list[dict] = []
        self.best_epoch_: int = 0
        # Where the loop writes a checkpoint every epoch (and resumes from): set by the
        # caller, e.g. the worker, before fit; not a hyperparameter.
        self.checkpoint_path: str | None = None

    # ----------------------------------------------------------- hooks
    def _prepare(self, train: Interactions) -> dict[str, Any]:
        return {"n_users": train.n_users, "n_items": train.n_items}

    def _make_module(self, shape: dict[str, Any]) -> torch.nn.Module:
        raise NotImplementedError

    def _batches(self, epoch: int) -> Iterable:
        raise NotImplementedError

    def _loss(self, module: torch.nn.Module, batch) -> torch.Tensor:
        raise NotImplementedError

    def _user_scores(self, module: torch.nn.Module, users: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _pair_scores(
        self, module: torch.nn.Module, users: torch.Tensor, items: torch.Tensor
    ) -> torch.Tensor:
        return torch.gather(self._user_scores(module, users), 1, items)

    # ----------------------------------------------------------- fitting
    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        h = self.hyperparameters
        self.rng_ = seed_everything(h["seed"])
        self.device_ = resolve_device(h["device"])
        self.shape_ = self._prepare(train)
        self.module_ = self._make_module(self.shape_).to(self.device_)
        if h.get("sparse_updates"):
            sparse_tables(self.module_)
        validate = None
        if valid is not None and len(valid) and h["epochs"] > 0:
            validate = self._validator(train, valid)
        result = train_loop(
            self.module_,
            batches=self._batches,
            loss_fn=self._loss,
            epochs=int(h["epochs"]),
            lr=float(h["lr"]),
            weight_decay=float(h["weight_decay"]),
            optimizer=h["optimizer"],
            device=self.device_,
            validate=validate,
            metric_name=h["valid_metric"],
            eval_every=int(h["eval_every"]),
            patience=int(h["patience"]),
            amp=bool(h["amp"]),
            callback=callback,
            after_step=self._after_step,
            checkpoint=self.checkpoint_path,
            rng=self.rng_,
            counters=self._counters,
            restore_counters=self._restore_counters,
        )
        self.history_ = [record.as_dict() for record in result.history]
        self.best_epoch_ = result.best_epoch
        self._after_training()
        self._release_training_state()

    def _after_step(self, module: torch.nn.Module) -> None:
        """Called after each optimiser step (e.g. to project weights)."""

    def _counters(self) -> dict:
        """Running counts the loss depends on, kept in the checkpoint (ints or floats)."""
        return {}

    def _restore_counters(self, saved: dict) -> None:
        """Put back what _counters() returned when a fit resumes from its checkpoint."""

    def _after_training(self) -> None:
        """Called once the best weights are back in place (e.g. to cache item vectors)."""

    def _release_training_state(self) -> None:
        """Drop arrays only training needed."""

    def _validator(self, train: Interactions, valid: Interactions):
        from ..evaluation import evaluate

        metric = self.hyperparameters["valid_metric"]
        name, _, k = metric.partition("@")
        users = np.unique(valid.users)
        limit = int(self.hyperparameters["valid_users"])
        if len(users) > limit:
            users = np.sort(np.random.default_rng(0).choice(users, limit, replace=False))
        subset = valid.select(np.isin(valid.users, users))
        ks = (int(k),) if k else (20,)

        def validate() -> float:
            result = evaluate(self, train, subset, ks=ks, metrics=(name,))
            value = result.metrics.get(metric, result.metrics.get(name))
            return float("-inf") if value is None or np.isnan(value) else value

        return validate

    # ----------------------------------------------------------- scoring
    @torch.no_grad()
    def _score_users(self, users: np.ndarray) -> np.ndarray:
        self.module_.eval()
        tensor = torch.as_tensor(users, dtype=torch.long, device=self.device_)
        return self._user_scores(self.module_, tensor).float().cpu().numpy()

    @torch.no_grad()
    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        self.module_.eval()
        u = torch.as_tensor(users, dtype=torch.long, device=self.device_)
        i = torch.as_tensor(items, dtype=torch.long, device=self.device_)
        return self._pair_scores(self.module_, u, i).float().cpu().numpy()

    # ----------------------------------------------------------- persistence
    def _weights(self) -> dict[str, np.ndarray]:
        weights = {}
        for name, value in self.module_.state_dict().items():
            value = value.detach().cpu()
            if value.dtype in (torch.float16, torch.bfloat16):
                value = value.float()  # numpy has no bfloat16
            weights[f"module.{name}"] = value.numpy()
        return weights

    def _extra(self) -> dict[str, Any]:
        return {"shape": self.shape_, "history": self.history_, "best_epoch": self.best_epoch_}

    def _set_extra(self, extra: dict[str, Any]) -> None:
        self.shape_ = dict(extra.get("shape", {}))
        self.history_ = list(extra.get("history", []))
        self.best_epoch_ = int(extra.get("best_epoch", 0))

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        # Serve on whatever this machine has: a model trained on a GPU worker must still
        # load in a CPU-only web process.
        self.device_ = resolve_device("auto")
        module = self._make_module(self.shape_)
        state = {
            name.removeprefix("module."): torch.from_numpy(value)
            for name, value in weights.items()
            if name.startswith("module.")
        }
        module.load_state_dict(state)
        self.module_ = module.to(self.device_).eval()


def sparse_tables(module: torch.nn.Module) -> int:
    """Give every embedding table of ``module`` sparse gradients, so a step reads and
    writes only the rows its batch looked up (recengine.optim.RowOptimizer); returns the
    number of tables. Serving is unchanged: only the gradients' form differs."""
    tables = [m for m in module.modules() if isinstance(m, torch.nn.Embedding)]
    for table in tables:
        table.sparse = True
    return len(tables)


MIN_STEPS_PER_EPOCH = 20


def batch_size_for(requested: int, rows: int) -> int:
    """The batch size an epoch over ``rows`` examples uses: the requested one, shrunk so an
    epoch takes at least MIN_STEPS_PER_EPOCH steps. Batch sizes tuned for a million
    interactions would make an epoch of a small gallery one step, and fifty epochs fifty
    steps: far too few to learn anything. Large datasets keep the requested size."""
    return max(1, min(int(requested), -(-int(rows) // MIN_STEPS_PER_EPOCH)))


class Batches:
    """An epoch's batches with a length (for progress inside long epochs).

    make: a function returning an iterator of numpy-array tuples; each array becomes a
    tensor on ``device`` (int arrays as long, float arrays as float32).
    """

    def __init__(self, make, n_batches: int, device: torch.device) -> None:
        self.make, self.n_batches, self.device = make, n_batches, device

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self):
        for arrays in self.make():
            yield tuple(_to_tensor(a, self.device) for a in arrays)


class EpochBatches:
    """Batches cut from one epoch's arrays, turned into tensors once: slicing a tensor is
    a view, where converting every batch's arrays paid per-step copies and calls."""

    def __init__(self, arrays, batch_size: int, device: torch.device) -> None:
        self.tensors = tuple(_to_tensor(a, device) for a in arrays)
        self.batch_size = max(1, int(batch_size))
        self.rows = len(self.tensors[0])

    def __len__(self) -> int:
        return -(-self.rows // self.batch_size)

    def __iter__(self):
        for start in range(0, self.rows, self.batch_size):
            yield tuple(t[start : start + self.batch_size] for t in self.tensors)


def _to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    array = np.asarray(array)
    dtype = torch.long if np.issubdtype(array.dtype, np.integer) else torch.float32
    return torch.as_tensor(array, dtype=dtype).to(device, non_blocking=True)
