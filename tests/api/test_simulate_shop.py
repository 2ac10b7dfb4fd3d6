"""`manage.py simulate_shop`: the small gallery's collectors shop through the API by their
hidden tastes inside an exploring experiment, and the report holds one off-policy estimate
per (target, logging arm) with the simulated truth beside it."""

import json
import math

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from webapp.api.models import ApiClient, ApiEvent, Experiment, Impression
from webapp.catalogue.models import Interaction

pytestmark = pytest.mark.django_db

VISITS = 60


def forget_caches():
    """What a fresh process would not hold: the candidates table and the cache."""
    from django.core.cache import cache

    from webapp.api import candidates

    candidates.catalogue_table_forget()
    cache.clear()


def simulate(staff, path, seed=0):
    call_command(
        "simulate_shop",
        visits=VISITS,
        seed=seed,
        user=staff.username,
        methods="popularity,visrank",
        report=str(path),
        stdout=open("/dev/null", "w"),  # noqa: SIM115
        stderr=open("/dev/null", "w"),  # noqa: SIM115
    )
    return json.loads(path.read_text())


def test_the_shop_logs_its_visits_and_reports_each_arm_from_the_other(served, staff, tmp_path):
    report = simulate(staff, tmp_path / "report.json")

    experiment = Experiment.objects.get()
    assert experiment.status == "running" and experiment.methods == ["popularity", "visrank"]
    assert experiment.epsilon == 0.2
    impressions = Impression.objects.filter(experiment=experiment)
    assert impressions.count() == VISITS == report["lists"]
    assert set(impressions.values_list("arm", flat=True)) == {"popularity", "visrank"}

    events = ApiEvent.objects.all()
    views, purchases = events.filter(kind="view"), events.filter(kind="purchase")
    assert views.count() == report["clicks"] > 0
    assert purchases.count() == report["purchases"]
    # every event is joined to the list it followed from, and is training data
    assert not events.filter(impression_item=None).exists()
    assert not events.filter(interaction=None).exists()
    for e in events.select_related("impression_item__impression"):
        assert e.impression_item.impression.experiment == experiment
        assert e.impression_item.artwork_id == e.artwork_id
    assert Interaction.objects.filter(pk__in=events.values("interaction")).count() == len(events)

    # its token died with it
    shop = ApiClient.objects.get(name__startswith="simulated shop")
    assert shop.revoked_at is not None and shop.created_by == staff
    assert set(impressions.values_list("client", flat=True)) == {shop.pk}

    assert report["experiment"] == experiment.pk and report["epsilon"] == 0.2
    pairs = {(row["target"], row["logged_by"]) for row in report["estimates"]}
    assert pairs == {("popularity", "visrank"), ("visrank", "popularity")}
    assert len(report["estimates"]) == 2
    for row in report["estimates"]:
        logged = impressions.filter(arm=row["logged_by"]).count()
        assert row["lists"] == logged > 0
        assert math.isfinite(row["truth_on_these_lists"]) and row["truth_on_these_lists"] > 0
        assert all(math.isfinite(row[key]) for key in ("ips", "snips", "dr"))
        assert row["support"] == 1.0  # exploration: every candidate could be shown


def test_the_same_seed_gives_the_same_shop(served, staff, tmp_path):
    """Two runs from the same database (each rolled back: a fresh database for the next)."""
    counts = []
    for run in range(2):
        forget_caches()
        with transaction.atomic():
            report = simulate(staff, tmp_path / f"run{run}.json")
            counts.append(
                {
                    "outcome": (report["lists"], report["clicks"], report["purchases"]),
                    "arms": sorted(Impression.objects.values_list("arm", flat=True)),
                    "explored": sorted(
                        str(p["explored"])
                        for p in Impression.objects.values_list("policy", flat=True)
                    ),
                    "estimates": [
                        (r["ips"], r["truth_on_these_lists"]) for r in report["estimates"]
                    ],
                }
            )
            transaction.set_rollback(True)
        assert not Impression.objects.exists()
    assert counts[0] == counts[1]


def test_the_shop_refuses_to_run_without_a_user(served, monkeypatch):
    monkeypatch.delenv("VITRINE_USER", raising=False)
    with pytest.raises(CommandError, match="--user"):
        call_command("simulate_shop", visits=5, seed=0, methods="popularity,visrank")
    assert not Experiment.objects.exists() and not ApiClient.objects.exists()
