"""Training triplets for profile-based visual models: uniform, or CuratorNet's guidelines.

A triplet is (user, profile, positive, negative): the profile is a set of works the model
pools into a user vector (CuratorNet), the user index is what per-user models use (VBPR;
-1 for an artificial profile). CuratorNet's paper (Messina et al. 2020, arXiv 2009.04426,
its "Data sampling guidelines" in the section on the model) samples training triplets by
six guidelines instead of uniformly. In its notation I+_u is what user u purchased,
P_u,k their k-th purchase basket, and a user "likes" the visual clusters and artists of
the works in I+_u:

    1 missing_item         "Predicting missing item in purchase basket": for a basket
                           P_u,k with at least two works, hide one work i of it and use
                           the rest as profile (the authors' notebook: every purchase up
                           to and including basket k, minus i); i ranks above a work
                           j not in I+_u in no cluster and by no artist u likes.
    2 next_basket          "Predicting next purchase basket": the profile is what u bought
                           up to basket k, the positive a work of P_u,k+1; negative as in 1.
    3 artist_cluster       "Recommending visually similar artworks from favorite artists":
                           the profile is I+_u, the positive a work not in I+_u by an
                           artist and in a visual cluster of I+_u; negative as in 1.
    4 profile_items        "Recommending profile items from the same user profile": the
                           profile is I+_u, the positive a work of it, the negative any
                           work outside I+_u (BPR's own idea, with the profile kept whole).
    5 fake_profile_item    "Recommending profile items given an artificially created user
                           profile": the profile is one work i, the positive i itself,
                           the negative any other work.
    6 fake_profile_artist  "Artificial profile with a single item: recommend visually
                           similar items from the same artist": the profile is one work
                           i', the positive another work of its artist, the negative a
                           work by another artist.

Details the paper leaves to its authors' notebook (ialab-puc/CuratorNet,
experiments/training.ipynb), followed here: equal shares for the six guidelines (their
10M triplets, a sixth each); negatives of 4-6 come with probability ``hard_negatives``
(their 0.6) from the visual cluster of the positive (4, 5) or of the profile work (6),
else from a random cluster; in 6 the negative must also be visually no closer to the
profile work than the positive is (cluster agreement, else a cosine margin of 0.1);
a positive and a negative that are the same image (one cluster, cosine ~ 1) are dropped.
Their fixed set of triplets is drawn afresh every epoch here, and a profile is capped at
``max_profile`` works (the most recent).

Profiles are built as the paper builds them: purchases in time order, a basket being
the purchases at one timestamp (a purchase session; ``basket_seconds`` > 0 joins
purchases that close). Where the log has event kinds, baskets are its purchases, and a
profile (I+_u, or "up to basket k") holds the user's events of every kind up to then:
what the model pools when it serves that user. A negative is never a work the user
consumed. The clusters are k-means clusters of PCA-reduced item features (``visual_space``);
artists come from the "artist=" item attributes.

A draw that finds no valid case (a user without a two-work basket, a catalogue without
artists) falls back to a uniform triplet, labelled "uniform (fallback)" and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import Interactions
from .guideline_draws import HARD_NEGATIVES, GuidelineDraws

GUIDELINES = (
    "missing_item",
    "next_basket",
    "artist_cluster",
    "profile_items",
    "fake_profile_item",
    "fake_profile_artist",
)
REAL_USER_GUIDELINES = GUIDELINES[:4]
UNIFORM = "uniform"  # not a guideline of the paper; may be mixed in by name
FALLBACK = "uniform (fallback)"
LABELS = (*GUIDELINES, UNIFORM, FALLBACK)  # what Triplets.guideline indexes
STRATEGIES = ("uniform", "guided")
ATTEMPTS = 5  # the notebook's tries per triplet before it gives the case up


def parse_guidelines(
    value: Any, *, real_users_only: bool = False, model: str = ""
) -> dict[str, float]:
    """Share of each chosen guideline, from the ``guidelines`` hyperparameter.

    value: None, "" or "all" (every guideline of the paper in equal shares; for a
    per-user model the four with a real user), comma-separated names ("next_basket,
    profile_items"), a list of names, or a {name: weight} mapping. Names are GUIDELINES,
    plus "uniform". real_users_only: the model learns a vector per real user (VBPR), so
    an artificial profile has nobody to train and is refused.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "all")):
        names = REAL_USER_GUIDELINES if real_users_only else GUIDELINES
        return {name: 1.0 / len(names) for name in names}
    if isinstance(value, str):
        weights = {name.strip(): 1.0 for name in value.split(",") if name.strip()}
    elif isinstance(value, Mapping):
        weights = {str(name).strip(): float(w) for name, w in value.items()}
    elif isinstance(value, Iterable):
        weights = {str(name).strip(): 1.0 for name in value}
    else:
        raise ValueError(f"guidelines must be names or a name -> weight mapping, not {value!r}")
    known = (*GUIDELINES, UNIFORM)
    unknown = [name for name in weights if name not in known]
    if unknown:
        raise ValueError(f"unknown guideline(s) {unknown}; known: {', '.join(known)}")
    if any(w < 0 for w in weights.values()):
        raise ValueError(f"guideline weights must be >= 0, not {weights}")
    weights = {name: w for name, w in weights.items() if w > 0}
    if not weights:
        raise ValueError(f"no guideline chosen; known: {', '.join(known)}")
    artificial = [name for name in weights if name not in (*REAL_USER_GUIDELINES, UNIFORM)]
    if real_users_only and artificial:
        raise ValueError(
            f"{model or 'this model'} learns a vector per real user, and an artificial "
            f"profile ({', '.join(artificial)}) has no user whose vector it could train; "
            f"choose among {', '.join((*REAL_USER_GUIDELINES, UNIFORM))}"
        )
    total = sum(weights.values())
    return {name: weights[name] / total for name in known if name in weights}


@dataclass
class Triplets:
    """N triplets; profile of triplet t is profile_items[profile_ptr[t]:profile_ptr[t+1]]."""

    users: np.ndarray  # (N,) int64, -1 for artificial profiles
    positives: np.ndarray  # (N,) int64
    negatives: np.ndarray  # (N,) int64
    profile_ptr: np.ndarray  # (N + 1,) int64
    profile_items: np.ndarray  # (total,) int64
    guideline: np.ndarray  # (N,) int8 index into LABELS

    def __len__(self) -> int:
        return len(self.users)

    def profile(self, t: int) -> np.ndarray:
        return self.profile_items[self.profile_ptr[t] : self.profile_ptr[t + 1]]

    def counts(self) -> dict[str, int]:
        """Triplets per label (guideline name, "uniform", "uniform (fallback)")."""
        tally = np.bincount(self.guideline.astype(np.int64), minlength=len(LABELS))
        return {label: int(tally[i]) for i, label in enumerate(LABELS) if tally[i]}

    def subset(self, rows: np.ndarray) -> Triplets:
        starts, stops = self.profile_ptr[rows], self.profile_ptr[rows + 1]
        lengths = stops - starts
        items = (
            np.concatenate([self.profile_items[a:b] for a, b in zip(starts, stops, strict=True)])
            if len(rows)
            else np.zeros(0, dtype=np.int64)
        )
        return Triplets(
            users=self.users[rows],
            positives=self.positives[rows],
            negatives=self.negatives[rows],
            profile_ptr=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
            profile_items=items.astype(np.int64),
            guideline=self.guideline[rows],
        )


def shares_of(counts: Mapping[str, int]) -> dict[str, float]:
    """label -> share of the triplets (sums to 1 when there are any)."""
    total = sum(counts.values())
    return {label: (n / total if total else 0.0) for label, n in counts.items()}


def visual_space(
    features: np.ndarray, n_clusters: int = 20, pca_dim: int = 32, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(n_items, d) L2-normalised, PCA-reduced features and (n_items,) k-means labels on
    them: the visual clusters the guidelines read and the space their checks measure."""
    from sklearn.cluster import KMeans

    from .features.projection import FeatureProjection, l2_normalise

    reduced = FeatureProjection(l2=True, pca_dim=pca_dim).fit_transform(features)
    k = max(1, min(int(n_clusters), len(reduced)))
    labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(reduced)
    return l2_normalise(reduced), labels.astype(np.int64)


def visual_clusters(
    features: np.ndarray, n_clusters: int = 20, pca_dim: int = 32, seed: int = 0
) -> np.ndarray:
    """(n_items,) cluster label of each item (see ``visual_space``)."""
    return visual_space(features, n_clusters, pca_dim, seed)[1]


def item_artists(data: Interactions) -> np.ndarray:
    """(n_items,) artist column index per item from the "artist=" attributes, -1 if none."""
    artists = np.full(data.n_items, -1, dtype=np.int64)
    if data.item_attributes is None:
        return artists
    columns = [c for c, n in enumerate(data.attribute_names) if str(n).startswith("artist=")]
    if not columns:
        return artists
    sub = data.item_attributes[:, columns].tocsr()
    has = np.diff(sub.indptr) > 0
    artists[has] = np.asarray(sub.indices[sub.indptr[:-1][has]], dtype=np.int64)
    return artists


class TripletSampler:
    """Draws an epoch of triplets from a training log.

    strategy: "uniform", or "guided" (the guidelines, see ``parse_guidelines``).
    real_users_only: keep to guidelines with a real user (VBPR).
    clusters, artists, embedding, basket_seconds, hard_negatives: see GuidelineDraws.
    """

    def __init__(
        self,
        train: Interactions,
        strategy: str = "uniform",
        *,
        guidelines: Any = None,
        clusters: np.ndarray | None = None,
        artists: np.ndarray | None = None,
        embedding: np.ndarray | None = None,
        basket_seconds: float = 0.0,
        hard_negatives: float = HARD_NEGATIVES,
        max_profile: int = 50,
        real_users_only: bool = False,
        model: str = "",
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"sampling must be one of {STRATEGIES}, not {strategy!r}")
        if strategy == "uniform" and guidelines not in (None, ""):
            raise ValueError("guidelines choose among CuratorNet's: set sampling='guided'")
        self.strategy = strategy
        self.shares = (
            {UNIFORM: 1.0}
            if strategy == "uniform"
            else parse_guidelines(guidelines, real_users_only=real_users_only, model=model)
        )
        self.max_profile = int(max_profile)
        self.draws = GuidelineDraws(
            train,
            clusters=clusters,
            artists=artists,
            embedding=embedding,
            basket_seconds=basket_seconds,
            hard_negatives=hard_negatives,
        )

    @property
    def labels(self) -> tuple[str, ...]:
        """What this sampler can report: its guidelines, and the fallback when guided."""
        return tuple(self.shares) + ((FALLBACK,) if self.strategy == "guided" else ())

    def sample(self, rng: np.random.Generator, n: int) -> Triplets:
        """``n`` triplets, each guideline its share (largest remainder), in blocks; fewer
        only when even a uniform triplet cannot be drawn (no user with a profile)."""
        users, positives, negatives, lengths, items, kinds = [], [], [], [], [], []
        for name, quota in _quotas(int(n), self.shares).items():
            draw = getattr(self.draws, name)
            for _ in range(quota):
                label, drawn = name, None
                for _ in range(ATTEMPTS):
                    drawn = draw(rng)
                    if drawn is not None:
                        break
                if drawn is None:
                    label, drawn = FALLBACK, self.draws.uniform(rng)
                if drawn is None:
                    continue
                user, profile, positive, negative = drawn
                profile = profile[-self.max_profile :] if self.max_profile > 0 else profile
                users.append(user)
                positives.append(positive)
                negatives.append(negative)
                lengths.append(len(profile))
                items.append(profile)
                kinds.append(LABELS.index(label))
        return Triplets(
            users=np.asarray(users, dtype=np.int64),
            positives=np.asarray(positives, dtype=np.int64),
            negatives=np.asarray(negatives, dtype=np.int64),
            profile_ptr=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
            profile_items=(
                np.concatenate(items).astype(np.int64) if items else np.zeros(0, np.int64)
            ),
            guideline=np.asarray(kinds, dtype=np.int8),
        )


def _quotas(n: int, shares: Mapping[str, float]) -> dict[str, int]:
    """n split by shares, exactly: floors, then the largest remainders get one more."""
    raw = {name: n * share for name, share in shares.items()}
    quotas = {name: int(np.floor(value)) for name, value in raw.items()}
    left = n - sum(quotas.values())
    for name in sorted(raw, key=lambda k: quotas[k] - raw[k])[:left]:
        quotas[name] += 1
    return quotas
