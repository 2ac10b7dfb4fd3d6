"""Feature sets for the site: extract with a registered extractor (a CNN backbone with
weights from VITRINE_WEIGHTS_DIR, or a weight-free one), cache per image checksum,
project (L2, PCA), store as a FeatureSet; and describe works listed later the same way.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings

from webapp.catalogue.models import Artwork, FeatureSet

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
# Parameters of a feature set, as job params: "features", then these.
FEATURE_PARAMS = (
    "features",
    "features_weights",
    "features_image_size",
    "features_l2",
    "features_pca",
)


class FeatureError(ValueError):
    """A feature set cannot be made as asked; the message is for the person who asked."""


def weights_files() -> list[str]:
    """File names in VITRINE_WEIGHTS_DIR that a job may name as weights."""
    folder = settings.VITRINE_WEIGHTS_DIR
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES)


def weights_spec(name: str | None) -> str | None:
    """A job's weights choice -> what recengine takes. Only a bare file name inside
    VITRINE_WEIGHTS_DIR is accepted: never a path, so nothing outside it is read."""
    if not name or name in ("random", "none"):
        return None
    if name == "hub":
        return "hub"
    if name not in weights_files():
        raise FeatureError(
            f"weights file {name!r} is not in {settings.VITRINE_WEIGHTS_DIR}; "
            f"available: {', '.join(weights_files()) or 'none'}"
        )
    return str(settings.VITRINE_WEIGHTS_DIR / name)


def is_extractor(name: str) -> bool:
    from recengine import list_extractors

    return name in list_extractors(include_tests=True)


def extractor_create(*, name: str, weights: str | None = None, image_size: int | None = None):
    from recengine import create_extractor
    from recengine.features import extractor_label, pretrained_extractors
    from recengine.features.backbones import known_backbones

    if not is_extractor(name):
        raise FeatureError(f"{name!r} is not an extractor; it cannot describe new works")
    kwargs = {}
    if image_size:
        kwargs["image_size"] = int(image_size)
    if name in known_backbones():
        kwargs["weights"] = weights_spec(weights)
    elif name in pretrained_extractors():  # converted from its package on first use
        if weights:
            raise FeatureError(f"{extractor_label(name)} comes with its weights; choose none")
        kwargs["weights_dir"] = settings.VITRINE_WEIGHTS_DIR
    elif weights:
        raise FeatureError(f"{name} has no weights to choose")
    return create_extractor(name, **kwargs)


def _describe(extractor, artworks, progress=None) -> np.ndarray:
    from recengine.features.cache import FeatureCache, extract_cached
    from webapp.catalogue.selectors import artwork_image_files

    paths, checksums = artwork_image_files(artworks)
    cache = FeatureCache(settings.VITRINE_FEATURE_CACHE)
    vectors, _ = extract_cached(extractor, paths, checksums, cache, callback=progress)
    return vectors


def features_extract(
    *,
    extractor_name: str,
    weights: str | None = None,
    image_size: int | None = None,
    l2: bool = False,
    pca_dim: int | None = None,
    progress=None,
) -> FeatureSet:
    """Extract (or take from the cache) the vectors of every artwork with an image, then
    project them, as one new FeatureSet that records what produced it."""
    from recengine.features.projection import FeatureProjection
    from webapp.catalogue.services import feature_set_create

    extractor = extractor_create(name=extractor_name, weights=weights, image_size=image_size)
    artworks = list(
        Artwork.objects.exclude(image="").order_by("id").only("id", "image", "image_checksum")
    )
    if not artworks:
        raise FeatureError("no artwork has an image; import or generate a gallery first")
    raw = _describe(extractor, artworks, progress)
    projection = FeatureProjection(l2=l2, pca_dim=pca_dim)
    vectors = projection.fit_transform(raw)
    weights_record = getattr(extractor, "weights", None)
    params = {
        "extractor": extractor_name,
        "key": extractor.key,
        "description": getattr(extractor, "description", extractor_name),
        "weights": weights_record.as_dict() if weights_record is not None else {},
        "weights_file": weights or "",
        "image_size": getattr(extractor, "image_size", None),
        "l2": bool(l2),
        "pca_dim": pca_dim or None,
    }
    source = params["description"]
    if pca_dim:
        source += f", PCA {vectors.shape[1]}"
    return feature_set_create(
        name=extractor_name,
        source=source[:300],
        artwork_ids=[a.pk for a in artworks],
        vectors=vectors,
        params=params,
        arrays=projection.arrays(),
    )


def feature_set_recipe(*, feature_set: FeatureSet):
    """(extractor, projection) that made the feature set, rebuilt from its params, so a
    work listed later or a photo is described exactly like its works. FeatureError when
    the set was imported or the weights behind it changed since."""
    from recengine.features.projection import FeatureProjection
    from webapp.catalogue.selectors import feature_set_arrays

    params = feature_set.params
    if not params.get("extractor"):
        raise FeatureError(f"feature set {feature_set} was imported: it cannot describe new works")
    extractor = extractor_create(
        name=params["extractor"],
        weights=params.get("weights_file") or None,
        image_size=params.get("image_size"),
    )
    if extractor.key != params["key"]:
        raise FeatureError(
            f"the weights behind {feature_set} changed ({extractor.key} != {params['key']})"
        )
    projection = FeatureProjection.from_arrays(
        params.get("l2", False), feature_set_arrays(feature_set=feature_set)
    )
    return extractor, projection


def features_for_artworks(*, feature_set: FeatureSet, artworks) -> np.ndarray:
    """Vectors for works a feature set lacks (listed after it was made), made exactly
    like its own: same extractor, weights, size and projection."""
    extractor, projection = feature_set_recipe(feature_set=feature_set)
    return projection.transform(_describe(extractor, artworks))


def feature_set_ensure(
    *,
    name: str,
    weights: str = "",
    image_size: int | None = None,
    l2: bool = False,
    pca_dim: int | None = None,
    progress=None,
) -> FeatureSet:
    """The newest feature set made as asked (extractor, weights, size, projection),
    extracted first when there is none or it lacks a work listed since; only the images
    missing from the cache go through the extractor. A name that is not an extractor
    (imported embeddings) must exist already."""
    candidates = FeatureSet.objects.filter(name=name).order_by("-created_at", "-id")
    if not is_extractor(name):
        feature_set = candidates.first()
        if feature_set is None:
            raise FeatureError(
                f"there is no feature set named {name!r}: import embeddings under that name "
                "or choose an extractor"
            )
        return feature_set
    wanted = {"weights_file": weights or "", "l2": bool(l2), "pca_dim": pca_dim or None}
    chosen = None
    for feature_set in candidates:
        made = {key: feature_set.params.get(key) for key in wanted}
        made["weights_file"] = made["weights_file"] or ""
        size_matches = not image_size or feature_set.params.get("image_size") == image_size
        if made == wanted and size_matches:
            chosen = feature_set
            break
    if chosen is None or chosen.n_items < Artwork.objects.exclude(image="").count():
        if progress is not None:
            progress(0.0, f"extracting {name} features")
        chosen = features_extract(
            extractor_name=name,
            weights=weights or None,
            image_size=image_size,
            l2=l2,
            pca_dim=pca_dim,
            progress=progress,
        )
    return chosen
