"""The demo's CNN recommendations: VisRank on the installed EfficientNet-Lite0 trains from
the site, the collector page opens with the method the temporal protocol ranks best (and
says why), and "looks like" uses the pretrained features once they exist."""

import pytest
from django.urls import reverse

from webapp.catalogue.models import Artwork, Collector
from webapp.curation.selectors.default_method import DEFAULT_METRIC, default_method

from .conftest import train

pytestmark = pytest.mark.django_db
PRETRAINED = "efficientnet_lite0_imagenet"


@pytest.fixture
def weights_dir(settings, tmp_path_factory):
    """One conversion for the module's tests (the file is checked on every use)."""
    settings.VITRINE_WEIGHTS_DIR = tmp_path_factory.getbasetemp() / "pretrained-weights"
    return settings.VITRINE_WEIGHTS_DIR


@pytest.fixture
def jobs(small_gallery, weights_dir):
    return {
        "popularity": train("popularity"),
        "visrank": train("visrank"),
        "visrank-cnn": train("visrank", features=PRETRAINED),
        "oracle": train("oracle"),
    }


def test_the_default_is_the_best_method_on_the_temporal_protocol_and_never_the_oracle(jobs):
    chosen = default_method()
    methods = [j for name, j in jobs.items() if name != "oracle"]
    best = max(methods, key=lambda j: (j.metrics[DEFAULT_METRIC], j.pk))
    assert chosen.job.pk == best.pk and chosen.score == pytest.approx(best.metrics[DEFAULT_METRIC])
    assert chosen.compared == 3 and chosen.split == "temporal leave-last-out"
    assert chosen.value == (best.method if best.is_active else f"job:{best.pk}")
    assert f"best {DEFAULT_METRIC}" in chosen.reason and f"job #{best.pk}" in chosen.reason
    cnn = jobs["visrank-cnn"]
    assert cnn.feature_set.params["weights"]["kind"] == "file"  # pretrained, not random
    assert cnn.feature_set.source.startswith("efficientnet_lite0 (ImageNet)")


def test_the_collector_page_opens_with_the_default_and_says_why(jobs, curator_client):
    collector = Collector.objects.filter(interactions__kind="purchase").first()
    response = curator_client.get(reverse("curation:collector-detail", args=[collector.pk]))
    chosen = default_method()
    assert response.context["method"] == chosen.value
    assert response.context["recommendations"].job.pk == chosen.job.pk
    html = response.content.decode()
    assert 'data-testid="default-reason"' in html and f"job #{chosen.job.pk}" in html
    # every job can be picked, the pretrained VisRank included, and it serves its own model
    cnn = jobs["visrank-cnn"]
    asked = curator_client.get(
        reverse("curation:collector-detail", args=[collector.pk]), {"method": f"job:{cnn.pk}"}
    )
    assert asked.context["recommendations"].job.pk == cnn.pk
    # the menu offers the pretrained VisRank once: by its method's name while it serves
    cnn.refresh_from_db()
    offered = cnn.method if cnn.is_active else f"job:{cnn.pk}"
    assert f'value="{offered}"' in html and f"job #{cnn.pk}" in html


def test_looks_like_uses_the_pretrained_features_once_they_exist(jobs, curator_client):
    artwork = Artwork.objects.exclude(image="").first()
    response = curator_client.get(reverse("curation:artwork-detail", args=[artwork.pk]))
    neighbours = response.context["neighbours"]
    assert neighbours.feature_set.name == PRETRAINED
    assert "efficientnet_lite0 (ImageNet)" in response.content.decode()
    assert len(neighbours.items) > 0


def test_without_evaluated_jobs_the_page_says_it_has_no_measured_default(
    small_gallery, curator_client
):
    collector = Collector.objects.first()
    response = curator_client.get(reverse("curation:collector-detail", args=[collector.pk]))
    assert default_method() is None
    assert response.context["method"] is None
