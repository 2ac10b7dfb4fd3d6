"""Online experiments through the services and the API: starting one (who may, what is
refused), the hash assignment and its split, what the API serves inside one (arms,
exploration with exact propensities, interleaving), the per-arm statistics, and stopping
one with a winner the API then serves by default."""

from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from recengine.online import inclusion_propensity, two_proportion_test, wilson_interval
from tests.api.conftest import bearer, train
from webapp.api.experiment_stats import experiment_stats
from webapp.api.experiments import arm_of, experiment_running, experiment_start, experiment_stop
from webapp.api.models import ApiClient, ApiEvent, Experiment, Impression, ImpressionItem
from webapp.catalogue.models import Artwork, Collector

pytestmark = pytest.mark.django_db


def recommend(client, token, collector, **params):
    query = "&".join(f"{key}={value}" for key, value in {"k": 5, **params}.items())
    response = client.get(
        f"/api/v1/collectors/{collector.external_id}/recommendations?{query}", **bearer(token)
    )
    assert response.status_code == 200, response.content
    return response.json()


def with_salt(experiment, salt: str) -> Experiment:
    """The salt is random per experiment; a test fixes it to replay one assignment."""
    Experiment.objects.filter(pk=experiment.pk).update(salt=salt)
    experiment.refresh_from_db()
    return experiment


def salt_splitting(experiment, collectors) -> Experiment:
    """The first of a seeded sequence of salts that puts the collectors in both arms."""
    for n in range(100):
        arms = {arm_of(with_salt(experiment, f"salt-{n}"), key(c)) for c in collectors}
        if len(arms) == 2:
            return experiment
    raise AssertionError("no salt of 100 splits the collectors")


def key(collector) -> str:
    return f"collector:{collector.external_id}"


# --------------------------------------------------------------------------- starting


def test_start_refuses_what_cannot_run(served, staff):
    both = ["popularity", "visrank"]
    third = f"job:{served['popularity'].pk}"  # a third name a trained job answers to
    refused_cases = [
        ({"methods": ["popularity"]}, "methods", "two or more"),
        ({"methods": ["popularity", " popularity "]}, "methods", "two or more"),
        ({"methods": ["popularity", "no-such-method"]}, "methods", "no trained model"),
        ({"methods": [*both, third], "design": "interleaving"}, "methods", "exactly two"),
        ({"methods": both, "epsilon": -0.1}, "epsilon", "between 0 and 0.5"),
        ({"methods": both, "epsilon": 0.6}, "epsilon", "between 0 and 0.5"),
        ({"methods": both, "epsilon": float("nan")}, "epsilon", "between 0 and 0.5"),
        ({"methods": both, "design": "interleaving", "epsilon": 0.1}, "epsilon", "not explore"),
        ({"methods": both, "design": "bandit"}, "design", "one of"),
        ({"methods": both, "shares": [1.0]}, "shares", "one positive share"),
        ({"methods": both, "shares": [1.0, 0.0]}, "shares", "one positive share"),
    ]
    for kwargs, field, message in refused_cases:
        with pytest.raises(ValidationError) as refused:
            experiment_start(user=staff, name="x", **kwargs)
        assert message in " ".join(refused.value.message_dict[field]), kwargs
    assert not Experiment.objects.exists()
    # three arms are fine for A/B
    experiment = experiment_start(user=staff, name="three", methods=[*both, third])
    assert experiment.methods == [*both, third]
    assert [arm["share"] for arm in experiment.arms] == [0.333333] * 3


def test_start_refuses_a_reference_line_and_a_second_running_experiment(served, staff):
    train("oracle")  # the generator's hidden tastes: a line to read methods against
    with pytest.raises(ValidationError) as refused:
        experiment_start(user=staff, name="x", methods=["popularity", "oracle"])
    assert "reference line" in " ".join(refused.value.message_dict["methods"])

    first = experiment_start(user=staff, name="first", methods=["popularity", "visrank"])
    with pytest.raises(ValidationError) as refused:
        experiment_start(user=staff, name="second", methods=["visrank", "popularity"])
    assert "running already" in " ".join(refused.value.message_dict["name"])
    assert list(Experiment.objects.all()) == [first]
    assert experiment_running() == first

    experiment_stop(user=staff, experiment=first)
    second = experiment_start(user=staff, name="second", methods=["visrank", "popularity"])
    assert experiment_running() == second


def test_only_a_holder_of_the_permission_starts_or_stops(served, staff, curator):
    with pytest.raises(PermissionDenied, match="api.manage_experiment"):
        experiment_start(user=curator, name="x", methods=["popularity", "visrank"])
    assert not Experiment.objects.exists()

    experiment = experiment_start(
        user=staff, name="", methods=["popularity", "visrank"], shares=[3, 1], epsilon=0.1
    )
    assert experiment.name == "popularity vs visrank"
    assert experiment.created_by == staff and experiment.status == "running"
    assert experiment.arms == [
        {"method": "popularity", "share": 0.75},
        {"method": "visrank", "share": 0.25},
    ]
    with pytest.raises(PermissionDenied):
        experiment_stop(user=curator, experiment=experiment, winner="visrank")
    experiment.refresh_from_db()
    assert experiment.status == "running" and experiment.winner == ""


# --------------------------------------------------------------------------- assignment


@pytest.mark.parametrize("shares, first_share", [([1, 1], 0.5), ([3, 1], 0.75)])
def test_the_hash_keeps_each_collector_in_one_arm_and_the_split_holds(
    served, staff, shares, first_share
):
    experiment = experiment_start(
        user=staff, name="split", methods=["popularity", "visrank"], shares=shares
    )
    who = [f"collector:c{i}" for i in range(2000)]
    for seed in range(10):  # ten salts: ten independent shuffles of the same collectors
        with_salt(experiment, f"seed-{seed}")
        arms = np.asarray([arm_of(experiment, w) for w in who])
        assert set(arms.tolist()) == {0, 1}
        # 2000 collectors: the share's standard error is under 0.011
        assert abs((arms == 0).mean() - first_share) < 0.05, seed
        assert [arm_of(experiment, w) for w in who[:200]] == arms[:200].tolist()  # stable
    # a new salt re-shuffles: two salts agree on a collector's arm only by chance, with
    # probability sum(share^2), as independent draws would
    first = np.asarray([arm_of(with_salt(experiment, "a"), w) for w in who])
    second = np.asarray([arm_of(with_salt(experiment, "b"), w) for w in who])
    chance = first_share**2 + (1 - first_share) ** 2
    assert abs((first == second).mean() - chance) < 0.05


def test_an_ab_experiment_serves_each_collector_from_its_arm(client, served, tokens, staff):
    experiment = experiment_start(user=staff, name="ab", methods=["popularity", "visrank"])
    collectors = list(Collector.objects.order_by("pk"))
    experiment = salt_splitting(experiment, collectors)
    seen = set()
    for collector in collectors:
        expected = experiment.methods[arm_of(experiment, key(collector))]
        for _ in range(2):  # the same arm on every request
            answer = recommend(client, tokens["reader"], collector)
            assert answer["policy"]["method"] == expected
            assert answer["policy"]["job"] == served[expected].pk
            assert answer["policy"]["experiment"] == experiment.pk
            assert answer["policy"]["arm"] == expected
            assert answer["policy"]["explored"] is False
            impression = Impression.objects.get(request_id=answer["request_id"])
            assert impression.experiment == experiment and impression.arm == expected
            assert impression.method == expected and impression.job == served[expected]
            assert impression.policy["design"] == "ab"
            # epsilon 0: the ranker's own list, each work shown for sure
            assert set(impression.items.values_list("propensity", flat=True)) == {1.0}
        seen.add(expected)
    assert seen == {"popularity", "visrank"}

    # A caller who names a method gets it, outside the experiment.
    collector = collectors[0]
    other = next(
        m for m in experiment.methods if m != experiment.methods[arm_of(experiment, key(collector))]
    )
    answer = recommend(client, tokens["reader"], collector, method=other)
    assert answer["policy"]["method"] == other
    assert answer["policy"]["experiment"] is None and answer["policy"]["arm"] == ""
    impression = Impression.objects.get(request_id=answer["request_id"])
    assert impression.experiment is None and impression.arm == "" and impression.method == other


def test_exploration_records_the_exact_inclusion_propensities(served, staff):
    from webapp.api.candidates import Filters
    from webapp.api.serving import collector_answer

    epsilon, k = 0.5, 5
    experiment = experiment_start(
        user=staff, name="explore", methods=["popularity", "visrank"], epsilon=epsilon
    )
    experiment = with_salt(experiment, "explore")
    client = ApiClient.objects.create(name="shop", prefix="p", token_hash="h", scopes=["read"])
    explored = exploited = 0
    for n, collector in enumerate(Collector.objects.order_by("pk")):
        arm = experiment.methods[arm_of(experiment, key(collector))]
        # The ranker's own top k for this collector now, outside the experiment.
        own = collector_answer(
            client=client, collector=collector, method=arm, k=k, filters=Filters(), nonce="own"
        )
        top = {item.artwork.pk for item in own.served.items}
        for nonce in range(4):  # the coin is seeded by the request's nonce: replayable
            answer = collector_answer(
                client=client,
                collector=collector,
                method="",
                k=k,
                filters=Filters(),
                nonce=f"{n}-{nonce}",
            )
            impression = Impression.objects.get(request_id=answer.request_id)
            assert impression.arm == arm and impression.policy["epsilon"] == epsilon
            items = list(impression.items.all())
            assert len(items) == k
            n_candidates = impression.n_candidates
            assert n_candidates > k
            expected = [
                inclusion_propensity(item.artwork_id in top, epsilon, k, n_candidates)
                for item in items
            ]
            assert [item.propensity for item in items] == expected
            if impression.policy["explored"]:
                explored += 1
                assert answer.served.served_by == "exploration"
                assert all(item.score is None for item in items)
            else:
                exploited += 1
                assert [item.artwork_id for item in items] == [
                    i.artwork.pk for i in own.served.items
                ]
                assert all(item.score is not None for item in items)
                assert all(p == 1 - epsilon + epsilon * k / n_candidates for p in expected)
    assert explored and exploited  # 40 seeded coins of one half: both sides came up


def test_interleaving_mixes_both_rankers_with_teams_and_no_propensity(
    client, served, tokens, staff
):
    experiment = experiment_start(
        user=staff, name="il", methods=["popularity", "visrank"], design="interleaving"
    )
    teams = set()
    for collector in Collector.objects.order_by("pk"):
        answer = recommend(client, tokens["reader"], collector, k=8)
        assert answer["policy"]["method"] == "popularity+visrank"
        assert answer["policy"]["arm"] == "interleaved"
        assert answer["policy"]["experiment"] == experiment.pk
        impression = Impression.objects.get(request_id=answer["request_id"])
        assert impression.policy["design"] == "interleaving"
        items = list(impression.items.all())
        assert len(items) == 8
        assert all(item.propensity is None for item in items)
        assert {item.team for item in items} <= {"a", "b", "both"}
        # every work came from the ranker its team names
        lists = {
            team: {
                i["work"]
                for i in recommend(client, tokens["reader"], collector, k=8, method=method)["items"]
            }
            for team, method in (("a", "popularity"), ("b", "visrank"))
        }
        for item in items:
            if item.team in ("a", "b"):
                assert item.artwork.external_id in lists[item.team]
        teams |= {item.team for item in items}
    assert {"a", "b"} <= teams


# --------------------------------------------------------------------------- statistics


def _list(experiment, arm, collector, works, when):
    impression = Impression.objects.create(
        surface="collector",
        collector=collector,
        method=arm,
        experiment=experiment,
        arm=arm,
        policy={"design": experiment.design},
        created_at=when,
    )
    return [
        ImpressionItem.objects.create(
            impression=impression, artwork=work, position=n, score=1.0, propensity=1.0
        )
        for n, work in enumerate(works, start=1)
    ]


def test_stats_count_lists_clicks_and_purchases_per_arm(small_gallery, no_broker, staff):
    popularity, visrank = train("popularity"), train("visrank")
    experiment = experiment_start(user=staff, name="ab", methods=["popularity", "visrank"])
    shop = ApiClient.objects.create(name="shop", prefix="p", token_hash="h", scopes=["write"])
    collector = Collector.objects.first()
    works = list(Artwork.objects.order_by("pk")[:3])
    start = timezone.now() - timedelta(hours=1)
    made = []

    def event(item, kind):
        made.append(
            ApiEvent.objects.create(
                client=shop,
                event_id=f"e{len(made)}",
                kind=kind,
                artwork=item.artwork if item else works[0],
                collector=collector,
                impression_item=item,
                payload={},
                timestamp=start,
            )
        )

    # popularity: 5 lists; clicked: 0 (twice), 1 (a like), 2; bought: 2 (not clicked: 3)
    # visrank: 3 lists; clicked: 0; bought: none
    # Times 13 microseconds apart in all: the last list must land in the last time bin.
    lists = {"popularity": [], "visrank": []}
    for n, arm in enumerate(["popularity"] * 5 + ["visrank"] * 3):
        when = start + timedelta(microseconds=round(13 * n / 7))
        lists[arm].append(_list(experiment, arm, collector, works, when))
    p, v = lists["popularity"], lists["visrank"]
    event(p[0][0], "view")
    event(p[0][1], "view")
    event(p[1][2], "like")
    event(p[2][0], "view")
    event(p[2][0], "purchase")
    event(p[3][1], "purchase")
    event(v[0][2], "view")
    event(None, "view")  # not from a list: counts for no arm
    # a list of another experiment counts for none of this one's arms
    Experiment.objects.filter(pk=experiment.pk).update(status="stopped")
    other = Experiment.objects.create(name="other", arms=experiment.arms, salt="o")
    event(_list(other, "visrank", collector, works, start)[0], "view")

    stats = experiment_stats(experiment=experiment)
    by_arm = {arm.label: arm for arm in stats.arms}
    assert [arm.label for arm in stats.arms] == ["popularity", "visrank"]
    assert [arm.share for arm in stats.arms] == [0.5, 0.5]
    pop, vis = by_arm["popularity"], by_arm["visrank"]
    assert (pop.lists, pop.clicked.successes, pop.clicked.trials) == (5, 3, 5)
    assert (pop.bought.successes, pop.bought.trials) == (2, 5)
    assert (vis.lists, vis.clicked.successes, vis.bought.successes) == (3, 1, 0)
    assert pop.clicked.value == 3 / 5 and vis.bought.value == 0.0
    for rate in (pop.clicked, pop.bought, vis.clicked, vis.bought):
        assert rate.interval == wilson_interval(rate.successes, rate.trials)
    assert [(c.metric, c.first, c.second) for c in stats.comparisons] == [
        ("click-through", "popularity", "visrank"),
        ("purchase rate", "popularity", "visrank"),
    ]
    assert (stats.comparisons[0].z, stats.comparisons[0].p_value) == two_proportion_test(3, 5, 1, 3)
    assert (stats.comparisons[1].z, stats.comparisons[1].p_value) == two_proportion_test(2, 5, 0, 3)
    # the series is cumulative and ends at the totals
    for arm in stats.arms:
        assert len(arm.series) == len(stats.bin_labels) == 12
        trials = [clicked.trials for _, clicked, _ in arm.series]
        assert trials == sorted(trials)
        _, clicked, bought = arm.series[-1]
        assert (clicked.successes, clicked.trials) == (arm.clicked.successes, arm.lists)
        assert (bought.successes, bought.trials) == (arm.bought.successes, arm.lists)
    assert popularity and visrank


def test_interleaving_stats_credit_the_team_with_more_clicks(small_gallery, no_broker, staff):
    train("popularity"), train("visrank")
    experiment = experiment_start(
        user=staff, name="il", methods=["popularity", "visrank"], design="interleaving"
    )
    shop = ApiClient.objects.create(name="shop", prefix="p", token_hash="h", scopes=["write"])
    collector = Collector.objects.first()
    works = list(Artwork.objects.order_by("pk")[:3])
    now = timezone.now()
    clicks = [[1], [1], [2], [], [0], [1, 2]]  # positions 0 both, 1 a, 2 b
    for n, clicked in enumerate(clicks):
        items = _list(experiment, "interleaved", collector, works, now + timedelta(seconds=n))
        for item, team in zip(items, ("both", "a", "b"), strict=True):
            ImpressionItem.objects.filter(pk=item.pk).update(team=team, propensity=None)
        for position in clicked:
            ApiEvent.objects.create(
                client=shop,
                event_id=f"e{n}-{position}",
                kind="view",
                artwork=works[position],
                collector=collector,
                impression_item=items[position],
                payload={},
                timestamp=now,
            )
    stats = experiment_stats(experiment=experiment)
    assert stats.wins == {"popularity": 2, "visrank": 1, "tie": 3}
    from recengine.online import sign_test

    assert stats.wins_p_value == sign_test(2, 1)


# --------------------------------------------------------------------------- stopping


def test_stopping_with_a_winner_makes_the_api_serve_it_by_default(client, served, tokens, staff):
    collector = Collector.objects.order_by("pk").first()
    before = recommend(client, tokens["reader"], collector)["policy"]
    winner = "visrank" if before["method"] == "popularity" else "popularity"
    experiment = experiment_start(user=staff, name="ab", methods=["popularity", "visrank"])

    with pytest.raises(ValidationError) as refused:
        experiment_stop(user=staff, experiment=experiment, winner="oracle")
    assert "winner" in refused.value.message_dict
    experiment.refresh_from_db()
    assert experiment.status == "running" and experiment.winner == ""

    experiment_stop(user=staff, experiment=experiment, winner=winner)
    experiment.refresh_from_db()
    assert experiment.status == "stopped" and experiment.winner == winner
    assert experiment.stopped_at is not None and experiment_running() is None
    for collector in Collector.objects.order_by("pk")[:3]:
        policy = recommend(client, tokens["reader"], collector)["policy"]
        assert policy["method"] == winner and policy["job"] == served[winner].pk
        assert policy["experiment"] is None
    # an explicit method still wins over the default
    assert (
        recommend(client, tokens["reader"], collector, method=before["method"])["policy"]["method"]
        == before["method"]
    )
