"""Training triplets for profile-based visual models: uniform, or CuratorNet's guidelines.

A triplet is (user, profile, positive, negative): the profile is a set of items the
model pools into a user vector (CuratorNet), the user index is what per-user models use
(VBPR; -1 for an artificial profile). CuratorNet's paper (Messina et al. 2020) samples
by six guidelines instead of uniformly; the ones here:

    next_basket            profile = baskets before t, positive from basket t
    missing_basket         profile = every basket but one, positive from that one
    artist_cluster         positive: an unseen work by an artist of the profile, in a
                           visual cluster of the profile; negative: neither
    fake_profile_cluster   profile = one random work, positive from its visual cluster,
                           negative from another cluster
    fake_profile_artist    profile = one random work, positive by the same artist (same
                           cluster when there is one), negative by another artist
    uniform                profile = the user's other items, positive one of theirs

Negatives of real-user triplets are never items the user consumed. Visual clusters are
k-means clusters of PCA-reduced item features; baskets are a user's purchases within
``basket_seconds`` of each other (one day by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Interactions

GUIDELINES = (
    "next_basket",
    "missing_basket",
    "artist_cluster",
    "fake_profile_cluster",
    "fake_profile_artist",
)
STRATEGIES = ("uniform", "guided")
REAL_USER_GUIDELINES = ("next_basket", "missing_basket", "artist_cluster", "uniform")


@dataclass
class Triplets:
    """N triplets; profile of triplet t is profile_items[profile_ptr[t]:profile_ptr[t+1]]."""

    users: np.ndarray  # (N,) int64, -1 for artificial profiles
    positives: np.ndarray  # (N,) int64
    negatives: np.ndarray  # (N,) int64
    profile_ptr: np.ndarray  # (N + 1,) int64
    profile_items: np.ndarray  # (total,) int64
    guideline: np.ndarray  # (N,) int8 index into GUIDELINES + ("uniform",)

    def __len__(self) -> int:
        return len(self.users)

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


def visual_clusters(
    features: np.ndarray, n_clusters: int = 20, pca_dim: int = 32, seed: int = 0
) -> np.ndarray:
    """(n_items,) cluster label of each item: k-means on PCA-reduced, L2-normalised
    features."""
    from sklearn.cluster import KMeans

    from .features.projection import FeatureProjection

    reduced = FeatureProjection(l2=True, pca_dim=pca_dim).fit_transform(features)
    k = max(1, min(int(n_clusters), len(reduced)))
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(reduced).astype(np.int64)


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

    strategy: "uniform" or "guided" (the guidelines in ``weights`` proportions).
    real_users_only: keep only guidelines with a real user (for VBPR, which has per-user
    parameters and cannot use an artificial profile).
    """

    def __init__(
        self,
        train: Interactions,
        strategy: str = "uniform",
        *,
        clusters: np.ndarray | None = None,
        artists: np.ndarray | None = None,
        weights: dict[str, float] | None = None,
        basket_seconds: float = 86400.0,
        max_profile: int = 50,
        real_users_only: bool = False,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"sampling must be one of {STRATEGIES}, not {strategy!r}")
        self.strategy = strategy
        self.n_items = train.n_items
        self.max_profile = int(max_profile)
        self.profiles = train.profiles()  # time order, repeats dropped
        self.seen = [set(p.tolist()) for p in self.profiles]
        self.users = np.flatnonzero([len(p) > 0 for p in self.profiles])
        self.baskets = self._baskets(train, basket_seconds)
        self.clusters = clusters if clusters is not None else np.zeros(self.n_items, np.int64)
        self.artists = artists if artists is not None else np.full(self.n_items, -1, np.int64)
        chosen = weights or {g: 1.0 for g in GUIDELINES}
        if real_users_only:
            chosen = {g: w for g, w in chosen.items() if g in REAL_USER_GUIDELINES}
        unknown = set(chosen) - set(GUIDELINES) - {"uniform"}
        if unknown:
            raise ValueError(f"unknown guideline(s) {sorted(unknown)}")
        total = sum(chosen.values())
        self.weights = {g: w / total for g, w in chosen.items() if w > 0}
        self._by_cluster = _groups(self.clusters)
        self._by_artist = _groups(self.artists)

    @staticmethod
    def _baskets(train: Interactions, basket_seconds: float) -> list[list[np.ndarray]]:
        """Per user, item arrays of consecutive purchases within basket_seconds."""
        order = train.chronological_order()
        users, items = train.users[order], train.items[order]
        times = train.timestamps[order] if train.timestamps is not None else np.arange(len(order))
        baskets: list[list[np.ndarray]] = [[] for _ in range(train.n_users)]
        bounds = np.searchsorted(users, np.arange(train.n_users + 1))
        for user in range(train.n_users):
            a, b = bounds[user], bounds[user + 1]
            if a == b:
                continue
            gaps = np.flatnonzero(np.diff(times[a:b]) > basket_seconds) + 1
            for part in np.split(items[a:b], gaps):
                baskets[user].append(np.unique(part))
        return baskets

    def sample(self, rng: np.random.Generator, n: int) -> Triplets:
        """``n`` triplets (fewer if a guideline finds no valid case for some draws)."""
        if self.strategy == "uniform":
            names = ["uniform"] * n
        else:
            keys = list(self.weights)
            names = rng.choice(keys, size=n, p=[self.weights[k] for k in keys]).tolist()
        users, positives, negatives, lengths, items, kinds = [], [], [], [], [], []
        labels = {g: i for i, g in enumerate((*GUIDELINES, "uniform"))}
        for name in names:
            drawn = getattr(self, f"_{name}")(rng)
            if drawn is None:
                drawn = self._uniform(rng)
                name = "uniform"
            if drawn is None:
                continue
            user, profile, positive, negative = drawn
            if len(profile) > self.max_profile:
                profile = profile[-self.max_profile :]
            users.append(user)
            positives.append(positive)
            negatives.append(negative)
            lengths.append(len(profile))
            items.append(profile)
            kinds.append(labels[name])
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

    # ----------------------------------------------------------- helpers
    def _unseen(self, rng, user: int, pool: np.ndarray | None = None) -> int | None:
        """A random item the user never consumed, from ``pool`` when given."""
        seen = self.seen[user] if user >= 0 else set()
        for _ in range(30):
            item = int(rng.integers(self.n_items) if pool is None else rng.choice(pool))
            if item not in seen:
                return item
        return None

    def _user(self, rng, minimum_items: int = 2) -> int | None:
        for _ in range(10):
            user = int(rng.choice(self.users))
            if len(self.profiles[user]) >= minimum_items:
                return user
        return None

    # ----------------------------------------------------------- guidelines
    def _uniform(self, rng):
        user = self._user(rng, 1)
        if user is None:
            return None
        profile = self.profiles[user]
        pick = int(rng.integers(len(profile)))
        negative = self._unseen(rng, user)
        if negative is None:
            return None
        rest = np.delete(profile, pick)
        return user, rest, int(profile[pick]), negative

    def _next_basket(self, rng):
        user = self._user(rng)
        if user is None or len(self.baskets[user]) < 2:
            return None
        t = int(rng.integers(1, len(self.baskets[user])))
        profile = np.concatenate(self.baskets[user][:t])
        positive = int(rng.choice(self.baskets[user][t]))
        negative = self._unseen(rng, user)
        return None if negative is None else (user, profile, positive, negative)

    def _missing_basket(self, rng):
        user = self._user(rng)
        if user is None or len(self.baskets[user]) < 2:
            return None
        held = int(rng.integers(len(self.baskets[user])))
        profile = np.concatenate([b for i, b in enumerate(self.baskets[user]) if i != held])
        positive = int(rng.choice(self.baskets[user][held]))
        negative = self._unseen(rng, user)
        return None if negative is None else (user, profile, positive, negative)

    def _artist_cluster(self, rng):
        user = self._user(rng, 1)
        if user is None:
            return None
        profile = self.profiles[user]
        artists = set(self.artists[profile].tolist()) - {-1}
        clusters = set(self.clusters[profile].tolist())
        matching = np.flatnonzero(
            np.isin(self.artists, list(artists)) & np.isin(self.clusters, list(clusters))
        )
        opposite = np.flatnonzero(
            ~np.isin(self.artists, list(artists)) & ~np.isin(self.clusters, list(clusters))
        )
        if not len(matching) or not len(opposite):
            return None
        positive = self._unseen(rng, user, matching)
        negative = self._unseen(rng, user, opposite)
        if positive is None or negative is None:
            return None
        return user, profile, positive, negative

    def _fake_profile_cluster(self, rng):
        item = int(rng.integers(self.n_items))
        same = self._by_cluster.get(int(self.clusters[item]), np.zeros(0, np.int64))
        same = same[same != item]
        other = np.flatnonzero(self.clusters != self.clusters[item])
        if not len(same) or not len(other):
            return None
        return -1, np.array([item]), int(rng.choice(same)), int(rng.choice(other))

    def _fake_profile_artist(self, rng):
        item = int(rng.integers(self.n_items))
        artist = int(self.artists[item])
        if artist < 0:
            return None
        same = self._by_artist.get(artist, np.zeros(0, np.int64))
        same = same[same != item]
        in_cluster = same[self.clusters[same] == self.clusters[item]]
        other = np.flatnonzero((self.artists != artist) & (self.artists >= 0))
        if not len(same) or not len(other):
            return None
        positive = int(rng.choice(in_cluster if len(in_cluster) else same))
        return -1, np.array([item]), positive, int(rng.choice(other))


def _groups(labels: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(labels, kind="stable")
    values, starts = np.unique(labels[order], return_index=True)
    bounds = list(starts) + [len(order)]
    return {int(v): order[bounds[i] : bounds[i + 1]] for i, v in enumerate(values)}
