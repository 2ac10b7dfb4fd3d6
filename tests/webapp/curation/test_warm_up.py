"""A web process loads its served models at start, so the first collector page does not."""

import threading
from types import SimpleNamespace

import pytest
from django.db import connections
from django.urls import reverse

import recengine
from recengine.index import ItemIndex
from webapp.catalogue.models import Collector
from webapp.curation import warm_up
from webapp.curation.selectors.recommenders import served_model
from webapp.jobs import serving

from .conftest import train

pytestmark = pytest.mark.django_db


@pytest.fixture
def cold_serving():
    """No model or index cached by an earlier test (test databases reuse ids)."""

    def clear():
        for cache in (serving._cache, serving._index_cache, serving._newest_seen):
            cache.clear()

    clear()
    yield
    clear()


def refuse_to_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a page loaded what the warm-up should have loaded")

    monkeypatch.setattr(recengine, "load_model", refuse)
    monkeypatch.setattr(ItemIndex, "load", refuse)


def test_warm_up_loads_every_served_model_and_index(
    trained, cold_serving, monkeypatch, curator_client
):
    bpr = train("bpr", epochs=2)  # a dot-product model: served from its faiss index
    loaded = serving.served_models_warm_up()
    assert {job.pk for job in loaded} == {*(job.pk for job in trained.values()), bpr.pk}

    refuse_to_load(monkeypatch)
    collector = Collector.objects.filter(interactions__kind="purchase").first()
    for method in ("popularity", "visrank", "random", "bpr"):
        page = curator_client.get(
            reverse("curation:collector-detail", args=[collector.pk]), {"method": method}
        )
        assert page.status_code == 200
        recommendations = page.context["recommendations"]
        assert recommendations.job.method == method and recommendations.items
    assert recommendations.served_by == "faiss index"


def test_warm_up_also_loads_the_default_method_when_it_is_not_the_active_job(
    trained, cold_serving, monkeypatch
):
    older = trained["visrank"]
    train("visrank", aggregation="mean")  # now the active visrank; `older` is not
    older.refresh_from_db()
    assert not older.is_active
    monkeypatch.setattr(
        "webapp.curation.selectors.default_method.default_method",
        lambda: SimpleNamespace(value=f"job:{older.pk}", job=older),
    )
    report = warm_up.pages_warm_up()
    assert older.pk in report["jobs"] and report["default"] == f"job:{older.pk}"
    refuse_to_load(monkeypatch)
    assert served_model(older) is not None


@pytest.mark.django_db(transaction=True)
def test_a_request_during_the_warm_up_waits_for_the_same_load(
    small_gallery, cold_serving, monkeypatch
):
    job = train("popularity")
    original = recengine.load_model
    loading, release, calls = threading.Event(), threading.Event(), []

    def slow_load(path):
        calls.append(path)
        loading.set()
        assert release.wait(timeout=120)
        return original(path)

    monkeypatch.setattr(recengine, "load_model", slow_load)

    def in_thread(target, results):
        def run():
            try:
                results.append(target())
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    warmed, answered = [], []
    warm = in_thread(serving.served_models_warm_up, warmed)
    assert loading.wait(timeout=120)  # the warm-up is loading, under the job's lock
    assert serving.job_lock(job).locked()
    request = in_thread(lambda: served_model(job), answered)
    release.set()
    warm.join(timeout=120)
    request.join(timeout=120)
    assert [j.pk for j in warmed[0]] == [job.pk]
    assert len(calls) == 1  # loaded once, by the warm-up; the request waited for it
    assert answered[0] is serving.model_for_job(job)
