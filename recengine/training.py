"""The one training loop every gradient model uses.

Mini-batches from the model, Adam / AdamW / SGD / Adagrad (row-wise for embedding tables
with sparse gradients, recengine.optim), mixed precision on CUDA,
validation every few epochs with early stopping, the best epoch's weights restored at
the end, and a progress callback after every epoch (and every few seconds inside a long
one). A callback may raise to stop training (the worker does so when a job is cancelled).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .optim import OPTIMIZERS, has_sparse_gradients, make_optimizer

__all__ = ["OPTIMIZERS", "make_optimizer", "train_loop"]
logger = logging.getLogger(__name__)
INNER_PROGRESS_S = 2.0  # seconds between progress reports inside an epoch


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    metric: float | None
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainingResult:
    history: list[EpochRecord]
    best_epoch: int
    best_metric: float | None
    stopped_early: bool


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)
    return torch.autocast(device_type=device.type, enabled=False)


def train_loop(
    module: torch.nn.Module,
    *,
    batches: Callable[[int], Iterable],
    loss_fn: Callable[[torch.nn.Module, object], torch.Tensor],
    epochs: int,
    lr: float,
    weight_decay: float = 0.0,
    optimizer: str = "adam",
    device: torch.device | None = None,
    validate: Callable[[], float] | None = None,
    metric_name: str = "",
    eval_every: int = 1,
    patience: int = 5,
    amp: bool = True,
    grad_clip: float | None = None,
    callback: Callable[..., None] | None = None,
    after_step: Callable[[torch.nn.Module], None] | None = None,
    checkpoint: str | Path | None = None,
    rng: np.random.Generator | None = None,
    counters: Callable[[], dict] | None = None,
    restore_counters: Callable[[dict], None] | None = None,
) -> TrainingResult:
    """Train ``module`` in place; returns the history and restores the best epoch.

    batches(epoch) yields whatever ``loss_fn(module, batch)`` takes (already on the
    device). validate() returns a metric to maximise; without it the last epoch is kept.
    patience counts validations without improvement before stopping.
    checkpoint: a file written after every epoch (weights, optimiser, history, best
    epoch so far, and every random-number state: ``rng``, the model's own generator, plus
    torch's, numpy's and Python's global ones); when it exists at the start, training
    resumes after its epoch and draws the same negatives, dropout masks and orders an
    uninterrupted run would have drawn. counters() returns the model's own running counts
    (e.g. Mult-VAE's update count, which sets its KL weight) to keep in the checkpoint;
    restore_counters(saved) puts them back.
    """
    device = device or next(module.parameters()).device
    params = [p for p in module.parameters() if p.requires_grad]
    sparse = has_sparse_gradients(module)
    opt = make_optimizer(optimizer, params, lr=lr, weight_decay=weight_decay, sparse=sparse)
    use_amp = amp and device.type == "cuda"
    scaler = (
        torch.amp.GradScaler("cuda", enabled=use_amp and not torch.cuda.is_bf16_supported())
        if use_amp
        else None
    )
    history: list[EpochRecord] = []
    best_metric, best_epoch, best_state = -math.inf, 0, None
    since_best = 0
    started = time.perf_counter()
    stopped_early = False
    first_epoch = 1
    if checkpoint is not None and Path(checkpoint).exists():
        saved = torch.load(checkpoint, map_location=device, weights_only=True)
        module.load_state_dict(saved["module"])
        opt.load_state_dict(saved["optimizer"])
        history = [EpochRecord(**record) for record in saved["history"]]
        best_metric, best_epoch = float(saved["best_metric"]), int(saved["best_epoch"])
        best_state, since_best = saved["best_state"], int(saved["since_best"])
        first_epoch = int(saved["epoch"]) + 1
        _restore_random_state(saved.get("random"), rng, device)
        if restore_counters is not None:
            restore_counters(dict(saved.get("counters", {})))
        logger.info("resumed from %s after epoch %d", Path(checkpoint).name, saved["epoch"])
        if callback is not None:
            callback(saved["epoch"] / epochs, f"resumed after epoch {saved['epoch']}")
        if validate is not None and since_best >= patience:
            # It had stopped early; the kill came after. Training on would pick another epoch.
            stopped_early, first_epoch = True, epochs + 1
    for epoch in range(first_epoch, epochs + 1):
        module.train()
        epoch_start = time.perf_counter()
        total, count = 0.0, 0
        epoch_batches = batches(epoch)
        n_batches = len(epoch_batches) if hasattr(epoch_batches, "__len__") else None
        last_report = time.perf_counter()
        for step, batch in enumerate(epoch_batches, start=1):
            opt.zero_grad(set_to_none=True)
            with _autocast(device, use_amp):
                loss = loss_fn(module, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"loss became {loss.item()} at epoch {epoch}, step {step}; "
                    "try a lower learning rate"
                )
            if scaler is not None and scaler.is_enabled():
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                if grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, grad_clip)
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                if grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, grad_clip)
                opt.step()
            if after_step is not None:
                after_step(module)
            total += float(loss.detach())
            count += 1
            now = time.perf_counter()
            if callback is not None and n_batches and now - last_report > INNER_PROGRESS_S:
                last_report = now
                fraction = (epoch - 1 + step / n_batches) / epochs
                callback(
                    fraction,
                    f"epoch {epoch}/{epochs}, batch {step}/{n_batches}",
                    epoch=epoch,
                    epochs=epochs,
                    loss=total / count,
                    seconds_left=(now - started) / fraction * (1 - fraction),
                )
        mean_loss = total / max(count, 1)
        metric = None
        validating = validate is not None and (epoch % eval_every == 0 or epoch == epochs)
        if hasattr(opt, "catch_up_all"):
            # Rows owe their skipped steps: settle them at every epoch's end (a few full-
            # table passes), so what is validated, checkpointed or kept owes nothing and a
            # run in legs through the checkpoint is the same run.
            opt.catch_up_all()
        if validating:
            module.eval()
            with torch.no_grad():
                metric = float(validate())
            if metric > best_metric:
                best_metric, best_epoch, since_best = metric, epoch, 0
                best_state = copy.deepcopy(
                    {k: v.detach().cpu() for k, v in module.state_dict().items()}
                )
            else:
                since_best += 1
        history.append(EpochRecord(epoch, mean_loss, metric, time.perf_counter() - epoch_start))
        if callback is not None:
            elapsed = time.perf_counter() - started
            shown = f", {metric_name} {metric:.4f}" if metric is not None else ""
            callback(
                epoch / epochs,
                f"epoch {epoch}/{epochs}: loss {mean_loss:.4f}{shown}",
                epoch=epoch,
                epochs=epochs,
                loss=mean_loss,
                metric=metric,
                metric_name=metric_name,
                seconds=history[-1].seconds,
                seconds_left=elapsed / epoch * (epochs - epoch),
            )
        if checkpoint is not None:
            _save_checkpoint(
                checkpoint,
                {
                    "module": module.state_dict(),
                    "optimizer": opt.state_dict(),
                    "history": [record.as_dict() for record in history],
                    "best_metric": best_metric,
                    "best_epoch": best_epoch,
                    "best_state": best_state,
                    "since_best": since_best,
                    "epoch": epoch,
                    "random": _random_state(rng, device),
                    "counters": counters() if counters is not None else {},
                },
            )
        if validate is not None and since_best >= patience:
            stopped_early = True
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        best_epoch = len(history)
    module.eval()
    return TrainingResult(
        history=history,
        best_epoch=best_epoch,
        best_metric=None if best_state is None else best_metric,
        stopped_early=stopped_early,
    )


def _random_state(rng: np.random.Generator | None, device: torch.device) -> dict:
    """Every generator an epoch draws from, in types torch.load(weights_only=True) reads."""
    numpy_global = np.random.get_state(legacy=False)
    state = {
        "torch": torch.get_rng_state(),
        "python": json.dumps(random.getstate()),
        "numpy_global": json.dumps({**numpy_global, "state": _jsonable(numpy_global["state"])}),
        "rng": json.dumps(rng.bit_generator.state) if rng is not None else "",
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _jsonable(state: dict) -> dict:
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in state.items()}


def _restore_random_state(
    state: dict | None, rng: np.random.Generator | None, device: torch.device
) -> None:
    if not state:  # a checkpoint from before random states were kept: resume as it can
        logger.warning("checkpoint has no random-number state; the resumed run will differ")
        return
    # torch.load put the tensors on the training device; RNG states live on the CPU.
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)
    version, internal, gauss = json.loads(state["python"])
    random.setstate((version, tuple(internal), gauss))
    numpy_global = json.loads(state["numpy_global"])
    numpy_global["state"]["key"] = np.asarray(numpy_global["state"]["key"], dtype=np.uint32)
    np.random.set_state(numpy_global)
    if rng is not None and state["rng"]:
        rng.bit_generator.state = json.loads(state["rng"])


def _save_checkpoint(path: str | Path, state: dict) -> None:
    """Write to a temporary file, then rename: a crash mid-write keeps the last good one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    torch.save(state, temporary)
    os.replace(temporary, path)
