"""SLIM (Ning and Karypis 2011): a sparse item-item model learned by ElasticNet.

For every item j: w_j = argmin 1/(2 n_users) ||x_j - X w||^2 + alpha l1_ratio |w|_1
+ alpha (1 - l1_ratio) / 2 ||w||^2, w >= 0, w_jj = 0; scores = X W.

scikit-learn's coordinate-descent ElasticNet solves each regression. As in the SLIM
paper's fSLIM variant, item j may only use its ``candidates`` most similar items
(cosine), which keeps every regression small; with candidates >= n_items - 1 it is
plain SLIM over all items.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from ..data import Interactions
from .base import Callback, Recommender
from .knn import _profile_matrix, top_neighbours
from .registry import register_model


@register_model
class SLIM(Recommender):
    name = "slim"
    defaults = {
        "alpha": 1e-3,
        "l1_ratio": 0.1,
        "candidates": 200,
        "max_iter": 100,
        "tol": 1e-4,
        "seed": 0,
    }
    description = "Sparse non-negative item-item regression (ElasticNet), zero diagonal."
    grid = {"alpha": [1e-4, 1e-3, 1e-2], "l1_ratio": [0.01, 0.1]}

    def _fit(
        self, train: Interactions, valid: Interactions | None, callback: Callback | None
    ) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import ElasticNet

        h = self.hyperparameters
        matrix = sp.csc_matrix(train.matrix(), dtype=np.float64)
        n_items = train.n_items
        if int(h["candidates"]) >= n_items - 1:
            candidates = None
        else:
            candidates = top_neighbours(matrix.T, int(h["candidates"]), shrink=0.0)
        regression = ElasticNet(
            alpha=float(h["alpha"]),
            l1_ratio=float(h["l1_ratio"]),
            positive=True,
            fit_intercept=False,
            copy_X=False,
            selection="random",
            max_iter=int(h["max_iter"]),
            tol=float(h["tol"]),
            random_state=int(h["seed"]),
        )
        rows, cols, values = [], [], []
        report = max(1, n_items // 100)
        everything = np.arange(n_items)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for j in range(n_items):
                target = matrix[:, j]
                if target.nnz == 0:
                    continue
                if candidates is None:
                    features = everything[everything != j]
                else:
                    features = candidates.indices[candidates.indptr[j] : candidates.indptr[j + 1]]
                if len(features) == 0:
                    continue
                regression.fit(matrix[:, features], target.toarray().ravel())
                coef = regression.coef_
                keep = coef > 0
                rows.append(features[keep])
                cols.append(np.full(int(keep.sum()), j))
                values.append(coef[keep].astype(np.float32))
                if callback is not None and j % report == 0:
                    callback(j / n_items, f"SLIM regressions {j}/{n_items}")
        empty = np.zeros(0, dtype=np.int64)
        self.weights = sp.csr_matrix(
            (
                np.concatenate(values) if values else np.zeros(0, np.float32),
                (np.concatenate(rows) if rows else empty, np.concatenate(cols) if cols else empty),
            ),
            shape=(n_items, n_items),
            dtype=np.float32,
        )

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return (self.seen_matrix()[users] @ self.weights).toarray()

    def _score_profiles(self, profiles: list[np.ndarray]) -> np.ndarray:
        return (_profile_matrix(profiles, self.n_items) @ self.weights).toarray()

    def _weights(self) -> dict[str, np.ndarray]:
        w = self.weights
        return {"w_data": w.data, "w_indices": w.indices, "w_indptr": w.indptr}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        n = len(weights["w_indptr"]) - 1
        self.weights = sp.csr_matrix(
            (weights["w_data"], weights["w_indices"], weights["w_indptr"]), shape=(n, n)
        )
