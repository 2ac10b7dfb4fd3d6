"""Optimisers that update only the embedding rows a batch touched.

An ``nn.Embedding(..., sparse=True)`` table gets a sparse gradient: the rows the batch
looked up and nothing else. torch's dense optimisers would turn it back into a full-table
update at every step (reading and writing every row of every table, plus Adam's two
moment tables), which is where a BPR epoch on gowalla spent most of its time. RowOptimizer
runs Adam, AdamW, SGD or Adagrad on the touched rows only, and exactly as torch does on
parameters whose gradient is dense (the layers beside the tables).

Lazy updates, documented: on a row the batch did not touch,

* Adam / AdamW: a row is caught up when it is next touched: the drift its momentum
  would have given it over the skipped steps and the decay of its moments are applied
  then. So a row moves as under dense Adam, only later; the lag is at most the
  momentum's few steps' worth.
  torch.optim.SparseAdam skips this, and a rarely used row then learns about ten times
  slower than under dense Adam;
* weight decay: AdamW's decoupled decay and SGD's L2 shrink a skipped row exactly on
  catch-up; L2 inside Adam's and Adagrad's moments is applied on touched rows only (a row
  is regularised when it is used, as in the BPR paper's SGD);
* SGD (no momentum) and Adagrad without weight decay are exact: an untouched row has a
  zero gradient, which moves nothing in either, so sparse and dense give the same result.

When every row is touched at every step (a tiny dataset), every optimiser here gives the
dense result; tests/recengine/test_sparse_training.py checks it.
"""

from __future__ import annotations

import math

import torch

OPTIMIZERS = ("adam", "adamw", "sgd", "adagrad")


def has_sparse_gradients(module: torch.nn.Module) -> bool:
    return any(
        isinstance(m, torch.nn.Embedding) and m.sparse and m.weight.requires_grad
        for m in module.modules()
    )


def make_optimizer(
    name: str, parameters, lr: float, weight_decay: float = 0.0, sparse: bool = False
) -> torch.optim.Optimizer:
    """An optimiser by name; weight_decay is decoupled for AdamW, L2 for the others.

    sparse: the module has tables with sparse gradients; the row-wise optimiser is used
    for all its parameters (torch's dense ones refuse or densify sparse gradients).
    """
    name = name.lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {name!r}")
    if sparse:
        return RowOptimizer(parameters, algorithm=name, lr=lr, weight_decay=weight_decay)
    kinds = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "sgd": torch.optim.SGD,
        "adagrad": torch.optim.Adagrad,
    }
    return kinds[name](parameters, lr=lr, weight_decay=weight_decay)


class RowOptimizer(torch.optim.Optimizer):
    """Adam, AdamW, SGD or Adagrad with sparse gradients applied row by row.

    Defaults are torch's: betas (0.9, 0.999), eps 1e-8 for Adam / AdamW, 1e-10 for
    Adagrad; AdamW's weight_decay default 0.01 is not applied here (pass it).
    """

    def __init__(
        self,
        params,
        algorithm: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float | None = None,
    ) -> None:
        if algorithm not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {algorithm!r}")
        if eps is None:
            eps = 1e-10 if algorithm == "adagrad" else 1e-8
        defaults = dict(algorithm=algorithm, lr=lr, weight_decay=weight_decay, betas=betas, eps=eps)
        super().__init__(params, defaults)
        self._buffers: dict = {}  # per table: a scratch table and a touched-row mask

    def __setstate__(self, state: dict) -> None:
        # torch's __getstate__ keeps only defaults, state and param_groups: a deep copy
        # or an unpickled optimiser must get its (empty) scratch space back.
        super().__setstate__(state)
        self._buffers = {}

    @torch.no_grad()
    def catch_up_all(self) -> None:
        """Give every row the steps it has sat out since it was last touched, as if the
        last step had been dense: called before a validation and after the last epoch,
        so what is scored and saved owes nothing. Exact for what _catch_up is exact for;
        the training that follows is unchanged in kind (a caught-up row owes nothing)."""
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state.get(p, {})
                if "last" not in state:
                    continue
                step = float(state["step"])
                skipped = (step - state["last"]).clamp_min_(0)
                moments = None
                if group["algorithm"] in ("adam", "adamw"):
                    moments = (state["exp_avg"], state["exp_avg_sq"])  # decayed in place
                rows = torch.arange(len(p), device=p.device)
                _catch_up(p, rows, skipped, moments, group, step)
                state["last"].fill_(step)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    if group["algorithm"] in ("adam", "adamw"):
                        state["exp_avg"] = torch.zeros_like(p)
                        state["exp_avg_sq"] = torch.zeros_like(p)
                    elif group["algorithm"] == "adagrad":
                        state["sum"] = torch.zeros_like(p)
                state["step"] += 1
                if p.grad.is_sparse:
                    _sparse_step(p, p.grad, state, group, self._buffers)
                else:
                    _dense_step(p, p.grad, state, group)
        return loss


def _dense_step(p: torch.Tensor, grad: torch.Tensor, state: dict, group: dict) -> None:
    """torch's single-tensor formulas, so a dense parameter moves as under torch.optim."""
    algorithm, lr, decay = group["algorithm"], group["lr"], group["weight_decay"]
    step = float(state["step"])
    if "last" in state:
        # A table whose gradient was sparse before (the loss read its weight directly this
        # time): every row moves now, so each first takes the steps it sat out.
        rows = torch.arange(len(p), device=p.device)
        skipped = (step - 1 - state["last"]).clamp_min_(0)
        moments = None
        if algorithm in ("adam", "adamw"):
            moments = (state["exp_avg"], state["exp_avg_sq"])  # decayed in place
        _catch_up(p, rows, skipped, moments, group, step)
        state["last"].fill_(step)
    if algorithm == "adamw":
        p.mul_(1 - lr * decay)
    elif decay:
        grad = grad.add(p, alpha=decay)
    if algorithm == "sgd":
        p.add_(grad, alpha=-lr)
    elif algorithm == "adagrad":
        state["sum"].addcmul_(grad, grad, value=1)
        p.addcdiv_(grad, state["sum"].sqrt().add_(group["eps"]), value=-lr)
    else:
        beta1, beta2 = group["betas"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (v.sqrt() / math.sqrt(1 - beta2**step)).add_(group["eps"])
        p.addcdiv_(m, denom, value=-lr / (1 - beta1**step))


def _touched_rows(p: torch.Tensor, grad: torch.Tensor, buffers: dict):
    """(rows, summed gradient rows) of a possibly uncoalesced sparse gradient.

    Sums duplicates in a scratch table the size of the parameter and finds the touched
    rows with a boolean mask: a memset of one byte per row is far cheaper than the sort
    that coalesce() and unique() pay for every step."""
    indices, values = grad._indices()[0], grad._values()
    if p not in buffers:  # kept off the optimiser's state: no checkpoint carries them
        buffers[p] = (
            torch.zeros_like(p),
            torch.zeros(len(p), dtype=torch.bool, device=p.device),
        )
    scratch, touched = buffers[p]
    scratch.index_add_(0, indices, values)
    touched[indices] = True
    rows = touched.nonzero().squeeze(1)
    summed = scratch.index_select(0, rows)
    scratch.index_fill_(0, rows, 0)
    touched[rows] = False
    return rows, summed


def _sparse_step(p, grad, state: dict, group: dict, buffers: dict) -> None:
    """The same formulas on the rows the gradient names (duplicates summed first), after
    catching each row up on the steps it skipped (``_catch_up``)."""
    algorithm, lr, decay = group["algorithm"], group["lr"], group["weight_decay"]
    if algorithm == "sgd" and not decay:
        # Plain SGD adds each lookup's gradient: duplicates need no summing first, and a
        # skipped step moves nothing, so there is nothing to catch up on.
        p.index_add_(0, grad._indices()[0], grad._values(), alpha=-lr)
        return
    rows, values = _touched_rows(p, grad, buffers)
    if not len(rows):
        return
    step = float(state["step"])
    if "last" not in state:
        state["last"] = torch.zeros(len(p), dtype=torch.float32, device=p.device)
    skipped = (step - 1 - state["last"].index_select(0, rows)).clamp_min_(0)
    state["last"].index_fill_(0, rows, step)
    moments = None
    if algorithm in ("adam", "adamw"):
        moments = (
            state["exp_avg"].index_select(0, rows),
            state["exp_avg_sq"].index_select(0, rows),
        )
    _catch_up(p, rows, skipped, moments, group, step)
    if decay:
        current = p.index_select(0, rows)
        if algorithm == "adamw":
            p.index_add_(0, rows, current, alpha=-lr * decay)
        else:
            values = values.add_(current, alpha=decay)
    if algorithm == "sgd":
        p.index_add_(0, rows, values, alpha=-lr)
        return
    if algorithm == "adagrad":
        total = state["sum"].index_select(0, rows).addcmul_(values, values, value=1)
        state["sum"].index_copy_(0, rows, total)
        p.index_add_(0, rows, values.div_(total.sqrt_().add_(group["eps"])), alpha=-lr)
        return
    beta1, beta2 = group["betas"]
    m, v = moments
    m.lerp_(values, 1 - beta1)
    v.mul_(beta2).addcmul_(values, values, value=1 - beta2)
    state["exp_avg"].index_copy_(0, rows, m)
    state["exp_avg_sq"].index_copy_(0, rows, v)
    denom = v.sqrt_().div_(math.sqrt(1 - beta2**step)).add_(group["eps"])
    p.index_add_(0, rows, m.div_(denom), alpha=-lr / (1 - beta1**step))


def _catch_up(p, rows, skipped, moments, group: dict, step: float) -> None:
    """Apply to the touched rows what dense steps would have done while they sat out.

    With no gradient, a dense Adam step still moves a row by its decaying momentum:
    over k skipped steps that is lr * m / sqrt(v) * sum_j (beta1 / sqrt(beta2))^j times
    the bias corrections (eps aside, which only matters for near-zero moments). The
    moments then decay by beta^k.
    Without this, a rarely used row (a collector with few works) would move about
    1 / (1 - beta1) = 10 times less per use than under dense Adam. Decoupled decay
    (AdamW) and SGD's L2 shrink a skipped row by (1 - lr * decay)^k, exactly. What is
    not caught up (L2 inside Adam's or Adagrad's moments on skipped steps) is the
    documented lazy part.
    """
    algorithm, lr, decay = group["algorithm"], group["lr"], group["weight_decay"]
    if not bool((skipped > 0).any()):
        return
    if moments is not None:
        beta1, beta2 = group["betas"]
        m, v = moments
        ratio = beta1 / math.sqrt(beta2)
        # Step last + j moved the row by lr * m / sqrt(v) * ratio^j * g(last + j), with
        # g the bias corrections, taken here at the current step: a geometric sum. (g
        # changes by under 1% over the ~50 steps that carry the momentum once a few
        # hundred steps are done; summing the early terms one by one cost a third of a
        # BPR epoch and did not bring the loss curve measurably closer to dense Adam's.)
        now = math.sqrt(1 - beta2**step) / (1 - beta1**step)
        total = ratio * (1 - ratio**skipped) / (1 - ratio) * now
        drift = m / v.sqrt().clamp_min_(1e-30) * total[:, None]
        p.index_add_(0, rows, drift, alpha=-lr)
        m.mul_((beta1**skipped)[:, None])
        v.mul_((beta2**skipped)[:, None])
    if decay and algorithm in ("adamw", "sgd"):
        shrink = (1 - lr * decay) ** skipped
        p.index_copy_(0, rows, p.index_select(0, rows) * shrink[:, None])
