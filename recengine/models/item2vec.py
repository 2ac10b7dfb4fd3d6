"""item2vec (Barkan and Koenigstein 2016): skip-gram with negative sampling on baskets.

Each user's items form a basket. With ``window`` 0 the basket is a set, as in the paper:
every ordered pair (i, j) of distinct items in it is a (target, context) example. With
``window`` w > 0 the basket is the time-ordered profile and only items at most w
positions apart are paired, as word2vec does with sentences. Loss per pair:
-log sigmoid(u_i . v_j) - sum over ``negatives`` items k of log sigmoid(-u_i . v_k), with k
drawn from the item unigram distribution (number of users per item) to the power 0.75.
Frequent items can be subsampled (``subsample`` rho: an occurrence of item i is dropped
for the epoch with probability 1 - sqrt(rho / f_i)).

Only item vectors u are kept (the context vectors v are discarded after training);
items no basket contained keep a zero vector. Any profile, including one of a user
never seen in training, is scored by the cosine of each item to the mean of the
profile's item vectors, so new users are served without retraining.

Choices: trained with Adam through the shared loop (the paper used SGD); pairs are
generated per epoch for a shuffled group of users at a time, so memory stays bounded
even though a basket of n items gives n (n - 1) pairs when ``window`` is 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Interactions
from .gradient import Batches, GradientRecommender, with_training_defaults
from .registry import register_model

PAIRS_PER_CHUNK = 1 << 20  # pairs generated at once: bounds the epoch's memory


def basket_pairs(profiles: list[np.ndarray], window: int) -> tuple[np.ndarray, np.ndarray]:
    """(targets, contexts) int64: every ordered pair of distinct positions in each
    profile (window 0) or of positions at most ``window`` apart, in profile order."""
    lengths = np.array([len(p) for p in profiles], dtype=np.int64)
    flat = np.concatenate(profiles).astype(np.int64) if len(profiles) else np.zeros(0, np.int64)
    starts = np.cumsum(lengths) - lengths
    owner = np.repeat(np.arange(len(profiles)), lengths)
    position = np.arange(len(flat)) - starts[owner]  # within its profile
    if window <= 0:
        # Pair each position with every position of its profile, then drop itself.
        partners = lengths[owner]
        target = np.repeat(np.arange(len(flat)), partners)
        offset = np.arange(len(target)) - np.repeat(np.cumsum(partners) - partners, partners)
        context = np.repeat(starts[owner], partners) + offset
        keep = target != context
        return flat[target[keep]], flat[context[keep]]
    targets, contexts = [], []
    for distance in range(1, window + 1):
        left = np.flatnonzero(position + distance < lengths[owner])  # partner exists
        right = left + distance
        targets += [flat[left], flat[right]]
        contexts += [flat[right], flat[left]]
    target = np.concatenate(targets) if targets else np.zeros(0, np.int64)
    context = np.concatenate(contexts) if contexts else np.zeros(0, np.int64)
    return target, context


def pair_count(lengths: np.ndarray, window: int) -> np.ndarray:
    """Pairs each profile gives (the formula behind ``basket_pairs``)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if window <= 0:
        return lengths * (lengths - 1)
    distances = np.arange(1, window + 1)
    return 2 * np.maximum(lengths[:, None] - distances, 0).sum(axis=1)


def negative_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Sampling probabilities proportional to counts ** power (zero counts never drawn)."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


class Item2VecModule(nn.Module):
    def __init__(self, n_items: int, factors: int) -> None:
        super().__init__()
        self.target = nn.Embedding(n_items, factors)  # u: the item vectors kept
        self.context = nn.Embedding(n_items, factors)  # v
        # word2vec's initialisation: small uniform targets, zero contexts.
        nn.init.uniform_(self.target.weight, -0.5 / factors, 0.5 / factors)
        nn.init.zeros_(self.context.weight)


@register_model
class Item2Vec(GradientRecommender):
    name = "item2vec"
    # The paper: 15 negatives, 20 epochs, dimension 100 (store) or 40 (music),
    # subsampling rho 1e-5 / 1e-3; here subsampling is off by default because rho is
    # relative to corpus size and in a small catalogue every item counts as frequent.
    defaults = with_training_defaults(
        factors=100,
        window=0,
        negatives=15,
        subsample=0.0,
        epochs=20,
        lr=1e-3,
        sparse_updates=True,
    )
    description = "item2vec: skip-gram item vectors from users' baskets; cosine to the profile."
    grid = {"window": [0, 5], "negatives": [5, 15]}
    smoke = {"epochs": 3, "factors": 8, "negatives": 3}

    def __init__(self, **hyperparameters: Any) -> None:
        super().__init__(**hyperparameters)
        self.item_vectors_: np.ndarray | None = None

    def _prepare(self, train: Interactions) -> dict[str, Any]:
        self.profiles_ = train.profiles()
        counts = train.item_popularity()
        self.frequency_ = counts / max(counts.sum(), 1)
        self.noise_ = negative_distribution(counts)
        self.item_vectors_ = None
        return {"n_items": train.n_items, "factors": int(self.hyperparameters["factors"])}

    def _make_module(self, shape: dict[str, Any]) -> Item2VecModule:
        return Item2VecModule(shape["n_items"], shape["factors"])

    def _batches(self, epoch: int) -> Batches:
        size = int(self.hyperparameters["batch_size"])
        lengths = np.array([len(p) for p in self.profiles_])
        # With subsampling the count is an upper bound; Batches only uses it for progress.
        total = int(pair_count(lengths, int(self.hyperparameters["window"])).sum())
        return Batches(lambda: self._epoch(size), -(-total // size), self.device_)

    def _epoch(self, size: int) -> Iterator[tuple[np.ndarray, ...]]:
        h, rng = self.hyperparameters, self.rng_
        window, rho = int(h["window"]), float(h["subsample"])
        profiles = [self.profiles_[u] for u in rng.permutation(len(self.profiles_))]
        if rho > 0:
            keep_probability = np.minimum(1.0, np.sqrt(rho / np.maximum(self.frequency_, 1e-12)))
            profiles = [p[rng.random(len(p)) < keep_probability[p]] for p in profiles]
        counts = pair_count(np.array([len(p) for p in profiles], dtype=np.int64), window)
        # Consecutive groups of users with about PAIRS_PER_CHUNK pairs between them.
        group = np.cumsum(counts) // PAIRS_PER_CHUNK
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(group)) + 1, [len(profiles)]])
        carry = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            targets, contexts = basket_pairs(profiles[start:stop], window)
            order = rng.permutation(len(targets))
            targets = np.concatenate([carry[0], targets[order]])
            contexts = np.concatenate([carry[1], contexts[order]])
            full = len(targets) // size * size
            for first in range(0, full, size):
                chosen = slice(first, first + size)
                yield self._with_negatives(targets[chosen], contexts[chosen])
            carry = (targets[full:], contexts[full:])
        if len(carry[0]):
            yield self._with_negatives(*carry)

    def _with_negatives(self, targets: np.ndarray, contexts: np.ndarray) -> tuple[np.ndarray, ...]:
        k = int(self.hyperparameters["negatives"])
        noise = self.rng_.choice(len(self.noise_), size=(len(targets), k), p=self.noise_)
        return targets, contexts, noise

    def _loss(self, module: Item2VecModule, batch) -> torch.Tensor:
        targets, contexts, noise = batch
        u = module.target(targets)  # (b, d)
        positive = (u * module.context(contexts)).sum(-1)
        negative = torch.einsum("bd,bkd->bk", u, module.context(noise))
        # softplus(-x) = -log sigmoid(x); torch's CPU log_sigmoid is slow on small batches
        return (F.softplus(-positive) + F.softplus(negative).sum(-1)).mean()

    # ----------------------------------------------------------- scoring
    def _vectors(self) -> np.ndarray:
        if self.item_vectors_ is not None:
            return self.item_vectors_
        return self.module_.target.weight.detach().float().cpu().numpy()  # during training

    def _after_training(self) -> None:
        vectors = self.module_.target.weight.detach().float().cpu().numpy().copy()
        vectors[self.frequency_ == 0] = 0.0  # never trained: random init, not evidence
        self.item_vectors_ = vectors

    def _release_training_state(self) -> None:
        self.profiles_ = self.frequency_ = self.noise_ = None
        self.module_ = None  # the context vectors are not needed for scoring

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        vectors = self._vectors()
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        means = np.zeros((len(profiles), vectors.shape[1]), dtype=np.float32)
        for row, profile in enumerate(profiles):
            if len(profile):
                means[row] = vectors[profile].mean(axis=0)
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        return means @ unit.T

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._score_profiles(self.seen_profiles(users))

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.take_along_axis(self._score_users(users), items, axis=1)

    def _weights(self) -> dict[str, np.ndarray]:
        return {"item_vectors": self.item_vectors_}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.item_vectors_ = weights["item_vectors"]
        self.module_ = None
