"""Off-policy estimates from the API's own impression log (webapp/api/offpolicy.py): the
target's lists are rebuilt as they would have been, only later lists count, interleaved
ones are left out, and the estimates are cached until something new is logged."""

import pytest

from tests.api.conftest import bearer, train
from webapp.api import offpolicy
from webapp.api.experiments import experiment_start, experiment_stop
from webapp.api.models import Impression
from webapp.api.offpolicy import job_estimates, logged_lists, off_policy_estimates
from webapp.catalogue.models import Collector

pytestmark = pytest.mark.django_db


def recommend(client, token, collector, method="", k=5):
    url = f"/api/v1/collectors/{collector.external_id}/recommendations?k={k}"
    response = client.get(url + (f"&method={method}" if method else ""), **bearer(token))
    assert response.status_code == 200, response.content
    return response.json()


def event(client, token, n, kind, answer, position, collector):
    response = client.post(
        "/api/v1/events",
        {
            "event_id": f"ev-{n}",
            "kind": kind,
            "work": answer["items"][position]["work"],
            "collector": collector.external_id,
            "request_id": answer["request_id"],
        },
        content_type="application/json",
        **bearer(token),
    )
    assert response.status_code == 201, response.content


def log_lists(client, tokens, method, rounds=2):
    """Lists for every collector, deterministic (epsilon 0), with a seeded pattern of
    views, likes and a purchase joined to them."""
    n = 0
    for r in range(rounds):
        for i, collector in enumerate(Collector.objects.order_by("pk")):
            answer = recommend(client, tokens["reader"], collector, method)
            if (i + r) % 2 == 0:
                event(client, tokens["writer"], f"{method}-{n}", "view", answer, i % 5, collector)
                n += 1
            if (i + r) % 3 == 0:
                event(client, tokens["writer"], f"{method}-{n}", "like", answer, 4, collector)
                n += 1
            if i == 3 and r == 0:
                event(client, tokens["writer"], f"{method}-{n}", "purchase", answer, 2, collector)
                n += 1
    return n


def rows_of(estimates, job):
    return {row.reward: row for row in estimates if row.job_id == job.pk}


def test_the_logging_method_as_target_is_its_own_logged_value(client, served, tokens):
    log_lists(client, tokens, "popularity")
    logged = logged_lists()
    assert len(logged.lists) == 2 * Collector.objects.count()
    rows, targets = job_estimates(logged, served["popularity"])
    # the target's rebuilt lists are exactly what was shown, in the shown order
    for entry, target in zip(logged.lists, targets, strict=True):
        shown = list(
            Impression.objects.get(pk=entry["pk"]).items.values_list("artwork_id", flat=True)
        )
        assert target.tolist() == shown
    by_reward = {row.reward: row for row in rows}
    assert set(by_reward) == {"click", "purchase"}
    click, purchase = by_reward["click"], by_reward["purchase"]
    assert click.usable == purchase.usable == len(logged.lists)
    assert click.support == 1.0 and click.warning == ""
    assert click.logged_value > 0 and purchase.logged_value > 0
    for row in rows:
        assert row.ips == pytest.approx(row.logged_value)
        assert row.snips == pytest.approx(row.logged_value)
        assert row.dr == pytest.approx(row.logged_value)
    # the views and likes, one per list at most here: clicks per list is their share
    clicked = sum(logged.rewards["click"])
    assert click.ips == pytest.approx(clicked / len(logged.lists))


def test_a_target_that_shows_other_works_has_no_full_support(client, served, tokens):
    log_lists(client, tokens, "popularity")
    estimates = off_policy_estimates(jobs=[served["popularity"], served["visrank"]])
    visrank = rows_of(estimates, served["visrank"])["click"]
    assert visrank.usable == 2 * Collector.objects.count()
    assert 0 <= visrank.support < 1
    assert "no chance of being shown" in visrank.warning
    assert rows_of(estimates, served["popularity"])["click"].support == 1.0


def test_lists_logged_before_the_target_was_trained_do_not_count(client, served, tokens):
    log_lists(client, tokens, "popularity", rounds=1)
    later = train("popularity")  # trained after every logged list: it saw their outcomes
    estimates = off_policy_estimates(jobs=[served["popularity"], later])
    for row in rows_of(estimates, later).values():
        assert row.usable == 0 and row.ips is None and row.support is None
        assert "no logged list came after this job" in row.warning
    assert rows_of(estimates, served["popularity"])["click"].usable == Collector.objects.count()


def test_interleaved_lists_are_left_out(client, served, tokens, staff):
    collectors = list(Collector.objects.order_by("pk"))
    experiment = experiment_start(
        user=staff, name="il", methods=["popularity", "visrank"], design="interleaving"
    )
    for collector in collectors[:4]:
        assert recommend(client, tokens["reader"], collector)["policy"]["arm"] == "interleaved"
    assert logged_lists() is None  # nothing but interleaved lists
    experiment_stop(user=staff, experiment=experiment)
    plain = [recommend(client, tokens["reader"], c)["request_id"] for c in collectors[:3]]
    logged = logged_lists()
    assert [entry["pk"] for entry in logged.lists] == list(
        Impression.objects.filter(request_id__in=plain)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    assert Impression.objects.count() == 7
    row = rows_of(off_policy_estimates(jobs=[served["popularity"]]), served["popularity"])
    assert row["click"].usable == 3


def test_the_estimates_are_cached_until_a_list_or_an_event_is_logged(
    client, served, tokens, monkeypatch
):
    calls = []
    real = offpolicy.job_estimates

    def counting(logged, job):
        calls.append(job.pk)
        return real(logged, job)

    monkeypatch.setattr(offpolicy, "job_estimates", counting)
    jobs = [served["popularity"], served["visrank"]]
    collector = Collector.objects.order_by("pk").first()
    answer = recommend(client, tokens["reader"], collector, "popularity")

    first = off_policy_estimates(jobs=jobs)
    assert len(calls) == 2 and len(first) == 4
    assert repr(off_policy_estimates(jobs=jobs)) == repr(first)  # (nan != nan)
    assert len(calls) == 2  # cached

    event(client, tokens["writer"], "cached-1", "view", answer, 0, collector)
    clicked = off_policy_estimates(jobs=jobs)
    assert len(calls) == 4  # an event: computed again
    assert rows_of(clicked, served["popularity"])["click"].ips == 1.0
    assert rows_of(first, served["popularity"])["click"].ips == 0.0
    assert repr(off_policy_estimates(jobs=jobs)) == repr(clicked) and len(calls) == 4

    recommend(client, tokens["reader"], collector, "popularity")
    again = off_policy_estimates(jobs=jobs)
    assert len(calls) == 6  # a list: computed again
    assert rows_of(again, served["popularity"])["click"].usable == 2
    # other jobs are another question
    off_policy_estimates(jobs=jobs[:1])
    assert len(calls) == 7
