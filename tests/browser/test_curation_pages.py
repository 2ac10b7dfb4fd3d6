"""A curator browses, compares and serves a new visitor in a real browser; staff train."""

import re

import pytest

from tests.acting import trainer
from tests.browser.conftest import log_in
from webapp.catalogue.models import Artwork
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def train(*methods):
    for method in methods:
        job = training_job_create(user=trainer(), method=method, enqueue=False)
        assert training_job_run(job_id=job.pk) == "succeeded"


def load_lazy_images(page):
    """Load the lazy thumbnails below the fold too, before a full-page screenshot."""
    page.evaluate(
        "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
    )
    page.wait_for_function("[...document.images].every(i => i.complete)")


def every_image_has_alt_text(page):
    assert page.locator("img").count() > 0
    assert page.locator("img:not([alt]), img[alt='']").count() == 0


def test_curator_browses_compares_and_serves_a_new_visitor(
    page, live_server, small_gallery, curator, screenshot
):
    train("popularity", "visrank", "random")
    log_in(page, live_server, "curator", "pw-curator-1")

    # Keyboard first: the skip link is the first stop and leads to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"

    page.click("nav[aria-label=Main] >> text=Catalogue")
    page.wait_for_selector("[data-testid=catalogue] figure")
    assert page.locator("[data-testid=catalogue] figure").count() == 24
    every_image_has_alt_text(page)
    load_lazy_images(page)  # every server-made thumbnail arrived and decoded
    assert page.evaluate("[...document.images].every(i => i.naturalWidth > 0)")
    screenshot("catalogue")

    medium = Artwork.objects.exclude(medium="").values_list("medium", flat=True).first()
    page.select_option("#id_medium", medium)
    page.select_option("#id_status", "available")
    page.click("text=Apply filters")
    page.wait_for_selector("[data-testid=catalogue]")
    assert f"medium={medium.replace(' ', '+')}" in page.url and "status=available" in page.url
    expected = Artwork.objects.filter(medium=medium, is_sold=False).count()
    assert page.locator("[data-testid=catalogue] figure").count() == min(24, expected)
    assert page.locator("[data-testid=catalogue] .badge.sold").count() == 0
    load_lazy_images(page)
    screenshot("catalogue-filtered")

    work = Artwork.objects.select_related("artist").order_by("pk").first()
    page.goto(f"{live_server.url}/catalogue/")
    page.fill("#id_q", work.title)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"[data-testid=catalogue] >> text={work.title}")
    page.click(f"[data-testid=catalogue] >> text={work.title}")
    page.wait_for_selector("[data-testid=neighbours] figure")
    assert work.title in page.locator("h1").inner_text()
    # available works only: a sold work is never suggested
    available = Artwork.objects.filter(is_sold=False).exclude(pk=work.pk).count()
    assert page.locator("[data-testid=neighbours] figure").count() == min(12, available)
    every_image_has_alt_text(page)
    load_lazy_images(page)
    screenshot("work")

    bought = Artwork.objects.filter(interactions__kind="purchase").first()
    page.goto(f"{live_server.url}/catalogue/{bought.pk}/")
    page.click("[data-testid=collected-by] a >> nth=0")
    page.wait_for_selector("[data-testid=recommendations] figure")
    assert page.locator("[data-testid=palette] li").count() >= 1
    load_lazy_images(page)
    screenshot("collector-profile")

    page.click("text=Compare methods for this collector")
    page.wait_for_selector("[data-testid=side-by-side]")
    assert page.locator("[data-testid=column]").count() == 3  # popularity, random, visrank
    assert "m=popularity" in page.url and "m=visrank" in page.url
    assert page.locator("[data-testid=held-out]").is_visible()
    assert page.locator("[data-testid=diversity]").count() == 3
    load_lazy_images(page)
    screenshot("compare")

    page.click("nav[aria-label=Main] >> text=New visitor")
    page.click("button:text-is('Recommend') >> nth=0")
    assert "Pick at least 3 works" in page.locator("[data-testid=visitor-errors]").inner_text()
    for n in range(4):  # the labels (image and title) tick the boxes, no script needed
        page.locator(".picks label").nth(n).click()
    page.click("button:text-is('Recommend') >> nth=0")
    page.wait_for_selector("[data-testid=visitor-results]")
    assert page.locator("[data-testid=visitor-visrank] li").count() > 0
    assert "because you liked" in page.locator("[data-testid=visitor-visrank]").inner_text()
    assert "not been trained" in page.locator("[data-testid=visitor-curatornet]").inner_text()
    assert len(re.findall(r"pick=\d+", page.url)) == 4
    load_lazy_images(page)
    screenshot("visitor-results")

    page.click("nav[aria-label=Main] >> text=Methods")
    page.wait_for_selector("[data-testid=methods-table]")
    assert page.locator("[data-testid=methods-table] tbody tr").count() == 3
    page.click("[data-testid=methods-table] th >> text=NDCG@20")
    page.wait_for_selector("th[aria-sort=descending]")
    page.click("[data-testid=paired-form] button")
    page.wait_for_selector("[data-testid=paired-result]")
    assert page.locator("[data-testid=charts] svg").count() >= 3
    screenshot("methods")


def test_a_curator_cannot_reach_staff_actions(
    page, live_server, small_gallery, curator, screenshot
):
    log_in(page, live_server, "curator", "pw-curator-1")
    page.click("nav[aria-label=Main] >> text=Jobs")
    assert page.locator("text=Train all default methods").count() == 0
    assert page.locator("nav[aria-label=Main] >> text=Admin").count() == 0
    response = page.goto(f"{live_server.url}/jobs/new/train/visrank/")
    # The site's own refusal, in its own look, never the admin's login page.
    assert response.status == 403 and "/admin/" not in page.url
    assert "jobs.train_job" in page.locator("[data-testid=forbidden]").inner_text()
    assert page.locator("nav[aria-label=Main]").count() == 1
    screenshot("curator-refused-staff-form")


def test_staff_trains_a_method_from_the_jobs_page(
    page, live_server, small_gallery, staff, screenshot, monkeypatch
):
    monkeypatch.setattr("webapp.jobs.services.training_job_enqueue", lambda *, job_id: None)
    log_in(page, live_server, "staff", "pw-staff-1")
    page.click("nav[aria-label=Main] >> text=Jobs")
    page.select_option("#train-method", "popularity")
    page.click("text=Train with defaults")
    page.wait_for_selector("[data-testid=job-status]")
    assert page.locator("[data-testid=job-status]").inner_text() == "queued"
    screenshot("staff-job-queued")
