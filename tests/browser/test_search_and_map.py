"""A curator searches the catalogue with a photo and looks at its map, in a real browser."""

from pathlib import Path

import pytest
import skimage

from tests.browser.conftest import log_in
from webapp.catalogue.models import Artwork
from webapp.jobs.features import features_extract

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_feature_spaces"),
]

COFFEE = Path(skimage.__file__).parent / "data" / "coffee.png"  # a real 400×600 photo


def test_curator_searches_by_photo_and_opens_the_map(
    page, live_server, small_gallery, curator, screenshot, settings, tmp_path
):
    settings.VITRINE_FEATURE_CACHE = tmp_path / "feature-cache"
    feature_set = features_extract(extractor_name="handcrafted")
    log_in(page, live_server, "curator", "pw-curator-1")

    page.click("nav[aria-label=Main] >> text=Search by photo")
    assert (
        f"features: {feature_set.source}"
        in page.locator("[data-testid=photo-features]").inner_text()
    )
    page.set_input_files("#id_photo", str(COFFEE))
    page.click("button:text-is('Search')")
    page.wait_for_selector("[data-testid=photo-results] figure")
    available = Artwork.objects.filter(is_sold=False).exclude(interactions__kind="purchase")
    assert page.locator("[data-testid=photo-results] figure").count() == min(24, available.count())
    assert page.locator("[data-testid=photo-results] .badge.sold").count() == 0
    assert "cosine" in page.locator("[data-testid=photo-results] figure >> nth=0").inner_text()
    assert (
        page.evaluate("document.querySelector('[data-testid=photo-preview]').naturalWidth") > 0
    )  # the photo is shown back from memory
    page.evaluate(
        "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
    )
    page.wait_for_function("[...document.images].every(i => i.complete)")
    screenshot("search-by-photo")

    page.set_input_files(
        "#id_photo", {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"no"}
    )
    page.click("button:text-is('Search')")
    page.wait_for_selector("[data-testid=photo-errors]")
    assert "“notes.jpg” was refused" in page.locator("[data-testid=photo-errors]").inner_text()
    screenshot("search-by-photo-error")

    page.click("nav[aria-label=Main] >> text=Map")
    page.wait_for_selector("[data-testid=catalogue-map] image")
    assert page.locator("[data-testid=catalogue-map] image").count() == Artwork.objects.count()
    assert "PCA" in page.locator("[data-testid=map-projection]").inner_text()
    # every SVG thumbnail arrived and decoded (an <image> has no naturalWidth: load each URL)
    assert page.evaluate(
        """async () => {
            const hrefs = [...document.querySelectorAll('[data-testid=catalogue-map] image')]
                .map(i => i.getAttribute('href'));
            const loaded = await Promise.all(hrefs.map(h => new Promise(done => {
                const probe = new Image(); probe.onload = () => done(probe.naturalWidth > 0);
                probe.onerror = () => done(false); probe.src = h;
            })));
            return loaded.every(Boolean);
        }"""
    )
    page.select_option("#id_colour", "availability")
    page.click("button:text-is('Draw')")
    page.wait_for_selector("[data-testid=map-legend] >> text=available")
    assert "colour=availability" in page.url
    screenshot("catalogue-map")
