"""Events in: views, likes and purchases, idempotent by the client's event id, all or
nothing, joined to the served list they followed from; a purchase sells the work at once."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.conftest import bearer
from webapp.api import candidates
from webapp.api.models import ApiEvent, ImpressionItem
from webapp.catalogue.models import Artwork, Collector, Interaction

pytestmark = pytest.mark.django_db

COLLECTOR = "demo-c0001"


def post_event(client, token, **fields):
    return client.post("/api/v1/events", fields, content_type="application/json", **bearer(token))


def recommend(client, token, collector, **query):
    response = client.get(f"/api/v1/collectors/{collector}/recommendations", query, **bearer(token))
    assert response.status_code == 200, response.content
    return response.json()


def counts() -> dict:
    return {
        "events": ApiEvent.objects.count(),
        "interactions": Interaction.objects.count(),
        "collectors": Collector.objects.count(),
        "sold": Artwork.objects.filter(is_sold=True).count(),
    }


def available_works() -> list[str]:
    return list(
        Artwork.objects.filter(is_sold=False).order_by("id").values_list("external_id", flat=True)
    )


def an_hour_ago() -> str:
    return (timezone.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()


def test_view_like_and_purchase_make_interactions(client, small_gallery, tokens):
    work = available_works()[0]
    before = counts()
    when = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    for number, kind in enumerate(("view", "like", "purchase")):
        response = post_event(
            client,
            tokens["writer"],
            event_id=f"e-{kind}",
            kind=kind,
            work=work,
            collector=COLLECTOR,
            timestamp=(when + timedelta(minutes=number)).isoformat(),
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["created"] is True and body["kind"] == kind and body["work"] == work
        assert body["event_id"] == f"e-{kind}"
        stored = ApiEvent.objects.get(event_id=f"e-{kind}")
        assert stored.client.name == "writer" and stored.collector.external_id == COLLECTOR
        interaction = stored.interaction
        assert interaction.kind == kind and interaction.artwork.external_id == work
        assert interaction.collector.external_id == COLLECTOR
        assert interaction.timestamp == when + timedelta(minutes=number)
    after = counts()
    assert after["events"] == before["events"] + 3
    assert after["interactions"] == before["interactions"] + 3
    assert after["collectors"] == before["collectors"]


def test_an_event_of_a_new_collector_makes_the_collector(client, small_gallery, tokens):
    work = available_works()[0]
    assert not Collector.objects.filter(external_id="shop-42").exists()
    response = post_event(
        client, tokens["writer"], event_id="e1", kind="like", work=work, collector="shop-42"
    )
    assert response.status_code == 201
    collector = Collector.objects.get(external_id="shop-42")
    assert Interaction.objects.get(collector=collector).kind == "like"


def test_a_retry_is_the_same_event(client, small_gallery, tokens):
    work = available_works()[0]
    event = {"event_id": "e1", "kind": "view", "work": work, "collector": COLLECTOR}
    timed = {**event, "event_id": "e2", "timestamp": an_hour_ago()}
    for sent in (event, timed):
        assert post_event(client, tokens["writer"], **sent).status_code == 201
    before = counts()
    for sent in (event, timed):
        retry = post_event(client, tokens["writer"], **sent)
        assert retry.status_code == 200
        assert retry.json()["created"] is False and retry.json()["event_id"] == sent["event_id"]
    # The same time written another way is the same payload.
    same_moment = timed["timestamp"].replace("+00:00", "Z")
    retry = post_event(client, tokens["writer"], **{**timed, "timestamp": same_moment})
    assert retry.status_code == 200 and retry.json()["created"] is False
    assert counts() == before


def test_a_reused_event_id_with_other_content_is_a_conflict(client, small_gallery, tokens):
    first, second = available_works()[:2]
    event = {"event_id": "e1", "kind": "view", "work": first, "collector": COLLECTOR}
    assert post_event(client, tokens["writer"], **event).status_code == 201
    before = counts()
    for changed in (
        {"work": second},
        {"kind": "like"},
        {"collector": "demo-c0002"},
        {"timestamp": an_hour_ago()},
    ):
        refused = post_event(client, tokens["writer"], **{**event, **changed})
        assert refused.status_code == 409, changed
        assert refused.json()["field"] == "event_id" and "'e1'" in refused.json()["detail"]
    assert counts() == before


def test_event_ids_are_per_client(client, small_gallery, tokens):
    work = available_works()[0]
    event = {"event_id": "e1", "kind": "view", "work": work, "collector": COLLECTOR}
    assert post_event(client, tokens["writer"], **event).status_code == 201
    other = post_event(client, tokens["shop"], **{**event, "kind": "like"})
    assert other.status_code == 201 and other.json()["created"] is True
    assert ApiEvent.objects.filter(event_id="e1").count() == 2


def _bad_cases(work: str):
    soon = (timezone.now() + timedelta(hours=1)).isoformat()
    return [
        ({"kind": "bought"}, "kind", 400),
        ({"work": "no-such-work"}, "work", 400),
        ({"session": "s1"}, "collector", 400),  # both a collector and a session
        ({"collector": ""}, "collector", 400),  # neither
        ({"timestamp": "2026-06-01T10:00:00"}, "timestamp", 400),  # no time zone
        ({"timestamp": soon}, "timestamp", 400),
        ({"timestamp": "yesterday"}, "timestamp", 400),
        ({"request_id": "not-a-uuid"}, "request_id", 400),
        ({"request_id": str(uuid.UUID(int=7))}, "request_id", 400),  # no such list
        ({"event_id": ""}, "event_id", 400),
        ({"event_id": "x" * 101}, "event_id", 400),
        ({"collector": "c" * 101}, "collector", 400),
    ]


@pytest.mark.parametrize("kind", ["view", "purchase"])
def test_bad_input_names_the_field_and_writes_nothing(client, small_gallery, tokens, kind):
    work = available_works()[0]
    # A collector the API has never seen: a refused event must not create it either.
    good = {"event_id": "e1", "kind": kind, "work": work, "collector": "new-collector"}
    for changed, field, status in _bad_cases(work):
        before = counts()
        response = post_event(client, tokens["writer"], **{**good, **changed})
        assert response.status_code == status, (changed, response.content)
        assert response.json()["field"] == field, (changed, response.json())
        assert counts() == before, changed
    assert not Artwork.objects.get(external_id=work).is_sold
    assert not Collector.objects.filter(external_id="new-collector").exists()
    # The good event still goes in under the same id: nothing was kept of the refusals.
    assert post_event(client, tokens["writer"], **good).status_code == 201


def test_a_purchase_leaves_every_list_at_once(client, served, tokens, settings):
    """Each process keeps a table of candidates; one that read it before the sale (another
    gunicorn worker) must still leave the sold work out, and so must a fresh one."""
    settings.VITRINE_CANDIDATES_TTL_S = 3600  # the warm table is never re-read by age
    collectors = list(Collector.objects.values_list("external_id", flat=True))
    shown = {
        c: [i["work"] for i in recommend(client, tokens["reader"], c)["items"]] for c in collectors
    }
    work = shown[COLLECTOR][0]
    assert sum(work in works for works in shown.values()) > 1
    warm = candidates._table
    assert warm is not None and work in {
        Artwork.objects.get(pk=pk).external_id
        for pk in candidates.candidate_ids(candidates.Filters())
    }

    when = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    response = post_event(
        client,
        tokens["writer"],
        event_id="buy-1",
        kind="purchase",
        work=work,
        collector="demo-c0002",
        timestamp=when.isoformat(),
    )
    assert response.status_code == 201
    artwork = Artwork.objects.get(external_id=work)
    assert artwork.is_sold and artwork.sold_at == when

    # Another process's table, read before the sale.
    candidates._table = warm
    for method in ("popularity", "visrank"):
        for collector in collectors:
            listed = recommend(client, tokens["reader"], collector, method=method)
            assert work not in [i["work"] for i in listed["items"]], (method, collector)
    assert candidates._table is warm  # served from the warm table, not re-read

    # And a table read after the sale.
    candidates.catalogue_table_forget()
    for collector in collectors:
        listed = recommend(client, tokens["reader"], collector)
        assert work not in [i["work"] for i in listed["items"]], collector
    assert candidates._table is not warm
    visitor = client.post(
        "/api/v1/recommendations/visitor",
        {"works": [shown[COLLECTOR][1]], "session": "s1", "k": 40},
        content_type="application/json",
        **bearer(tokens["reader"]),
    )
    assert work not in [i["work"] for i in visitor.json()["items"]]
    similar = client.get(f"/api/v1/works/{shown[COLLECTOR][1]}/similar", **bearer(tokens["reader"]))
    assert work not in [i["work"] for i in similar.json()["items"]]


def test_a_work_is_sold_once(client, small_gallery, tokens):
    work = available_works()[0]
    buy = {"event_id": "buy-1", "kind": "purchase", "work": work, "collector": COLLECTOR}
    assert post_event(client, tokens["writer"], **buy).status_code == 201
    sold_at = Artwork.objects.get(external_id=work).sold_at
    before = counts()
    # A retry of the purchase is the same purchase, not a second one.
    retry = post_event(client, tokens["writer"], **buy)
    assert retry.status_code == 200 and retry.json()["created"] is False
    second = post_event(
        client,
        tokens["writer"],
        event_id="buy-2",
        kind="purchase",
        work=work,
        collector="demo-c0002",
    )
    assert second.status_code == 409
    assert second.json()["field"] == "work" and "already sold" in second.json()["detail"]
    by_visitor = post_event(
        client, tokens["writer"], event_id="buy-3", kind="purchase", work=work, session="s9"
    )
    assert by_visitor.status_code == 409
    assert counts() == before
    assert Artwork.objects.get(external_id=work).sold_at == sold_at
    # A work sold before the API (an import's sold column) cannot be bought either.
    sold = Artwork.objects.filter(is_sold=True).first()
    imported = post_event(
        client,
        tokens["writer"],
        event_id="buy-4",
        kind="purchase",
        work=sold.external_id,
        collector=COLLECTOR,
    )
    assert imported.status_code == 409 and imported.json()["field"] == "work"


def test_an_event_with_a_request_id_joins_that_list(client, served, tokens):
    first = recommend(client, tokens["reader"], COLLECTOR, k=5)
    second = recommend(client, tokens["reader"], COLLECTOR, k=5)  # later, same works
    item = first["items"][1]
    response = post_event(
        client,
        tokens["writer"],
        event_id="e1",
        kind="view",
        work=item["work"],
        collector=COLLECTOR,
        request_id=first["request_id"],
    )
    assert response.status_code == 201
    body = response.json()
    assert body["request_id"] == first["request_id"] and body["position"] == 2
    joined = ApiEvent.objects.get(event_id="e1").impression_item
    assert joined == ImpressionItem.objects.get(
        impression__request_id=first["request_id"], artwork__external_id=item["work"]
    )
    assert joined.impression.request_id != uuid.UUID(second["request_id"])

    # A list that did not show the work is no list to join.
    missing = next(w for w in available_works() if w not in {i["work"] for i in first["items"]})
    before = counts()
    refused = post_event(
        client,
        tokens["writer"],
        event_id="e2",
        kind="view",
        work=missing,
        collector=COLLECTOR,
        request_id=first["request_id"],
    )
    assert refused.status_code == 400 and refused.json()["field"] == "request_id"
    assert counts() == before


def test_an_event_without_a_request_id_joins_the_latest_list_shown(client, served, tokens):
    older = recommend(client, tokens["reader"], COLLECTOR, k=5)
    latest = recommend(client, tokens["reader"], COLLECTOR, k=3)
    recommend(client, tokens["reader"], "demo-c0002", k=5)  # another collector's, later
    work = latest["items"][0]["work"]
    assert work in [i["work"] for i in older["items"]]

    response = post_event(
        client, tokens["writer"], event_id="e1", kind="like", work=work, collector=COLLECTOR
    )
    assert response.status_code == 201
    assert response.json()["request_id"] == latest["request_id"]
    assert response.json()["position"] == 1
    joined = ApiEvent.objects.get(event_id="e1").impression_item
    assert str(joined.impression.request_id) == latest["request_id"]
    assert joined.impression.collector.external_id == COLLECTOR

    # Not shown to this collector: no list; long before the list: none either.
    shown = {i["work"] for i in older["items"]}
    unseen = next(w for w in available_works() if w not in shown)
    alone = post_event(
        client, tokens["writer"], event_id="e2", kind="view", work=unseen, collector=COLLECTOR
    )
    assert alone.status_code == 201 and alone.json()["request_id"] is None
    assert ApiEvent.objects.get(event_id="e2").impression_item is None
    early = post_event(
        client,
        tokens["writer"],
        event_id="e3",
        kind="view",
        work=work,
        collector=COLLECTOR,
        timestamp=(timezone.now() - timedelta(days=2)).isoformat(),
    )
    assert early.status_code == 201 and early.json()["request_id"] is None
    other = post_event(
        client,
        tokens["writer"],
        event_id="e4",
        kind="view",
        work=work,
        collector="demo-c0003",
    )
    assert other.status_code == 201 and other.json()["request_id"] is None


def test_a_session_event_joins_the_visitor_list_and_stores_no_interaction(client, served, tokens):
    picked = available_works()[0]
    listed = client.post(
        "/api/v1/recommendations/visitor",
        {"works": [picked], "session": "sess-1", "k": 5, "method": "visrank"},
        content_type="application/json",
        **bearer(tokens["reader"]),
    ).json()
    work = listed["items"][2]["work"]
    before = counts()
    response = post_event(
        client, tokens["writer"], event_id="e1", kind="like", work=work, session="sess-1"
    )
    assert response.status_code == 201
    assert response.json()["request_id"] == listed["request_id"]
    assert response.json()["position"] == 3
    stored = ApiEvent.objects.get(event_id="e1")
    assert stored.session == "sess-1" and stored.collector is None
    assert stored.interaction is None
    after = counts()
    assert after["events"] == before["events"] + 1
    assert after["interactions"] == before["interactions"]
    assert after["collectors"] == before["collectors"]
    # Another session's event is not joined to this visitor's list.
    other = post_event(
        client, tokens["writer"], event_id="e2", kind="like", work=work, session="sess-2"
    )
    assert other.status_code == 201 and other.json()["request_id"] is None


def test_two_events_at_the_same_moment_are_two_events(client, small_gallery, tokens):
    """Two views in the same second (the shop's clock has no finer grain) under two ids
    are two events, not a failure."""
    work = available_works()[0]
    when = an_hour_ago()
    for event_id in ("e1", "e2"):
        response = post_event(
            client,
            tokens["writer"],
            event_id=event_id,
            kind="view",
            work=work,
            collector=COLLECTOR,
            timestamp=when,
        )
        assert response.status_code == 201, response.content
    first, second = (ApiEvent.objects.get(event_id=e) for e in ("e1", "e2"))
    assert first.interaction is not None and second.interaction is None
    # The training data holds the view once (one row per collector, work, kind and time).
    assert (
        Interaction.objects.filter(
            collector__external_id=COLLECTOR,
            artwork__external_id=work,
            kind="view",
            timestamp=when,
        ).count()
        == 1
    )
