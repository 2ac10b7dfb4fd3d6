"""Similar works and search by image for the API: the curators' visual search, logged."""

from __future__ import annotations

from webapp.api.impressions import impression_log
from webapp.api.lists import ListError, ServedItem, ServedList
from webapp.api.models import Impression


def _served(method: str, feature_set, pairs, what: str) -> ServedList:
    items = [
        ServedItem(artwork, float(score), 1.0, None, f"looks like {what} (cosine {score:.3f})")
        for artwork, score in pairs
    ]
    label = str(feature_set) if feature_set is not None else ""
    return ServedList(None, method, items, "feature space", len(items), {"model": label})


def similar_answer(*, client, artwork, k: int) -> tuple[str, ServedList, str]:
    from webapp.curation.selectors.visual import artwork_neighbours

    found = artwork_neighbours(artwork=artwork, k=k)
    served = _served("visual similarity", found.feature_set, found.items, f"“{artwork.title}”")
    request_id = impression_log(client=client, surface=Impression.Surface.SIMILAR, served=served)
    return str(request_id), served, getattr(found, "note", "") or ""


def image_answer(*, client, data: bytes, k: int) -> tuple[str, ServedList, str]:
    from django.conf import settings

    from webapp.catalogue.importing.images import image_check
    from webapp.curation.selectors.image_search import photo_open, photo_search

    _, problem = image_check(data, settings.VITRINE_MAX_IMAGE_PIXELS)
    if problem:
        raise ListError(f"image: {problem}", 400, "image")
    matches = photo_search(image=photo_open(data), k=k)
    served = _served("search by image", matches.feature_set, matches.items, "the photo")
    request_id = impression_log(client=client, surface=Impression.Surface.IMAGE, served=served)
    return str(request_id), served, matches.note
