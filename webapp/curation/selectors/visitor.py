"""A new visitor: a few works they like are a profile, served at once by the models that
fold a profile in without retraining (VisRank, CuratorNet), with their explanations."""

import random
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Count, Max

from webapp.catalogue.models import Artwork
from webapp.curation.selectors.artworks import CARD_FIELDS
from webapp.curation.selectors.recommenders import (
    profile_recommendations,
    served_model,
    unsold_artwork_ids,
)
from webapp.jobs.models import TrainingJob
from webapp.jobs.selectors import training_job_active
from webapp.jobs.serving import Recommendation

VISITOR_METHODS = (("visrank", "VisRank"), ("curatornet", "CuratorNet"))
GRID_SIZE = 36
RECOMMENDED = 12


@dataclass
class VisitorResult:
    method: str
    label: str
    job: TrainingJob | None = None
    items: list[Recommendation] = field(default_factory=list)
    error: str = ""


def _works_with_images() -> list[int]:
    """Ids of every work with an image, cached per catalogue size and newest work."""
    version = Artwork.objects.aggregate(n=Count("id"), last=Max("id"))
    key = f"vitrine:visitor-ids:v1:{version['n']}:{version['last']}"
    ids = cache.get(key)
    if ids is None:
        ids = list(Artwork.objects.exclude(image="").order_by("id").values_list("id", flat=True))
        cache.set(key, ids, 300)
    return ids


def visitor_grid(*, seed: int, picked: list[int]) -> list[Artwork]:
    """The picked works first, then a seeded sample of others: the same seed shows the same
    works, so the page (and its URL) is stable until the visitor asks for others."""
    chosen = set(picked)
    pool = [pk for pk in _works_with_images() if pk not in chosen]
    sample = random.Random(seed).sample(pool, min(GRID_SIZE, len(pool)))
    wanted = list(picked) + sample
    works = Artwork.objects.select_related("artist").only(*CARD_FIELDS).in_bulk(wanted)
    return [works[pk] for pk in wanted if pk in works]


def existing_artworks(ids: list[int]) -> list[int]:
    found = set(Artwork.objects.filter(pk__in=ids).values_list("id", flat=True))
    return [pk for pk in ids if pk in found]


def visitor_recommendations(*, picked: list[int], k: int = RECOMMENDED) -> list[VisitorResult]:
    """Per method, the top-k available works for the picked ones (never a picked or sold
    work), or why there are none."""
    allowed = None
    results = []
    for method, label in VISITOR_METHODS:
        result = VisitorResult(method=method, label=label, job=training_job_active(method=method))
        if result.job is None:
            result.error = f"{label} has not been trained yet."
            results.append(result)
            continue
        if allowed is None:
            allowed = unsold_artwork_ids()
        recommendations = profile_recommendations(
            job=result.job,
            model=served_model(result.job),
            profile_ids=picked,
            exclude_ids=picked,
            allowed_ids=allowed,
            k=k,
        )
        result.items = recommendations.items
        if not result.items:
            result.error = f"{label} found no available work for these picks."
        results.append(result)
    return results
