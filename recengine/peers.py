"""implicit and Cornac, run the way bench_peers runs Vitrine's own models.

Each peer fits on the same training matrix with the same thread count, and its learned
factors (or its own scoring) are wrapped as a Recommender, so its quality comes from the
same evaluation code as Vitrine's: one metric, one set of excluded items. The packages
are an optional dependency group (`uv sync --group peers`); nothing else imports this.

Seconds per epoch: implicit calls back after every iteration, which gives each epoch's
time; Cornac does not, so its per-epoch time is its fit time over its epochs (min and
median are then that one mean, and the JSON says so).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from .data import Interactions
from .models.base import Recommender


class PeerScores(Recommender):
    """A fitted peer's scores as a Recommender (not registered: never served)."""

    name = "peer"

    def __init__(self, label: str, scores: Callable[[np.ndarray], np.ndarray]) -> None:
        super().__init__()
        self.label, self._scores = label, scores

    def _fit(self, train, valid, callback) -> None:
        pass

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self._scores(users), dtype=np.float32)


def _factor_scores(users_f: np.ndarray, items_f: np.ndarray, bias: np.ndarray | None = None):
    users_f = np.asarray(users_f, dtype=np.float32)
    items_f = np.asarray(items_f, dtype=np.float32)

    def scores(users: np.ndarray) -> np.ndarray:
        out = users_f[users] @ items_f.T
        return out + bias if bias is not None else out

    return scores


def _wrapped(label: str, train: Interactions, scores) -> PeerScores:
    return PeerScores(label, scores).fit(train)


def _epoch_times(started: float) -> tuple[list[float], Callable]:
    times: list[float] = []
    last = [started]

    def callback(*_args, **_kwargs) -> None:
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now

    return times, callback


def _implicit(kind, label: str, train: Interactions, epochs, factors, threads, seed, **kw):
    model = kind(factors=factors, iterations=epochs, num_threads=threads, random_state=seed, **kw)
    started = time.perf_counter()
    times, callback = _epoch_times(started)
    model.fit(sp.csr_matrix(train.matrix()), show_progress=False, callback=callback)
    fit_s = time.perf_counter() - started
    # implicit's BPR keeps the item bias as the last factor, with a constant 1 in the users'.
    scores = _factor_scores(model.user_factors, model.item_factors)
    return _wrapped(label, train, scores), times, fit_s


def implicit_bpr(train: Interactions, epochs: int, factors: int, threads: int, seed: int, **kw):
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    return _implicit(
        BayesianPersonalizedRanking, "implicit BPR", train, epochs, factors, threads, seed, **kw
    )


def implicit_als(train: Interactions, epochs: int, factors: int, threads: int, seed: int, **kw):
    from implicit.cpu.als import AlternatingLeastSquares

    return _implicit(
        AlternatingLeastSquares, "implicit ALS", train, epochs, factors, threads, seed, **kw
    )


def _cornac_set(train: Interactions, seed: int):
    from cornac.data import Dataset

    triples = [
        (str(u), str(i), 1.0)
        for u, i in zip(train.users.tolist(), train.items.tolist(), strict=True)
    ]
    data = Dataset.from_uir(triples, seed=seed)
    # Cornac numbers users and items in its own order: map ours onto its.
    # (-1: a user or item with no training event, unknown to Cornac)
    user_of = np.array([data.uid_map.get(str(u), -1) for u in range(train.n_users)])
    item_of = np.array([data.iid_map.get(str(i), -1) for i in range(train.n_items)])
    return data, user_of, item_of


def _cornac_run(model, train: Interactions, seed: int, epochs: int, scorer):
    data, user_of, item_of = _cornac_set(train, seed)
    started = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - started
    known = item_of >= 0

    def scores(users: np.ndarray) -> np.ndarray:
        if (user_of[users] < 0).any():
            raise ValueError("a user with no training event reached a Cornac scorer")
        theirs = scorer(model, user_of[users])  # (b, cornac's n_items)
        out = np.full((len(users), train.n_items), -np.inf, dtype=np.float32)
        out[:, known] = theirs[:, item_of[known]]
        return out

    return _wrapped(f"Cornac {model.name}", train, scores), [fit_s / epochs] * epochs, fit_s


def _cornac_factors(model, users: np.ndarray) -> np.ndarray:
    return np.stack([model.score(int(u)) for u in users])


def cornac_bpr(train: Interactions, epochs: int, factors: int, threads: int, seed: int, **kw):
    from cornac.models import BPR

    model = BPR(k=factors, max_iter=epochs, num_threads=threads, seed=seed, verbose=False, **kw)

    def scorer(model, users):
        return model.u_factors[users] @ model.i_factors.T + model.i_biases

    return _cornac_run(model, train, seed, epochs, scorer)


def cornac_vaecf(train: Interactions, epochs: int, factors: int, threads: int, seed: int, **kw):
    import torch
    from cornac.models import VAECF

    torch.set_num_threads(threads)
    model = VAECF(k=factors, n_epochs=epochs, seed=seed, verbose=False, **kw)
    return _cornac_run(model, train, seed, epochs, _cornac_factors)


def cornac_neumf(train: Interactions, epochs: int, factors: int, threads: int, seed: int, **kw):
    import torch
    from cornac.models import NeuMF

    torch.set_num_threads(threads)
    model = NeuMF(
        num_factors=factors, num_epochs=epochs, seed=seed, verbose=False, backend="pytorch", **kw
    )
    return _cornac_run(model, train, seed, epochs, _cornac_factors)


def cornac_vbpr(train: Interactions, epochs: int, factors: int, threads: int, seed: int, **kw):
    """Cornac's VBPR on the same features, standardised over the works it trains on as
    Vitrine's are. A work Cornac never saw (a cold work) gets VBPR's cold score, its
    visual term alone: theta_u . (E f) + beta' . f."""
    import torch
    from cornac.data import ImageModality
    from cornac.models import VBPR

    torch.set_num_threads(threads)
    data, user_of, item_of = _cornac_set(train, seed)
    known = item_of >= 0
    features = np.asarray(train.item_features, dtype=np.float32)
    features = (features - features[known].mean(0)) / (features[known].std(0) + 1e-6)
    ordered = np.zeros((data.num_items, features.shape[1]), dtype=np.float32)
    ordered[item_of[known]] = features[known]
    data.add_modalities(item_image=ImageModality(features=ordered))
    model = VBPR(k=factors, n_epochs=epochs, seed=seed, verbose=False, use_gpu=False, **kw)
    started = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - started
    gamma = np.zeros((train.n_items, factors), dtype=np.float32)
    gamma[known] = model.gamma_item[item_of[known]]
    bias = (features @ model.beta_prime).ravel()
    bias[known] += model.beta_item[item_of[known]]
    theta = features @ model.emb_matrix
    # A user with no training event (all theirs were cold works) has zero user factors.
    users_known = user_of >= 0
    gamma_user = np.zeros((train.n_users, factors), dtype=np.float32)
    gamma_user[users_known] = model.gamma_user[user_of[users_known]]
    theta_user = np.zeros((train.n_users, theta.shape[1]), dtype=np.float32)
    theta_user[users_known] = model.theta_user[user_of[users_known]]

    def scores(users: np.ndarray) -> np.ndarray:
        return gamma_user[users] @ gamma.T + theta_user[users] @ theta.T + bias

    return _wrapped("Cornac VBPR", train, scores), [fit_s / epochs] * epochs, fit_s


PEERS = {
    "cornac-vbpr": cornac_vbpr,
    "implicit-bpr": implicit_bpr,
    "implicit-als": implicit_als,
    "cornac-bpr": cornac_bpr,
    "cornac-vaecf": cornac_vaecf,
    "cornac-neumf": cornac_neumf,
}
