"""The shop's API: scopes, revoked tokens, rate limits, CORS, events in (idempotent, all
or nothing), purchases leaving every list at once, and a listed work waiting for its
features."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.acting import trainer
from tests.api.conftest import bearer
from webapp.api.models import ApiEvent, Impression, ImpressionItem
from webapp.catalogue.models import Artwork, Collector, Interaction

pytestmark = pytest.mark.django_db


def _collector() -> Collector:
    return Collector.objects.filter(interactions__kind="purchase").distinct().first()


def _list(client, token, collector, **params):
    return client.get(
        f"/api/v1/collectors/{collector.external_id}/recommendations",
        {"k": 10, **params},
        **bearer(token),
    )


def _event(client, token, **body):
    return client.post("/api/v1/events", body, content_type="application/json", **bearer(token))


def _counts():
    return (
        ApiEvent.objects.count(),
        Interaction.objects.count(),
        Collector.objects.count(),
        Artwork.objects.filter(is_sold=True).count(),
    )


def test_each_scope_opens_only_its_calls_and_a_revoked_token_nothing(client, served, tokens):
    from webapp.api.models import ApiClient
    from webapp.api.tokens import api_client_revoke

    collector = _collector()
    work = Artwork.objects.filter(is_sold=False).first().external_id
    view = {"event_id": "e-1", "kind": "view", "work": work, "collector": collector.external_id}
    assert _list(client, tokens["reader"], collector).status_code == 200
    assert _event(client, tokens["reader"], **view).status_code == 403  # read only
    assert _list(client, tokens["writer"], collector).status_code == 403  # write only
    assert _event(client, tokens["writer"], **view).status_code == 201
    assert (
        client.get(f"/api/v1/collectors/{collector.external_id}/recommendations").status_code == 401
    )
    assert _list(client, "vt_" + "x" * 43, collector).status_code == 401
    api_client_revoke(user=trainer(), client=ApiClient.objects.get(name="reader"))
    assert _list(client, tokens["reader"], collector).status_code == 401
    assert _list(client, tokens["shop"], collector).status_code == 200  # others unaffected


def test_a_token_opens_no_curator_page_and_a_session_no_api_call(client, served, tokens, staff):
    for page in ("/catalogue/", "/jobs/", "/experiments/", "/admin/"):
        answer = client.get(page, **bearer(tokens["shop"]))
        assert answer.status_code == 302 and "login" in answer["Location"], page
    client.force_login(staff)
    assert _list(client.__class__(), "", _collector()).status_code == 401
    assert (
        client.get(f"/api/v1/collectors/{_collector().external_id}/recommendations").status_code
        == 401
    )
    # the schema: a logged-in user or a token; nobody else
    assert client.get("/api/v1/openapi.json").status_code == 200
    anonymous = client.__class__()
    assert anonymous.get("/api/v1/openapi.json").status_code == 302
    assert anonymous.get("/api/v1/openapi.json", **bearer(tokens["reader"])).status_code == 200


def test_the_rate_limit_is_per_token(client, served, tokens):
    from webapp.api.tokens import api_client_create

    _, slow = api_client_create(user=trainer(), name="slow", scopes=["read"], requests_per_minute=3)
    collector = _collector()
    answers = [_list(client, slow, collector).status_code for _ in range(4)]
    assert answers[:3] == [200, 200, 200] and answers[3] == 429
    refused = _list(client, slow, collector)
    assert 0 < int(refused["Retry-After"]) <= 60
    assert _list(client, tokens["reader"], collector).status_code == 200


def test_cors_answers_only_configured_origins_and_only_for_the_api(client, settings, tokens):
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example"]
    preflight = {
        "HTTP_ORIGIN": "https://shop.example",
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization",
    }
    ok = client.options("/api/v1/works/x", **preflight)
    assert ok["Access-Control-Allow-Origin"] == "https://shop.example"
    other = client.options(
        "/api/v1/works/x", **{**preflight, "HTTP_ORIGIN": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in other
    page = client.options("/catalogue/", **preflight)
    assert "Access-Control-Allow-Origin" not in page


def test_an_event_is_idempotent_and_bad_input_names_the_field_and_writes_nothing(
    client, served, tokens
):
    collector = _collector()
    work = Artwork.objects.filter(is_sold=False).first()
    like = {
        "event_id": "like-1",
        "kind": "like",
        "work": work.external_id,
        "collector": collector.external_id,
    }
    first = _event(client, tokens["writer"], **like)
    assert first.status_code == 201 and first.json()["created"] is True
    stored = _counts()
    again = _event(client, tokens["writer"], **like)
    assert again.status_code == 200 and again.json()["created"] is False
    assert _counts() == stored
    changed = _event(client, tokens["writer"], **{**like, "kind": "view"})
    assert changed.status_code == 409 and changed.json()["field"] == "event_id"
    bad = [
        ({"kind": "donate"}, "kind"),
        ({"work": "no-such-work"}, "work"),
        ({"collector": ""}, "collector"),  # neither collector nor session
        ({"session": "s-1"}, "collector"),  # both
        ({"timestamp": "2026-01-01T10:00:00"}, "timestamp"),  # no time zone
        ({"timestamp": "2999-01-01T10:00:00Z"}, "timestamp"),
        ({"request_id": "not-a-uuid"}, "request_id"),
        ({"request_id": "9b2f4c1e-0000-4000-8000-000000000000"}, "request_id"),
    ]
    for n, (change, field) in enumerate(bad):
        answer = _event(client, tokens["writer"], **{**like, "event_id": f"bad-{n}", **change})
        assert answer.status_code == 400, (change, answer.content)
        assert answer.json()["field"] == field, (change, answer.json())
        assert field in answer.json()["detail"]
    assert _counts() == stored


def test_a_purchase_sells_the_work_at_once_and_it_leaves_every_list(client, served, tokens):
    collectors = list(Collector.objects.all()[:4])
    listed = _list(client, tokens["shop"], collectors[0], method="popularity").json()
    top = listed["items"][0]["work"]
    for other in collectors[1:]:  # warm every list's table of candidates first
        assert top in [
            i["work"]
            for i in _list(client, tokens["shop"], other, method="popularity").json()["items"]
        ]
    bought = _event(
        client,
        tokens["writer"],
        event_id="buy-1",
        kind="purchase",
        work=top,
        collector=collectors[0].external_id,
        request_id=listed["request_id"],
    )
    assert bought.status_code == 201
    assert bought.json()["request_id"] == listed["request_id"]  # joined to the list it came from
    assert bought.json()["position"] == 1
    work = Artwork.objects.get(external_id=top)
    assert work.is_sold and work.sold_at is not None
    for collector in collectors:
        for method in ("popularity", "visrank"):
            items = _list(client, tokens["shop"], collector, method=method).json()["items"]
            assert top not in [i["work"] for i in items], (collector, method)
    second = _event(
        client,
        tokens["writer"],
        event_id="buy-2",
        kind="purchase",
        work=top,
        collector=collectors[1].external_id,
    )
    assert second.status_code == 409 and second.json()["field"] == "work"


def test_every_list_is_logged_and_a_click_joins_the_list_that_showed_it(client, served, tokens):
    collector = _collector()
    answer = _list(client, tokens["reader"], collector, method="visrank").json()
    assert (
        answer["policy"]["method"] == "visrank" and answer["policy"]["job"] == served["visrank"].pk
    )
    assert answer["policy"]["model"]
    impression = Impression.objects.get(request_id=answer["request_id"])
    rows = list(impression.items.order_by("position"))
    assert [r.position for r in rows] == list(range(1, len(answer["items"]) + 1))
    for row, item in zip(rows, answer["items"], strict=True):
        assert row.artwork.external_id == item["work"]
        assert row.propensity == item["propensity"] == 1.0
        assert row.score == pytest.approx(item["score"])
        assert item["explanation"]["text"]
    assert impression.policy["method"] == "visrank" and impression.policy["k"] == 10
    clicked = answer["items"][2]["work"]
    view = _event(
        client,
        tokens["writer"],
        event_id="click-1",
        kind="view",
        work=clicked,
        collector=collector.external_id,
    )  # no request id: the latest list showing it
    assert view.json()["request_id"] == answer["request_id"] and view.json()["position"] == 3
    assert ApiEvent.objects.get(event_id="click-1").impression_item == ImpressionItem.objects.get(
        impression=impression, position=3
    )


def test_filters_hold_for_every_item(client, served, tokens):
    collector = _collector()
    medium = Artwork.objects.exclude(medium="").values_list("medium", flat=True).first()
    items = _list(
        client, tokens["reader"], collector, method="visrank", k=40, price_max=500, medium=medium
    ).json()["items"]
    assert items
    for item in items:
        assert item["price"] is not None and item["price"] <= 500
        assert item["medium"] == medium
    wrong = _list(client, tokens["reader"], collector, price_min=900, price_max=100)
    assert wrong.status_code == 400 and wrong.json()["field"] == "price_min"
    for k in (0, 101):
        assert _list(client, tokens["reader"], collector, k=k).status_code == 400


def _png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_listed_work_waits_for_its_features_then_is_recommended(
    client, served, tokens, no_broker, media_root, django_capture_on_commit_callbacks
):
    from webapp.api.works import artwork_describe

    form = {
        "external_id": "new-1",
        "title": "Fresh",
        "artist": "New Hand",
        "price": "250",
        "image": SimpleUploadedFile("fresh.png", _png((30, 160, 60))),
    }
    with django_capture_on_commit_callbacks(execute=True):
        made = client.post("/api/v1/works", form, **bearer(tokens["writer"]))
    assert made.status_code == 201 and made.json()["features"] == "pending"
    work = Artwork.objects.get(external_id="new-1")
    assert no_broker == [work.pk]  # the describe task was sent
    collector = _collector()
    listed = _list(client, tokens["reader"], collector, method="visrank", k=100).json()
    assert "new-1" not in [i["work"] for i in listed["items"]]
    assert artwork_describe(artwork_id=work.pk) == "ready"
    assert (
        client.get("/api/v1/works/new-1", **bearer(tokens["reader"])).json()["features"] == "ready"
    )
    listed = _list(client, tokens["reader"], collector, method="visrank", k=100).json()
    assert "new-1" in [i["work"] for i in listed["items"]]

    files = sorted(p.name for p in media_root.rglob("*") if p.is_file())
    for change, field, status in (
        ({"external_id": "new-1"}, "external_id", 409),
        ({"price": "-3"}, "price", 400),
        ({"image": SimpleUploadedFile("x.png", b"not an image")}, "image", 400),
    ):
        body = {
            **form,
            "external_id": "new-2",
            "image": SimpleUploadedFile("f.png", _png((1, 2, 3))),
            **change,
        }
        answer = client.post("/api/v1/works", body, **bearer(tokens["writer"]))
        assert answer.status_code == status and answer.json()["field"] == field, answer.content
    assert not Artwork.objects.filter(external_id="new-2").exists()
    assert sorted(p.name for p in media_root.rglob("*") if p.is_file()) == files  # no stray file


def test_text_with_a_nul_character_is_refused_before_the_database(client, served, tokens):
    """PostgreSQL cannot hold NUL in text: the fuzzer found a 500 there; now a 400."""
    stored = _counts()
    answer = _event(
        client, tokens["writer"], event_id="a\x00b", kind="view", work="w", collector="c"
    )
    assert answer.status_code == 400 and "NUL" in answer.json()["detail"]
    assert client.get("/api/v1/works/x%00y", **bearer(tokens["reader"])).status_code == 400
    listed = client.get("/api/v1/works/x/similar", {"k": "1\x00"}, **bearer(tokens["reader"]))
    assert listed.status_code == 400 and listed.json()["field"] == "k"
    assert _counts() == stored
