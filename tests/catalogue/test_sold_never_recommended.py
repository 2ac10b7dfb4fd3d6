"""A work bought through an imported purchase (an interactions file alone, no `sold`
column) is sold at that time and leaves every list that proposes works."""

import pytest
from django.core.cache import cache
from django.db.models import Count, Q

from tests.acting import trainer
from tests.catalogue.import_fixtures import INTERACTION_HEADER, write_csv
from webapp.catalogue.importing import gallery_import, parse_when
from webapp.catalogue.models import Artwork, Collector
from webapp.curation.selectors.recommenders import collector_recommendations_served
from webapp.curation.selectors.side_by_side import side_by_side
from webapp.curation.selectors.visitor import visitor_recommendations
from webapp.curation.selectors.visual import artwork_neighbours
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create
from webapp.jobs.serving import collector_consumed, collector_recommendations

pytestmark = pytest.mark.django_db

BOUGHT_AT = "2030-01-01T09:30:00Z"  # after the whole demo history


@pytest.fixture
def trained(small_gallery, settings, tmp_path):
    settings.VITRINE_FEATURE_CACHE = tmp_path / "feature-cache"
    cache.clear()
    jobs = {}
    for method in ("popularity", "visrank"):
        job = training_job_create(user=trainer(), method=method, params={}, enqueue=False)
        assert training_job_run(job_id=job.pk) == "succeeded"
        jobs[method] = job
    yield jobs
    cache.clear()


def proposed(collector: Collector, work: Artwork, picks: list[int]) -> dict[str, set[int]]:
    """The works each page would propose now (side by side: without its held-out work)."""
    consumed = list(collector_consumed(collector=collector))
    compare = side_by_side(collector=collector, choices=["popularity", "visrank"], k=10)
    held_out = compare.held_out.artwork_id
    return {
        "collector page": {
            r.artwork.pk
            for method in ("popularity", "visrank")
            for r in collector_recommendations(collector=collector, method=method, k=10).items
        },
        "collector page (served)": {
            r.artwork.pk
            for r in collector_recommendations_served(
                collector=collector, method="popularity", consumed=consumed, k=10
            ).items
        },
        "new visitor": {
            r.artwork.pk for result in visitor_recommendations(picked=picks) for r in result.items
        },
        "looks like": {a.pk for a, _ in artwork_neighbours(artwork=work).items},
        "side by side": {
            r.artwork.pk for c in compare.columns for r in c.items if r.artwork.pk != held_out
        },
    }


def test_an_imported_purchase_takes_the_work_out_of_every_list(
    trained, tmp_path, media_root, settings
):
    settings.VITRINE_EVENT_DATE_MAX = "2031-01-01"  # BOUGHT_AT is in the future
    consumed = Count("interactions", filter=Q(interactions__kind__in=["purchase", "like"]))
    collector = Collector.objects.annotate(n=consumed).order_by("-n", "pk").first()
    work = Artwork.objects.exclude(image="").order_by("pk").first()
    picks = list(Artwork.objects.exclude(image="").order_by("pk").values_list("pk", flat=True)[:4])
    before = proposed(collector, work, picks)
    assert all(before.values()), before
    targets = set().union(*before.values())
    assert not Artwork.objects.filter(pk__in=targets, is_sold=True).exists()

    path = write_csv(
        tmp_path / "interactions.csv",
        INTERACTION_HEADER,
        [
            {"user_id": "new-buyer", "item_id": external_id, "timestamp": BOUGHT_AT}
            for external_id in Artwork.objects.filter(pk__in=targets).values_list(
                "external_id", flat=True
            )
        ],
    )
    report = gallery_import(items_path=None, interactions_path=path)
    assert report.sales.created == len(targets) and report.artworks.created == 0

    for artwork in Artwork.objects.filter(pk__in=targets):
        assert artwork.is_sold and artwork.sold_at == parse_when(BOUGHT_AT)
    after = proposed(collector, work, picks)
    for page, listed in after.items():
        assert not listed & targets, page
        assert not Artwork.objects.filter(pk__in=listed, is_sold=True).exists(), page
