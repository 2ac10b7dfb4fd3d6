"""The rough edges a curator and a staff member met (issue 13, item 7), in a real browser:
the collector picker, each method once, a notice for a method not trained, no sideways
scrolling on a phone, the icon, the grouped training form, the hyperparameters table and
one progress bar for a whole job."""

import pytest

from tests.acting import trainer
from tests.browser.conftest import log_in
from webapp.catalogue.models import Collector
from webapp.jobs.models import TrainingJob
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def train(*methods) -> list[TrainingJob]:
    jobs = []
    for method in methods:
        job = training_job_create(user=trainer(), method=method, enqueue=False)
        assert training_job_run(job_id=job.pk) == "succeeded"
        jobs.append(job)
    return jobs


def watch_for_failures(page) -> list[str]:
    """Every response of 400 or more and every console error, as the page loads."""
    failures = []
    page.on(
        "response",
        lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    page.on(
        "console",
        lambda m: failures.append(f"console: {m.text}") if m.type == "error" else None,
    )
    return failures


def scrolls_sideways(page) -> bool:
    return page.evaluate(
        "document.scrollingElement.scrollWidth > document.scrollingElement.clientWidth"
    )


def test_a_curator_picks_a_collector_by_name_and_is_told_what_is_shown(
    page, live_server, small_gallery, curator, screenshot
):
    train("popularity", "visrank")
    failures = watch_for_failures(page)
    log_in(page, live_server, "curator", "pw-curator-1")
    collector = (
        Collector.objects.filter(interactions__kind="purchase").exclude(name="").order_by("pk")[0]
    )

    # The list shows the number and the catalogue id the picker takes.
    row = page.locator("tbody tr", has=page.locator(f"text={collector.name}"))
    assert row.locator("[data-testid=collector-number]").inner_text() == str(collector.pk)
    assert row.locator("[data-testid=collector-external-id]").inner_text() == collector.external_id
    screenshot("rough-collector-list")

    page.click("nav[aria-label=Main] >> text=Compare")
    boxes = page.locator("[data-testid=method-choices] input[name=m]")
    values = [boxes.nth(i).get_attribute("value") for i in range(boxes.count())]
    assert sorted(values) == ["popularity", "visrank"]  # each trained method once
    labels = page.locator("[data-testid=method-choices] label").all_inner_texts()
    assert len(labels) == len(set(labels)) == 2

    # Suggestions as you type part of the name; the picker keeps the catalogue id.
    picker = page.locator("[data-testid=collector-picker]")
    picker.press_sequentially(collector.name[:4].lower())
    page.wait_for_function("document.querySelectorAll('#collector-suggestions option').length > 0")
    options = page.locator("#collector-suggestions option")
    suggested = {options.nth(i).get_attribute("value") for i in range(options.count())}
    assert collector.external_id in suggested
    screenshot("rough-compare-suggestions")

    # A full name is taken as it is.
    picker.fill(collector.name)
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("button:text-is('Compare')")
    page.wait_for_selector("[data-testid=side-by-side]")
    assert page.locator("[data-testid=column]").count() == 2
    assert page.locator("h2 a").first.inner_text() == collector.name

    # An unknown collector is named in an error beside the field.
    page.locator("[data-testid=collector-picker]").fill("Nobody Atall")
    page.click("button:text-is('Compare')")
    error = page.locator("[data-testid=collector-error]")
    error.wait_for()
    assert "No collector “Nobody Atall”" in error.inner_text()
    assert page.locator("[data-testid=collector-picker]").get_attribute("aria-invalid") == "true"
    assert page.locator("[data-testid=side-by-side]").count() == 0
    screenshot("rough-compare-unknown-collector")

    # A method that was never trained: the page says what it shows instead.
    page.goto(f"{live_server.url}/collectors/{collector.pk}/?method=ease")
    notice = page.locator("[data-testid=method-notice]")
    assert notice.inner_text().startswith("ease has not been trained yet; showing ")
    shown = page.locator("#method option:checked").inner_text().removesuffix(" (default)")
    assert notice.inner_text() == f"ease has not been trained yet; showing {shown} instead."
    assert page.locator("[data-testid=recommendations] figure").count() > 0
    screenshot("rough-method-notice")

    # A phone's width: no page scrolls sideways.
    page.set_viewport_size(PHONE)
    artwork = collector.interactions.first().artwork_id
    for path in (
        f"/collectors/{collector.pk}/",
        "/",
        f"/compare/?collector={collector.pk}&m=popularity&m=visrank",
        "/catalogue/",
        f"/catalogue/{artwork}/",
        "/catalogue/map/",
        "/search/photo/",
        "/methods/",
        "/visitor/",
        "/jobs/",
        f"/jobs/{TrainingJob.objects.first().pk}/",
    ):
        page.goto(f"{live_server.url}{path}")
        assert not scrolls_sideways(page), path
    page.goto(f"{live_server.url}/collectors/{collector.pk}/")
    screenshot("rough-collector-390px")

    # The icon: linked from every page, and /favicon.ico answers without a login.
    icon = page.request.get(f"{live_server.url}/favicon.ico")
    assert icon.ok and "svg" in icon.headers["content-type"]
    assert failures == []  # no 404 (the icon included) and no console error on any page


def test_staff_fills_a_grouped_training_form_and_reads_the_job(
    page, live_server, small_gallery, staff, screenshot, monkeypatch
):
    monkeypatch.setattr("webapp.jobs.services.training_job_enqueue", lambda *, job_id: None)
    failures = watch_for_failures(page)
    log_in(page, live_server, "staff", "pw-staff-1")
    page.goto(f"{live_server.url}/jobs/new/train/curatornet/")
    legends = page.locator("[data-testid=fieldset] legend").all_inner_texts()
    # CuratorNet's own hyperparameters are all training, sampling or features ones.
    assert legends == [
        "Features and backbone",
        "Sampling",
        "Training loop",
        "Validation and early stopping",
    ]
    assert "Default: 0.001." in page.locator("[data-field=lr] .help").inner_text()

    def row(name):
        return page.locator(f"[data-field={name}]")

    # The fine-tuned backbone and its weights only with fine-tuning; the feature CNN's
    # weights only for CNN features; guided sampling's knobs only with guided sampling.
    for name in ("backbone", "weights", "image_size", "features_weights", "clusters"):
        assert row(name).is_hidden(), name
        assert row(name).locator("input, select").is_disabled(), name
    page.check("#id_fine_tune")
    assert row("backbone").is_visible() and row("weights").is_visible()
    page.uncheck("#id_fine_tune")
    assert row("backbone").is_hidden()
    page.select_option("#id_features", "resnet18")
    assert row("features_weights").is_visible() and row("features_image_size").is_visible()
    screenshot("rough-job-form-cnn-features")
    page.select_option("#id_features", "handcrafted")
    assert row("features_weights").is_hidden()
    page.select_option("#id_sampling", "guided")
    assert row("clusters").is_visible()
    page.select_option("#id_sampling", "uniform")

    # Aligned: in every group, the labels start at one x and the controls at another.
    for group in page.locator("[data-testid=fieldset]").all():
        labels = {
            round(b["x"])
            for b in (r.bounding_box() for r in group.locator(".form-row:visible > label").all())
        }
        controls = {
            round(b["x"])
            for b in (r.bounding_box() for r in group.locator(".form-row:visible > .control").all())
        }
        assert len(labels) == 1 and len(controls) == 1, (labels, controls)
    screenshot("rough-job-form")

    page.fill("#id_lr", "0.01")
    page.click("button:text-is('Queue')")
    table = page.locator("[data-testid=hyperparameters]")
    table.wait_for()
    job = TrainingJob.objects.get()
    assert job.params["lr"] == 0.01 and job.params["backbone"] == "resnet50"
    lr = table.locator("tr", has=page.locator("code:text-is('lr')"))
    assert lr.locator("td").inner_text() == "0.01 changed"
    backbone = table.locator("tr", has=page.locator("code:text-is('backbone')"))
    assert backbone.locator("td").inner_text() == "resnet50"
    assert "{'" not in page.locator("main").inner_text()  # no raw dict
    screenshot("rough-job-hyperparameters")

    page.set_viewport_size(PHONE)
    for path in (f"/jobs/{job.pk}/", "/jobs/new/train/curatornet/", "/jobs/"):
        page.goto(f"{live_server.url}{path}")
        assert not scrolls_sideways(page), path
    screenshot("rough-job-form-390px")
    assert failures == []


def test_the_serving_refit_continues_the_jobs_progress_bar(
    page, live_server, db, curator, screenshot
):
    from webapp.jobs.progress import ProgressRecorder
    from webapp.jobs.training import BAR, SERVE_REFIT, STAGE_LABELS

    job = TrainingJob.objects.create(method="curatornet", status=TrainingJob.Status.RUNNING)
    log_in(page, live_server, "curator", "pw-curator-1")
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    recorder = ProgressRecorder(job.pk)
    shown = []
    # The engine reports 0 to 1 in every stage, epoch 1 again in the refit; the page polls.
    for stage in ("fit", "evaluate", "serve", "save"):
        start, end = BAR[SERVE_REFIT][stage]
        recorder.stage(start, end, stage, label=STAGE_LABELS[stage])
        for fraction, epoch in ((0.0, "epoch 1/2"), (1.0, "epoch 2/2")):
            recorder(fraction, epoch)
            percent = round(100 * (start + (end - start) * fraction))
            expected = f"{percent}% of the whole job · {STAGE_LABELS[stage]}: {epoch}"
            page.wait_for_function(
                "text => document.querySelector('[data-testid=job-progress-text]')"
                ".innerText.startsWith(text)",
                arg=expected,
            )
            value = page.locator("[data-testid=job-progress]").get_attribute("value")
            shown.append((int(value), expected))
            if stage == "serve" and fraction == 0.0:
                screenshot("rough-progress-refit")
    percents = [percent for percent, _ in shown]
    assert percents == sorted(percents) and percents[-1] == 100
    refit_start = round(100 * BAR[SERVE_REFIT]["serve"][0])
    assert shown[4] == (
        refit_start,
        f"{refit_start}% of the whole job · serving refit (all events): epoch 1/2",
    )
