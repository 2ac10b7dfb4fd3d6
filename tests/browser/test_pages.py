"""A curator and a staff member use the site in a real browser."""

import pytest

from tests.acting import trainer
from webapp.catalogue.models import Collector
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_curator_logs_in_opens_a_collector_and_sees_recommendations(
    page, live_server, small_gallery, curator, screenshot
):
    job = training_job_create(user=trainer(), method="visrank")
    training_job_run(job_id=job.pk)
    log_in(page, live_server, "curator", "pw-curator-1")
    assert page.locator("h1").inner_text() == "Collectors"
    screenshot("collector-list")

    collector = Collector.objects.filter(interactions__kind="purchase").first()
    page.click(f"text={collector}")
    page.wait_for_selector("[data-testid=recommendations] figure")
    assert page.locator("[data-testid=consumed] figure").count() >= 1
    from webapp.catalogue.models import Artwork

    owned = collector.interactions.exclude(kind="view").values_list("artwork_id", flat=True)
    available = Artwork.objects.filter(is_sold=False).exclude(pk__in=list(owned)).count()
    assert page.locator("[data-testid=recommendations] figure").count() == min(20, available) > 0
    assert page.locator("[data-testid=recommendations] img").first.get_attribute("alt")
    screenshot("collector-detail")

    # A curator sees jobs but not the staff controls.
    page.goto(f"{live_server.url}/jobs/")
    assert page.locator("text=Train all default methods").count() == 0
    screenshot("job-list-curator")


def test_staff_starts_a_job_and_watches_it(
    page, live_server, small_gallery, staff, screenshot, monkeypatch
):
    # No worker here: the job stays queued, and the page must say so while polling.
    monkeypatch.setattr("webapp.jobs.services.training_job_enqueue", lambda *, job_id: None)
    log_in(page, live_server, "staff", "pw-staff-1")
    page.goto(f"{live_server.url}/jobs/")
    page.click("text=Choose hyperparameters for a method")
    screenshot("job-list-staff")
    page.click("text=Train visrank…")
    # the form's fields are visrank's default hyperparameters, from the engine registry
    page.select_option("#id_aggregation", "mean")
    screenshot("job-form")
    page.click("button:text-is('Queue')")
    page.wait_for_selector("[data-testid=job-status]")
    assert page.locator("[data-testid=job-status]").inner_text() == "queued"
    screenshot("job-queued")

    from webapp.jobs.models import TrainingJob

    job = TrainingJob.objects.get()
    assert job.method == "visrank" and job.params["aggregation"] == "mean"
    training_job_run(job_id=job.pk)  # as a worker would; the open page must notice by itself
    page.wait_for_function(
        "document.querySelector('[data-testid=job-status]').innerText === 'succeeded'",
        timeout=120_000,  # the page polls; a busy machine answers late
    )
    assert page.locator("table.metrics").is_visible()
    screenshot("job-succeeded")
