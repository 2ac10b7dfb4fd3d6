"""The shop's pages in a real browser: staff start an A/B experiment from the form, the
simulated shop serves it through the API, the detail page shows each arm's rates with
intervals, a significance test and the charts, staff stop it with a winner; a curator
sees the same numbers and no form; the Methods page shows the off-policy estimates
beside the offline metric, with a warning for a method the log cannot judge."""

import io
import re

import pytest
from django.core.management import call_command

from tests.browser.conftest import log_in
from tests.browser.test_curation_pages import train
from webapp.api.models import Experiment, Impression

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VISITS = 40


def cells(page, testid: str) -> list[list[str]]:
    rows = page.locator(f"[data-testid={testid}] tbody tr")
    return [
        [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
        for i in range(rows.count())
    ]


def test_staff_run_an_experiment_and_read_the_off_policy_estimates(
    page, live_server, small_gallery, staff, curator, screenshot
):
    train("popularity", "visrank")
    log_in(page, live_server, "staff", "pw-staff-1")
    page.click("nav[aria-label=Main] >> text=Experiments")
    page.wait_for_selector("[data-testid=experiments]")
    assert "No experiment yet" in page.locator("[data-testid=experiments]").inner_text()

    page.fill("input[name=name]", "Popularity against VisRank")
    page.check("input[name=methods][value=popularity]")
    page.check("input[name=methods][value=visrank]")
    page.select_option("select[name=design]", "ab")
    page.fill("input[name=epsilon]", "0.2")
    page.click("form[aria-labelledby=start-h] button[type=submit]")
    page.wait_for_selector("[data-testid=arms]")
    assert "Started Popularity against VisRank" in page.locator("[role=status]").inner_text()
    experiment = Experiment.objects.get()
    assert experiment.status == "running" and experiment.methods == ["popularity", "visrank"]
    assert experiment.epsilon == pytest.approx(0.2)
    assert len(experiment.salt) == 16  # the form draws one; the test fixes it: seeded split
    Experiment.objects.filter(pk=experiment.pk).update(salt="browser-test")
    # before any list: two arms with nothing served, and no chart to draw
    assert [row[2] for row in cells(page, "arms")] == ["0", "0"]
    assert page.locator("figure.curve >> text=No lists yet.").count() == 2

    # The shop calls the API (in process, against the same database) inside that experiment.
    call_command(
        "simulate_shop", visits=VISITS, seed=0, k=5, user="staff", stdout=io.StringIO(),
        stderr=io.StringIO(),
    )  # fmt: skip
    page.reload()
    page.wait_for_selector("[data-testid=arms]")
    arms = cells(page, "arms")
    assert [row[0] for row in arms] == ["popularity", "visrank"]
    for row in arms:
        served = Impression.objects.filter(experiment=experiment, arm=row[0]).count()
        assert row[2] == str(served) and served > 0
        low, high = (float(x) for x in row[4].split("–"))
        assert low <= float(row[3]) <= high  # click-through inside its interval
        low, high = (float(x) for x in row[6].split("–"))
        assert low <= float(row[5]) <= high
    assert sum(int(row[2]) for row in arms) == VISITS
    significance = cells(page, "significance")
    assert {row[0] for row in significance} == {"click-through", "purchase rate"}
    assert all(re.fullmatch(r"-?\d+\.\d\d", row[2]) for row in significance)
    charts = page.locator("figure.curve svg[role=img]")
    assert charts.count() == 2
    assert page.locator("figure.curve svg polyline").count() == 4  # one line per arm each
    screenshot("experiment-running")

    page.select_option("select[name=winner]", "visrank")
    page.click("form[aria-labelledby=stop-h] button[type=submit]")
    page.wait_for_selector("[role=status] >> text=the API now serves visrank by default")
    experiment.refresh_from_db()
    assert experiment.status == "stopped" and experiment.winner == "visrank"
    assert "winner: visrank" in page.locator("p.meta").first.inner_text()
    assert page.locator("form[aria-labelledby=stop-h]").count() == 0
    screenshot("experiment-stopped")

    # A method trained after the shop closed: no logged list can judge it yet.
    train("random")
    page.click("nav[aria-label=Main] >> text=Methods")
    page.wait_for_selector("[data-testid=off-policy]")
    estimates = {row[0]: row for row in cells(page, "off-policy") if len(row) > 2}
    assert {"popularity", "visrank", "random"} <= set(estimates)
    for method in ("popularity", "visrank"):
        row = estimates[method]
        assert int(row[3]) > 0  # usable lists
        assert re.fullmatch(r"\d+\.\d{3} ± \d+\.\d{3}", row[4])  # IPS ± its standard error
        assert re.fullmatch(r"\d+\.\d{3}", row[5])  # SNIPS
        assert re.fullmatch(r"\d+\.\d{3}", row[9])  # purchases per list, DR
    assert estimates["random"][3] == "0"
    warning = page.locator("[data-testid=off-policy] td.warning[role=note]", has_text="random")
    assert "no logged list came after this job was trained" in warning.inner_text()
    screenshot("methods-off-policy")

    # A curator reads the same pages and has no form to start or stop anything.
    page.context.clear_cookies()
    log_in(page, live_server, "curator", "pw-curator-1")
    page.goto(f"{live_server.url}/experiments/")
    page.wait_for_selector("[data-testid=experiments]")
    assert page.locator("form[aria-labelledby=start-h]").count() == 0
    assert "needs the api.manage_experiment permission" in page.content()
    page.click("[data-testid=experiments] >> text=Popularity against VisRank")
    page.wait_for_selector("[data-testid=arms]")
    assert cells(page, "arms") == arms
    assert page.locator("form").filter(has=page.locator("select[name=winner]")).count() == 0
