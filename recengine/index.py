"""A faiss index over a model's item vectors, for top-k serving.

Models whose score is a dot product expose ``embeddings()`` -> (user_vectors or None,
item_vectors), biases folded in as an extra dimension; models that pool a profile also
expose ``profile_embeddings(profiles)``. Exact inner-product search (IndexFlatIP) below
``HNSW_FROM`` items, HNSW above: the same top-k as the model's own scoring for exact
search, and milliseconds at a million works. ``allowed`` restricts a search to some items
(unsold works, not the collector's own) inside faiss, so nothing is over-fetched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Exact search stays under 10 ms (p99) to about 100k items on two cores; HNSW from here.
HNSW_FROM = 200_000
HNSW_NEIGHBOURS = 32
# Candidates HNSW keeps while searching: 512 gives ~98% of the exact top-20 at 200k items
# even on structureless random vectors with half the items filtered out, but only ~78% at
# 1M; a thousandth of the catalogue (1,000 at 1M) gives ~90% for about twice the time.
HNSW_EF_SEARCH = 512


def ef_search(n_items: int) -> int:
    return max(HNSW_EF_SEARCH, n_items // 1000)


class ItemIndex:
    def __init__(self, index, n_items: int, kind: str) -> None:
        self.index, self.n_items, self.kind = index, n_items, kind

    @classmethod
    def build(cls, item_vectors: np.ndarray, kind: str = "auto") -> ItemIndex:
        """kind: "flat" (exact), "hnsw" (approximate) or "auto" (by catalogue size)."""
        import faiss

        vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        n, dim = vectors.shape
        if kind == "auto":
            kind = "hnsw" if n >= HNSW_FROM else "flat"
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        else:
            raise ValueError(f"index kind must be flat, hnsw or auto, not {kind!r}")
        index.add(vectors)
        return cls(index, n, kind)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (items (n, k) int64 with -1 padding, scores (n, k) float32) per query.

        allowed: (n_items,) bool; only those items may be returned.
        """
        import faiss

        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(int(k), self.n_items)
        params = None
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=bool)
            if allowed.shape != (self.n_items,):
                raise ValueError(f"allowed must have shape ({self.n_items},)")
            bits = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(self.n_items, faiss.swig_ptr(bits))
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef_search(self.n_items))
            else:
                params = faiss.SearchParameters(sel=selector)
            params._keep = (bits, selector)  # faiss holds raw pointers: keep them alive
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=ef_search(self.n_items))
        scores, items = self.index.search(queries, k, params=params)
        items = items.astype(np.int64)
        scores = np.where(items >= 0, scores, -np.inf).astype(np.float32)
        return items, scores

    def save(self, path: str | Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: str | Path) -> ItemIndex:
        import faiss

        index = faiss.read_index(str(path))
        kind = "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"
        return cls(index, index.ntotal, kind)


def dot_product_vectors(model) -> tuple[np.ndarray | None, np.ndarray] | None:
    """(user_vectors or None, item_vectors) of a model whose score is their dot product,
    or None when the model has no such form (then it is served by scoring)."""
    embeddings = getattr(model, "embeddings", None)
    return embeddings() if callable(embeddings) else None
