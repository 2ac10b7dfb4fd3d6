"""Search the catalogue with a photo: describe it exactly as the active feature set
described its works (same extractor, weights, image size and projection), then ask a faiss
index over the works' unit vectors for the most similar available ones (cosine).

The index and the extractor are made once per feature set and process (a CNN takes
seconds to build, the index a fraction of one); a new feature set has a new checksum, so
nothing stale is served. The photo is only ever held in memory: it is described without
the feature cache, which would otherwise keep its vector under its checksum.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import threading
from dataclasses import dataclass, field

import numpy as np
from django.core.files.storage import default_storage
from PIL import Image, ImageOps

from webapp.catalogue.importing.images import FORMAT_EXTENSIONS
from webapp.catalogue.models import Artwork, FeatureSet
from webapp.catalogue.selectors import artworks_available
from webapp.curation.selectors.visual import feature_set_active, feature_space
from webapp.curation.services import KEPT_PHOTOS_FOLDER

logger = logging.getLogger(__name__)
RESULTS_SHOWN = 24
PREVIEW_SIZE = 240
IMPORTED_NOTE = (
    "The features in use ({source}) were imported, not extracted here: there is no "
    "extractor to describe a photo with. Extract features on the Jobs page to search by photo."
)


@dataclass
class PhotoDescriber:
    """A feature set's extractor and projection, for one image at a time."""

    extractor: object
    projection: object  # recengine.features.projection.FeatureProjection

    def describe(self, image: Image.Image) -> np.ndarray:
        """(dim,) float32 unit vector of an RGB image, in the feature set's space."""
        from recengine.features.projection import l2_normalise

        raw = self.extractor.extract([image])
        return l2_normalise(self.projection.transform(raw))[0]


@dataclass
class PhotoSearchSpace:
    feature_set: FeatureSet
    artwork_ids: np.ndarray  # (n,) int64, index row order
    index: object  # recengine.index.ItemIndex over (n, dim) unit rows
    describer: PhotoDescriber | None = None
    note: str = ""  # why there is no describer
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class PhotoMatches:
    feature_set: FeatureSet | None
    items: list[tuple[Artwork, float]]  # (artwork, cosine similarity), most similar first
    note: str = ""
    index_kind: str = ""


_spaces: dict[tuple[int, str], PhotoSearchSpace] = {}
_lock = threading.Lock()


def photo_describer(*, feature_set: FeatureSet) -> PhotoDescriber:
    """The extractor and projection that made the feature set (the recipe works listed
    later are described with). Raises FeatureError when the set was imported or its
    weights changed since."""
    from webapp.jobs.features import FeatureError, feature_set_recipe

    if not (feature_set.params or {}).get("extractor"):
        raise FeatureError(IMPORTED_NOTE.format(source=feature_set.source or feature_set.name))
    extractor, projection = feature_set_recipe(feature_set=feature_set)
    if hasattr(extractor, "num_workers"):
        # One image: a decoding worker process would cost more than it saves, and a web
        # process should not fork.
        extractor.num_workers = 0
    return PhotoDescriber(extractor=extractor, projection=projection)


def photo_search_space(feature_set: FeatureSet) -> PhotoSearchSpace:
    """The feature set's index (built once) and describer (made on first use)."""
    from recengine.index import ItemIndex

    key = (feature_set.pk, feature_set.sha256)
    with _lock:
        space = _spaces.get(key)
        if space is None:
            vectors = feature_space(feature_set)  # unit rows, shared with the work pages
            space = PhotoSearchSpace(
                feature_set=feature_set,
                artwork_ids=vectors.artwork_ids,
                index=ItemIndex.build(vectors.vectors),
            )
            # One feature set is active at a time: older ones only hold memory.
            _spaces.clear()
            _spaces[key] = space
    if space.describer is None and not space.note:
        _describer_ensure(space)
    return space


def _describer_ensure(space: PhotoSearchSpace) -> None:
    from webapp.jobs.features import FeatureError

    # Per space, so a second request waits for the CNN the first is building.
    with space.lock:
        if space.describer is not None or space.note:
            return
        try:
            space.describer = photo_describer(feature_set=space.feature_set)
        except (FeatureError, NotImplementedError, ValueError, OSError) as error:
            logger.info("feature set %s cannot describe photos: %s", space.feature_set.pk, error)
            space.note = str(error)


def photo_search_unavailable(feature_set: FeatureSet | None) -> str:
    """Why a photo cannot be searched with under this feature set ("" when it can),
    known without building anything."""
    if feature_set is None:
        return "No features have been extracted yet: extract some on the Jobs page first."
    if not (feature_set.params or {}).get("extractor"):
        return IMPORTED_NOTE.format(source=feature_set.source or feature_set.name)
    return ""


def photo_open(data: bytes) -> Image.Image:
    """An RGB image of checked bytes (image_check), upright as its EXIF says: a phone
    stores a picture sideways with a flag, and works are described as people see them."""
    with Image.open(io.BytesIO(data)) as opened:
        return ImageOps.exif_transpose(opened).convert("RGB")


def photo_preview(image: Image.Image) -> str:
    """A small WebP of the photo as a data: URL, so the page shows it without storing it."""
    preview = image.copy()
    preview.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    preview.save(buffer, "WEBP", quality=80)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def photo_search(*, image: Image.Image, k: int = RESULTS_SHOWN) -> PhotoMatches:
    """The k available works most like the photo under the active features (a sold work
    is never proposed, here as on every page that proposes works)."""
    feature_set = feature_set_active()
    unavailable = photo_search_unavailable(feature_set)
    if unavailable:
        return PhotoMatches(feature_set, [], unavailable)
    space = photo_search_space(feature_set)
    if space.describer is None:
        return PhotoMatches(feature_set, [], space.note)
    query = space.describer.describe(image)
    available = np.asarray(artworks_available().values_list("id", flat=True), dtype=np.int64)
    allowed = np.isin(space.artwork_ids, available)
    missing = len(available) - int(allowed.sum())
    note = (
        f"{missing} available work(s) listed after these features were made are not searched."
        if missing > 0
        else ""
    )
    if not allowed.any():
        return PhotoMatches(feature_set, [], "No available work has a vector under these features.")
    rows, scores = space.index.search(query, k, allowed=allowed)
    found = [
        (int(space.artwork_ids[r]), float(s))
        for r, s in zip(rows[0], scores[0], strict=True)
        if r >= 0
    ]
    artworks = Artwork.objects.select_related("artist").in_bulk([pk for pk, _ in found])
    items = [(artworks[pk], score) for pk, score in found if pk in artworks]
    return PhotoMatches(feature_set, items, note, index_kind=space.index.kind)


def search_photo_find(*, user, checksum: str) -> str | None:
    """The storage name of the photo ``user`` kept with this sha256 (search_photo_keep),
    or None. Only the user's own folder is looked in, under a name made of their id, the
    digest and an extension the site stores: nothing a request spells reaches a path."""
    if not user.is_authenticated or not re.fullmatch(r"[0-9a-f]{64}", checksum or ""):
        return None
    for extension in sorted(set(FORMAT_EXTENSIONS.values())):
        name = f"{KEPT_PHOTOS_FOLDER}/{int(user.pk)}/{checksum}{extension}"
        if default_storage.exists(name):
            return name
    return None
