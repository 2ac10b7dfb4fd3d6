"""Post-processing of raw feature vectors: optional L2 normalisation, then optional PCA.

The fitted projection is kept (mean and components) so that a work listed later is
projected exactly like the works it is compared with.
"""

from __future__ import annotations

import numpy as np


def l2_normalise(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class FeatureProjection:
    """x -> [l2] -> [(x - mean) @ components.T], fitted on a catalogue's features.

    pca_dim: keep this many principal components (None: no PCA); capped by the rank the
    data allows (min(n_items, dim)).
    """

    def __init__(self, l2: bool = False, pca_dim: int | None = None) -> None:
        self.l2 = bool(l2)
        self.pca_dim = int(pca_dim) if pca_dim else None
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None
        self.explained_variance_ratio: float | None = None

    def fit(self, features: np.ndarray) -> FeatureProjection:
        x = self._prepare(features)
        if self.pca_dim:
            self.mean = x.mean(axis=0)
            centred = x - self.mean
            # economy SVD: rows of vt are the principal directions
            _, singular, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
            keep = min(self.pca_dim, len(singular))
            self.components = vt[:keep].astype(np.float32)
            variance = singular**2
            self.explained_variance_ratio = float(
                variance[:keep].sum() / max(variance.sum(), 1e-12)
            )
        return self

    def _prepare(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        return l2_normalise(x) if self.l2 else x

    def transform(self, features: np.ndarray) -> np.ndarray:
        x = self._prepare(features)
        if self.pca_dim:
            if self.components is None:
                raise RuntimeError("fit the projection before transforming")
            x = (x - self.mean) @ self.components.T
        return np.asarray(x, dtype=np.float32)

    def fit_transform(self, features: np.ndarray) -> np.ndarray:
        return self.fit(features).transform(features)

    def arrays(self) -> dict[str, np.ndarray]:
        """What to store beside the vectors (empty without PCA)."""
        if self.components is None:
            return {}
        return {"pca_mean": self.mean, "pca_components": self.components}

    @classmethod
    def from_arrays(cls, l2: bool, arrays: dict[str, np.ndarray]) -> FeatureProjection:
        projection = cls(
            l2=l2, pca_dim=len(arrays["pca_components"]) if "pca_components" in arrays else None
        )
        if "pca_components" in arrays:
            projection.mean = np.asarray(arrays["pca_mean"], dtype=np.float32)
            projection.components = np.asarray(arrays["pca_components"], dtype=np.float32)
        return projection
