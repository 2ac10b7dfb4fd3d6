"""One triplet at a time for each of CuratorNet's sampling guidelines.

The definitions (the paper's, with the details its authors' notebook settles) are in
``recengine.guided_sampling``, which mixes these draws into an epoch. A draw returns
(user, profile, positive, negative), user -1 for an artificial profile, or None when the
case it picked has no valid triplet; the sampler then counts a fallback, never hides it.

Everything here is indexed by the training catalogue (``train.n_items`` works): the
clusters, artists and embedding must have exactly that many rows, so a held-out work,
which is not in that catalogue, can be neither a profile, a positive nor a negative.
"""

from __future__ import annotations

import numpy as np

from .data import Interactions

Draw = tuple[int, np.ndarray, int, int] | None
Basket = tuple[np.ndarray, float, float]  # works, first time, last time
PURCHASE = "purchase"
TRIES = 20  # the authors' notebook gives up on a case after 20 rejected candidates
HARD_NEGATIVES = 0.6  # their FINE_GRAINED_THRESHOLD: negatives from the anchor's cluster
VISUAL_MARGIN = 0.1  # their VISUAL_CONFIDENCE_THRESHOLD for single-work artist triplets
IDENTICAL = 1e-6  # cosine this close to 1 in one cluster: the same image listed twice


class GuidelineDraws:
    """Per-user histories built as the paper builds them, and one draw per guideline.

    profile (the paper's I+_u): every training work of the user in time order (first
        event kept), of any kind: what CuratorNet pools when it serves that user, and what
        a negative may never be.
    baskets: the user's purchases grouped by time, in time order: events at the same
        timestamp form one basket (as in the paper's data, a purchase session), or within
        ``basket_seconds`` of the previous one when that is > 0. Purchases are the events
        of kind "purchase" when the log has kinds, every event when it has none.
    clusters, artists: (n_items,) labels, -1 where unknown; an unknown label is never a
        label a user "likes", so with no labels at all a condition on them is vacuous.
    embedding: (n_items, d) features the clusters were computed on, for the authors'
        visual checks (identical images, single-work artist triplets); None skips them.
    """

    def __init__(
        self,
        train: Interactions,
        *,
        clusters: np.ndarray | None = None,
        artists: np.ndarray | None = None,
        embedding: np.ndarray | None = None,
        basket_seconds: float = 0.0,
        hard_negatives: float = HARD_NEGATIVES,
    ) -> None:
        n = train.n_items
        self.n_items = n
        self.clusters = _labels(clusters, n, "clusters")
        self.artists = _labels(artists, n, "artists")
        self.embedding = None
        if embedding is not None:
            embedding = np.asarray(embedding, dtype=np.float32)
            if len(embedding) != n:
                raise ValueError(f"embedding has {len(embedding)} rows for {n} training works")
            norms = np.linalg.norm(embedding, axis=1, keepdims=True)
            self.embedding = embedding / np.where(norms > 0, norms, 1.0)
        if not 0.0 <= float(hard_negatives) <= 1.0:
            raise ValueError(f"hard_negatives must be a share in [0, 1], not {hard_negatives}")
        self.hard_negatives = float(hard_negatives)
        self.profiles = train.profiles()
        self.seen = [set(p.tolist()) for p in self.profiles]
        self._events(train)
        self.baskets = self._baskets(train, float(basket_seconds))
        self.by_cluster = _groups(self.clusters)
        self.by_artist = _groups(self.artists)
        self.cluster_labels = np.asarray(sorted(self.by_cluster), dtype=np.int64)
        # The valid cases of each guideline, drawn uniformly as the notebook spreads its
        # samples evenly over valid users (and, within a user, over baskets).
        self.users = np.flatnonzero([len(p) > 0 for p in self.profiles])
        self.next_users = np.flatnonzero([len(b) >= 2 for b in self.baskets])
        self.full_baskets = [
            np.flatnonzero([len(items) >= 2 for items, _, _ in b]) for b in self.baskets
        ]
        self.missing_users = np.flatnonzero([len(b) > 0 for b in self.full_baskets])
        sizes = {a: len(items) for a, items in self.by_artist.items()}
        self.artist_items = np.flatnonzero([sizes.get(int(a), 0) >= 2 for a in self.artists])
        self._liked_cache: dict[int, tuple[set, set, np.ndarray, np.ndarray]] = {}

    # ----------------------------------------------------------- histories
    def _events(self, train: Interactions) -> None:
        order = train.chronological_order()
        times = train.timestamps[order] if train.timestamps is not None else np.arange(len(order))
        bounds = np.searchsorted(train.users[order], np.arange(train.n_users + 1))
        items = train.items[order]
        self.event_items = [items[bounds[u] : bounds[u + 1]] for u in range(train.n_users)]
        self.event_times = [times[bounds[u] : bounds[u + 1]] for u in range(train.n_users)]

    @staticmethod
    def _baskets(
        train: Interactions, seconds: float
    ) -> list[list[tuple[np.ndarray, float, float]]]:
        """Per user, (works, first time, last time) of each purchase basket, in time order."""
        purchases = train.select(train.kind_mask([PURCHASE]))
        order = purchases.chronological_order()
        users, items = purchases.users[order], purchases.items[order]
        times = (
            purchases.timestamps[order]
            if purchases.timestamps is not None
            else np.arange(len(order), dtype=float)  # no times: every purchase its own basket
        )
        bounds = np.searchsorted(users, np.arange(train.n_users + 1))
        baskets: list[list[Basket]] = []
        for user in range(train.n_users):
            a, b = bounds[user], bounds[user + 1]
            cuts = np.flatnonzero(np.diff(times[a:b]) > seconds) + 1
            parts = zip(np.split(items[a:b], cuts), np.split(times[a:b], cuts), strict=True)
            baskets.append(
                [(_first_seen(i), float(t[0]), float(t[-1])) for i, t in parts if len(i)]
            )
        return baskets

    def profile_before(self, user: int, when: float, inclusive: bool = False) -> np.ndarray:
        """The user's works with an event before ``when`` (or at it), first event kept."""
        side = "right" if inclusive else "left"
        cut = np.searchsorted(self.event_times[user], when, side=side)
        return _first_seen(self.event_items[user][:cut])

    def _liked(self, user: int) -> tuple[set, set, np.ndarray, np.ndarray]:
        """Artists and clusters of the user's profile, as sets and as arrays to draw from,
        and the clusters the user never touched."""
        cached = self._liked_cache.get(user)
        if cached is None:
            profile = self.profiles[user]
            artists = set(self.artists[profile].tolist()) - {-1}
            clusters = set(self.clusters[profile].tolist()) - {-1}
            unliked = np.asarray([c for c in self.cluster_labels if c not in clusters], np.int64)
            cached = (artists, clusters, np.asarray(sorted(artists), np.int64), unliked)
            self._liked_cache[user] = cached
        return cached

    # ----------------------------------------------------------- negatives
    def cold_negative(self, rng: np.random.Generator, user: int) -> int | None:
        """A work the user never consumed, in no visual cluster and by no artist the user
        likes (the paper's negative for guidelines 1-3). Like the notebook, a cluster the
        user never touched is drawn first, then a work in it."""
        artists, clusters, _, unliked = self._liked(user)
        if len(self.cluster_labels) and not len(unliked):
            return None
        for _ in range(TRIES):
            if len(self.cluster_labels):
                item = _pick(rng, self.by_cluster[int(_pick(rng, unliked))])
            else:
                item = int(rng.integers(self.n_items))
            if (
                item not in self.seen[user]
                and int(self.artists[item]) not in artists
                and int(self.clusters[item]) not in clusters
            ):
                return item
        return None

    def mixed_negative(self, rng: np.random.Generator, anchor: int) -> int:
        """The notebook's negative for guidelines 4-6: with probability hard_negatives a
        work of the anchor's visual cluster (a hard one), else one of a random cluster."""
        label = int(self.clusters[anchor])
        if label >= 0 and rng.random() < self.hard_negatives:
            return _pick(rng, self.by_cluster[label])
        if len(self.cluster_labels):
            return _pick(rng, self.by_cluster[int(_pick(rng, self.cluster_labels))])
        return int(rng.integers(self.n_items))

    def distinct(self, positive: int, negative: int) -> bool:
        """False when the two are one work, or one image (same cluster, cosine ~ 1): the
        notebook drops such triplets, which no model could rank."""
        if positive == negative:
            return False
        if self.embedding is None or self.clusters[positive] != self.clusters[negative]:
            return True
        cosine = float(self.embedding[positive] @ self.embedding[negative])
        return abs(cosine - 1.0) >= IDENTICAL

    def visually_acceptable(self, query: int, positive: int, negative: int) -> bool:
        """The notebook's check that a same-artist positive is not visually worse than a
        negative: cluster agreement decides, else cosine(q, p) > cosine(q, n) + margin."""
        cq, cp, cn = (int(self.clusters[i]) for i in (query, positive, negative))
        if cq >= 0 and cq == cp and cq != cn:
            return True
        if cq >= 0 and cq == cn and cq != cp:
            return False
        if self.embedding is None:
            return True
        e = self.embedding
        return float(e[query] @ e[positive]) > float(e[query] @ e[negative]) + VISUAL_MARGIN

    def _triplet(self, user: int, profile: np.ndarray, positive: int, negative) -> Draw:
        if negative is None or not self.distinct(positive, negative):
            return None
        return user, profile, int(positive), int(negative)

    # ----------------------------------------------------------- guidelines
    def missing_item(self, rng: np.random.Generator) -> Draw:
        if not len(self.missing_users):
            return None
        user = _pick(rng, self.missing_users)
        items, _, end = self.baskets[user][_pick(rng, self.full_baskets[user])]
        positive = _pick(rng, items)
        profile = self.profile_before(user, end, inclusive=True)
        profile = profile[profile != positive]
        return self._triplet(user, profile, positive, self.cold_negative(rng, user))

    def next_basket(self, rng: np.random.Generator) -> Draw:
        if not len(self.next_users):
            return None
        user = _pick(rng, self.next_users)
        baskets = self.baskets[user]
        items, start, _ = baskets[1 + int(rng.integers(len(baskets) - 1))]
        profile = self.profile_before(user, start)
        fresh = items[~np.isin(items, profile)]  # a work bought again is not news
        if not len(fresh):
            return None
        return self._triplet(user, profile, _pick(rng, fresh), self.cold_negative(rng, user))

    def artist_cluster(self, rng: np.random.Generator) -> Draw:
        if not len(self.users):
            return None
        user = _pick(rng, self.users)
        _, clusters, artists, _ = self._liked(user)
        if not len(artists):
            return None
        for _ in range(TRIES):
            item = _pick(rng, self.by_artist[int(_pick(rng, artists))])
            in_cluster = int(self.clusters[item]) in clusters or not len(self.cluster_labels)
            if in_cluster and item not in self.seen[user]:
                negative = self.cold_negative(rng, user)
                return self._triplet(user, self.profiles[user], item, negative)
        return None

    def profile_items(self, rng: np.random.Generator) -> Draw:
        if not len(self.users):
            return None
        user = _pick(rng, self.users)
        profile = self.profiles[user]
        positive = _pick(rng, profile)
        for _ in range(TRIES):
            negative = self.mixed_negative(rng, positive)
            if negative not in self.seen[user] and self.distinct(positive, negative):
                return user, profile, positive, negative
        return None

    def fake_profile_item(self, rng: np.random.Generator) -> Draw:
        item = int(rng.integers(self.n_items))
        for _ in range(TRIES):
            negative = self.mixed_negative(rng, item)
            if self.distinct(item, negative):
                return -1, np.array([item], dtype=np.int64), item, negative
        return None

    def fake_profile_artist(self, rng: np.random.Generator) -> Draw:
        if not len(self.artist_items):
            return None
        item = _pick(rng, self.artist_items)
        artist = int(self.artists[item])
        same = self.by_artist[artist]
        positive = _pick(rng, same[same != item])
        for _ in range(TRIES):
            negative = self.mixed_negative(rng, item)
            other = int(self.artists[negative])
            if other < 0 or other == artist or not self.distinct(positive, negative):
                continue
            if self.visually_acceptable(item, positive, negative):
                return -1, np.array([item], dtype=np.int64), positive, negative
        return None

    def uniform(self, rng: np.random.Generator) -> Draw:
        """Not the paper's: the profile is the user's other works, the positive one of
        theirs, the negative any work they never consumed (also the fallback)."""
        if not len(self.users):
            return None
        user = _pick(rng, self.users)
        profile = self.profiles[user]
        pick = int(rng.integers(len(profile)))
        for _ in range(TRIES):
            negative = int(rng.integers(self.n_items))
            if negative not in self.seen[user]:
                return user, np.delete(profile, pick), int(profile[pick]), negative
        return None


def _labels(values: np.ndarray | None, n: int, name: str) -> np.ndarray:
    if values is None:
        return np.full(n, -1, dtype=np.int64)
    values = np.asarray(values, dtype=np.int64)
    if values.shape != (n,):
        raise ValueError(f"{name} has shape {values.shape}, expected ({n},): one per training work")
    return values


def _groups(labels: np.ndarray) -> dict[int, np.ndarray]:
    """label -> the works carrying it (unknown labels, -1, left out)."""
    known = np.flatnonzero(labels >= 0)
    order = known[np.argsort(labels[known], kind="stable")]
    values, starts = np.unique(labels[order], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    return {int(v): order[bounds[i] : bounds[i + 1]] for i, v in enumerate(values)}


def _first_seen(items: np.ndarray) -> np.ndarray:
    """Distinct works in order of first appearance."""
    _, first = np.unique(items, return_index=True)
    return items[np.sort(first)].astype(np.int64)


def _pick(rng: np.random.Generator, values: np.ndarray) -> int:
    return int(values[rng.integers(len(values))])
