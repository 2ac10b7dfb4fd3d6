"""Interaction logs as integer-indexed numpy arrays.

Everything downstream (splits, models, metrics) works on dense integer indices;
external ids (strings from the web app) only appear in ``user_ids`` / ``item_ids``
so that a split or a saved model can always map back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp


def _as_str_array(values: Iterable) -> np.ndarray:
    """External ids as a 1-D array of Python ``str`` (object dtype keeps them exact)."""
    return np.array([str(v) for v in values], dtype=object)


def id_ranks(ids: Sequence[str]) -> np.ndarray:
    """(len(ids),) int64 position of each external id in ascending order: as integers
    when every id is a plainly written integer (str(int(id)) == id), else as strings."""
    keys: list = list(ids)
    try:
        numbers = [int(key) for key in keys]
    except ValueError:
        numbers = None
    if numbers is not None and all(str(n) == key for n, key in zip(numbers, keys, strict=True)):
        keys = numbers  # "10" after "9", as in a file of integer ids read as numbers
    order = sorted(range(len(keys)), key=keys.__getitem__)
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[order] = np.arange(len(keys))
    return ranks


def _optional(values, dtype, name: str, length: int | None = None) -> np.ndarray | None:
    if values is None:
        return None
    array = np.ascontiguousarray(values, dtype=dtype)
    if length is not None and len(array) != length:
        raise ValueError(f"{name} has {len(array)} rows, expected {length}")
    return array


def _index_of(catalogue: np.ndarray, external: Sequence, kind: str, strict: bool) -> np.ndarray:
    """Map external ids to positions in ``catalogue``; -1 (or ValueError if strict) if unknown."""
    lookup = {key: position for position, key in enumerate(catalogue)}
    result = np.empty(len(external), dtype=np.int64)
    for n, key in enumerate(external):
        position = lookup.get(str(key), -1)
        if position < 0 and strict:
            raise ValueError(f"interaction refers to unknown {kind} id {str(key)!r}")
        result[n] = position
    return result


@dataclass
class Interactions:
    """A log of (user, item) events plus optional side information.

    Shapes (n = number of interactions):
        user_ids: (n_users,) external user ids (str)
        item_ids: (n_items,) external item ids (str), the full catalogue
        users, items: (n,) int64 indices into user_ids / item_ids
        timestamps: (n,) float64 seconds, or None
        ratings: (n,) float32, or None
        item_features: (n_items, d) float32, or None (image features)
        item_attributes: (n_items, n_attributes) binary float32 CSR, or None (side
            information: artist, medium, style tags, price band, ...)
        attribute_names: (n_attributes,) str names of those columns, or None
        item_images: (n_items,) image file paths (str, "" where an item has none), or None
        user_latent: (n_users, d) float32, or None (demo gallery's hidden tastes)
        item_latent: (n_items, d) float32, or None
        kinds: (n,) int16 codes into ``kind_names``, or None (every event of one kind)
        kind_names: (n_kinds,) str event kinds ("view", "like", "purchase", or whatever
            an import names), or None
        weights: (n,) float32 weight of each event, or None (all 1)

    An event is the unit of truth: what was sold when, which works a profile holds and
    which events a protocol ranks are all derived from (user, item, time, kind).
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray | None = None
    ratings: np.ndarray | None = None
    item_features: np.ndarray | None = None
    user_latent: np.ndarray | None = None
    item_latent: np.ndarray | None = None
    item_attributes: sp.csr_matrix | None = None
    attribute_names: np.ndarray | None = None
    item_images: np.ndarray | None = None
    kinds: np.ndarray | None = None
    kind_names: np.ndarray | None = None
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.user_ids = _as_str_array(self.user_ids)
        self.item_ids = _as_str_array(self.item_ids)
        self.users = np.ascontiguousarray(self.users, dtype=np.int64).reshape(-1)
        self.items = np.ascontiguousarray(self.items, dtype=np.int64).reshape(-1)
        n = len(self.users)
        if len(self.items) != n:
            raise ValueError(f"users has {n} rows but items has {len(self.items)}")
        self.timestamps = _optional(self.timestamps, np.float64, "timestamps", n)
        self.ratings = _optional(self.ratings, np.float32, "ratings", n)
        self.weights = _optional(self.weights, np.float32, "weights", n)
        self.kinds = _optional(self.kinds, np.int16, "kinds", n)
        if (self.kinds is None) != (self.kind_names is None):
            raise ValueError("kinds and kind_names come together")
        if self.kind_names is not None:
            self.kind_names = _as_str_array(self.kind_names)
            if n and (self.kinds.min() < 0 or self.kinds.max() >= len(self.kind_names)):
                raise ValueError("kinds contains codes outside kind_names")
        self.item_features = _optional(
            self.item_features, np.float32, "item_features", self.n_items
        )
        self.user_latent = _optional(self.user_latent, np.float32, "user_latent", self.n_users)
        self.item_latent = _optional(self.item_latent, np.float32, "item_latent", self.n_items)
        if self.item_images is not None:
            self.item_images = np.array(
                ["" if p is None else str(p) for p in self.item_images], dtype=object
            )
            if len(self.item_images) != self.n_items:
                raise ValueError(
                    f"item_images has {len(self.item_images)} entries, expected {self.n_items}"
                )
        if self.item_attributes is not None:
            self.item_attributes = sp.csr_matrix(self.item_attributes, dtype=np.float32)
            if self.item_attributes.shape[0] != self.n_items:
                raise ValueError(
                    f"item_attributes has {self.item_attributes.shape[0]} rows, "
                    f"expected {self.n_items}"
                )
            n_attributes = self.item_attributes.shape[1]
            if self.attribute_names is None:
                self.attribute_names = [f"a{n}" for n in range(n_attributes)]
            self.attribute_names = _as_str_array(self.attribute_names)
            if len(self.attribute_names) != n_attributes:
                raise ValueError(
                    f"attribute_names has {len(self.attribute_names)} entries, "
                    f"expected {n_attributes}"
                )
        if n and (self.users.min() < 0 or self.users.max() >= self.n_users):
            raise ValueError("users contains indices outside user_ids")
        if n and (self.items.min() < 0 or self.items.max() >= self.n_items):
            raise ValueError("items contains indices outside item_ids")

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    @property
    def len(self) -> int:
        """Number of interactions (same as ``len(data)``)."""
        return len(self.users)

    @classmethod
    def from_records(
        cls,
        user_ids: Sequence,
        item_ids: Sequence,
        timestamps: Sequence[float] | None = None,
        ratings: Sequence[float] | None = None,
        all_user_ids: Sequence | None = None,
        all_item_ids: Sequence | None = None,
        item_features: np.ndarray | None = None,
        user_latent: np.ndarray | None = None,
        item_latent: np.ndarray | None = None,
        item_attributes: sp.spmatrix | None = None,
        attribute_names: Sequence[str] | None = None,
        item_images: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        weights: Sequence[float] | None = None,
    ) -> Interactions:
        """Build from per-interaction external ids.

        ``all_item_ids`` fixes the catalogue order, so items nobody touched still
        exist (cold start); without it the order is first-seen. ``item_features``
        / ``item_latent`` rows follow that order, ``user_latent`` rows follow
        ``all_user_ids`` (or first-seen users). Ids are compared as strings.
        """
        if len(user_ids) != len(item_ids):
            raise ValueError(f"{len(user_ids)} user ids but {len(item_ids)} item ids")
        user_names = [str(u) for u in user_ids]
        item_names = [str(i) for i in item_ids]
        user_catalogue = _as_str_array(
            dict.fromkeys(user_names) if all_user_ids is None else all_user_ids
        )
        item_catalogue = _as_str_array(
            dict.fromkeys(item_names) if all_item_ids is None else all_item_ids
        )
        for kind, catalogue in (("user", user_catalogue), ("item", item_catalogue)):
            if len(set(catalogue)) != len(catalogue):
                raise ValueError(f"all_{kind}_ids contains duplicates")
        kind_codes = kind_names = None
        if kinds is not None:
            if len(kinds) != len(user_ids):
                raise ValueError(f"{len(kinds)} kinds for {len(user_ids)} events")
            kind_names, kind_codes = np.unique(
                np.asarray([str(k) for k in kinds], dtype=str), return_inverse=True
            )
        return cls(
            user_ids=user_catalogue,
            item_ids=item_catalogue,
            kinds=kind_codes,
            kind_names=kind_names,
            weights=weights,
            users=_index_of(user_catalogue, user_names, "user", strict=True),
            items=_index_of(item_catalogue, item_names, "item", strict=True),
            timestamps=timestamps,
            ratings=ratings,
            item_features=item_features,
            user_latent=user_latent,
            item_latent=item_latent,
            item_attributes=item_attributes,
            attribute_names=attribute_names,
            item_images=item_images,
        )

    def matrix(self) -> sp.csr_matrix:
        """Binary (n_users, n_items) float32 CSR; repeated events collapse to 1."""
        ones = np.ones(len(self), dtype=np.float32)
        matrix = sp.csr_matrix((ones, (self.users, self.items)), shape=(self.n_users, self.n_items))
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix

    def rating_matrix(self) -> sp.csr_matrix:
        """(n_users, n_items) float32 CSR of ratings; a repeated pair keeps its last rating."""
        if self.ratings is None:
            raise ValueError("these interactions have no ratings")
        order = self.chronological_order()
        pair = self.users[order] * self.n_items + self.items[order]
        # the last occurrence of each pair in time order
        _, last_rev = np.unique(pair[::-1], return_index=True)
        last = order[len(order) - 1 - last_rev]
        return sp.csr_matrix(
            (self.ratings[last], (self.users[last], self.items[last])),
            shape=(self.n_users, self.n_items),
        )

    def item_popularity(self) -> np.ndarray:
        """(n_items,) int64 number of distinct users per item."""
        return np.bincount(self.matrix().indices, minlength=self.n_items).astype(np.int64)

    def select(self, mask: np.ndarray) -> Interactions:
        """Subset of rows (bool mask (n,) or integer indices); index maps and side arrays kept."""
        mask = np.asarray(mask)
        if mask.dtype == bool and len(mask) != len(self):
            raise ValueError(f"mask has {len(mask)} entries, expected {len(self)}")
        return replace(
            self,
            users=self.users[mask],
            items=self.items[mask],
            timestamps=None if self.timestamps is None else self.timestamps[mask],
            ratings=None if self.ratings is None else self.ratings[mask],
            kinds=None if self.kinds is None else self.kinds[mask],
            weights=None if self.weights is None else self.weights[mask],
        )

    def kind_of_rows(self) -> np.ndarray:
        """(n,) str kind of every event ("event" where the log has no kinds)."""
        if self.kinds is None:
            return np.full(len(self), "event", dtype=object)
        return self.kind_names[self.kinds]

    def kind_mask(self, kinds: Sequence[str] | None) -> np.ndarray:
        """(n,) bool: events of one of ``kinds`` (None: every event). A log without kinds
        has only unnamed events, which every kind matches: a benchmark file of plain
        interactions is its own purchase log."""
        if kinds is None or self.kinds is None:
            return np.ones(len(self), dtype=bool)
        unknown = [k for k in kinds if k not in set(self.kind_names.tolist())]
        wanted = np.isin(self.kind_names, [k for k in kinds if k not in unknown])
        return wanted[self.kinds]

    def of_kinds(self, kinds: Sequence[str] | None) -> Interactions:
        """The events of the given kinds (see ``kind_mask``)."""
        return self.select(self.kind_mask(kinds))

    def with_items(self, keep: np.ndarray) -> Interactions:
        """A catalogue of only the items in ``keep`` ((n_items,) bool), re-indexed in their
        order, with their side arrays. Used to train without held-out works: they are in
        no ID table, no sampler and no cluster. Every event must be of a kept item."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.n_items,):
            raise ValueError(f"keep must have shape ({self.n_items},)")
        if len(self) and not keep[self.items].all():
            first = self.item_ids[self.items[~keep[self.items]][0]]
            raise ValueError(f"an event refers to item {first!r}, which is not kept")
        new_index = np.cumsum(keep) - 1

        def rows(array):
            return None if array is None else array[keep]

        return replace(
            self,
            item_ids=self.item_ids[keep],
            items=new_index[self.items],
            item_features=rows(self.item_features),
            item_latent=rows(self.item_latent),
            item_attributes=rows(self.item_attributes),
            item_images=rows(self.item_images),
        )

    def chronological_order(self) -> np.ndarray:
        """(n,) row order grouped by user, then timestamp.

        Events of one user at the same timestamp are ordered by external item id, the
        larger id last (the peers' rule: of tied last events the larger id is held out),
        so the order does not depend on the order of the rows: ids compare as integers
        when every id is one written plainly ("7", "-3"; not "007"), else as strings
        (code-point order). Rows equal in user, time and item, and every row of a log
        without timestamps (where row order is the only time there is), keep their order.
        """
        rows = np.arange(len(self))
        if self.timestamps is None:
            return np.lexsort((rows, self.users))
        order = np.lexsort((rows, self.timestamps, self.users))
        users, times = self.users[order], self.timestamps[order]
        if not ((users[1:] == users[:-1]) & (times[1:] == times[:-1])).any():
            return order  # no ties: the item ranks (a sort of the ids) are not needed
        return np.lexsort((rows, id_ranks(self.item_ids)[self.items], self.timestamps, self.users))

    def profiles(self) -> list[np.ndarray]:
        """Per user (n_users entries): int64 item indices in time order, first occurrence kept."""
        order = self.chronological_order()
        users, items = self.users[order], self.items[order]
        # np.unique returns the first position of each (user, item) pair in the
        # chronological order; sorting those positions restores time order.
        pair = users * self.n_items + items
        _, first = np.unique(pair, return_index=True)
        first.sort()
        users, items = users[first], items[first]
        bounds = np.searchsorted(users, np.arange(self.n_users + 1))
        return [items[bounds[u] : bounds[u + 1]] for u in range(self.n_users)]

    def item_index(self, external_ids: Sequence) -> np.ndarray:
        """(len(external_ids),) int64 item indices, -1 for unknown ids."""
        return _index_of(self.item_ids, list(external_ids), "item", strict=False)

    def user_index(self, external_ids: Sequence) -> np.ndarray:
        """(len(external_ids),) int64 user indices, -1 for unknown ids."""
        return _index_of(self.user_ids, list(external_ids), "user", strict=False)


def concatenate(parts: Sequence[Interactions]) -> Interactions:
    """The events of several parts of one index (a split's train, valid, test) as one log;
    side arrays come from the first part, per-event arrays are joined where all have them."""
    if not parts:
        raise ValueError("nothing to concatenate")
    first = parts[0]

    def join(name):
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else np.concatenate(values)

    for part in parts[1:]:
        if part.n_items != first.n_items or part.n_users != first.n_users:
            raise ValueError("parts must share one index")
        if (part.kind_names is None) != (first.kind_names is None) or (
            part.kind_names is not None and list(part.kind_names) != list(first.kind_names)
        ):
            raise ValueError("parts must share one list of event kinds")
    return replace(
        first,
        users=np.concatenate([p.users for p in parts]),
        items=np.concatenate([p.items for p in parts]),
        timestamps=join("timestamps"),
        ratings=join("ratings"),
        kinds=join("kinds"),
        weights=join("weights"),
    )
