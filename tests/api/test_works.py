"""New works listed by the shop: stored at once with their image, described by a worker,
recommended only once described; a refused listing leaves no row and no file."""

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.api.conftest import bearer
from webapp.api.works import artwork_describe, artwork_describe_enqueue, work_list
from webapp.catalogue.models import Artist, Artwork, Collector

pytestmark = pytest.mark.django_db

# The real one: the no_broker fixture replaces webapp.api.works.artwork_describe_enqueue.
real_enqueue = artwork_describe_enqueue


def png(seed: int = 1, size=(40, 32)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def fields(**changed) -> dict:
    return {
        "external_id": "shop-w1",
        "title": "Harbour at Dusk",
        "artist": "Mara Lind",
        "medium": "oil",
        "price": "350",
        "year": "2025",
        **changed,
    }


def post_work(client, token, image: bytes | None = b"", name="work.png", **changed):
    data = fields(**changed)
    if image is not None:
        data["image"] = SimpleUploadedFile(name, image or png(), content_type="image/png")
    return client.post("/api/v1/works", data, **bearer(token))


def files_under(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def shown_anywhere(client, token, work: str) -> list[str]:
    """Where the work is shown: every collector's list under both methods (sold works
    included), a visitor's, the neighbours of a work and search by its own image."""
    found = []
    for collector in Collector.objects.values_list("external_id", flat=True):
        for method in ("popularity", "visrank"):
            listed = client.get(
                f"/api/v1/collectors/{collector}/recommendations",
                {"method": method, "k": 100, "availability": "all"},
                **bearer(token),
            )
            assert listed.status_code == 200
            if work in [i["work"] for i in listed.json()["items"]]:
                found.append(f"{method}:{collector}")
    others = Artwork.objects.filter(is_sold=False, features_pending=False).exclude(external_id=work)
    other = others.order_by("id").first().external_id
    visitor = client.post(
        "/api/v1/recommendations/visitor",
        {"works": [other], "session": "s", "k": 100, "method": "visrank", "availability": "all"},
        content_type="application/json",
        **bearer(token),
    )
    if work in [i["work"] for i in visitor.json()["items"]]:
        found.append("visitor")
    similar = client.get(f"/api/v1/works/{other}/similar", {"k": 100}, **bearer(token))
    if work in [i["work"] for i in similar.json()["items"]]:
        found.append("similar")
    return found


def test_a_listed_work_is_recommended_once_described(
    client, served, tokens, no_broker, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_work(client, tokens["writer"])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["work"] == "shop-w1" and body["features"] == "pending"
    assert body["title"] == "Harbour at Dusk" and body["artist"] == "Mara Lind"
    assert body["price"] == 350.0 and body["sold"] is False and body["features_error"] == ""
    artwork = Artwork.objects.get(external_id="shop-w1")
    assert artwork.features_pending and artwork.year == 2025 and artwork.medium == "oil"
    assert (media_root / artwork.image.name).read_bytes() == png()
    assert no_broker == [artwork.pk]  # the describe task, sent once the row is committed

    detail = client.get("/api/v1/works/shop-w1", **bearer(tokens["reader"]))
    assert detail.status_code == 200 and detail.json()["features"] == "pending"
    assert shown_anywhere(client, tokens["reader"], "shop-w1") == []  # warms every cache

    assert artwork_describe(artwork_id=artwork.pk) == "ready"
    artwork.refresh_from_db()
    assert not artwork.features_pending and artwork.features_error == ""
    assert (
        client.get("/api/v1/works/shop-w1", **bearer(tokens["reader"])).json()["features"]
        == "ready"
    )
    # A cold work, never bought: the visual ranker can show it at once, without retraining.
    shown = shown_anywhere(client, tokens["reader"], "shop-w1")
    assert [s for s in shown if s.startswith("visrank:")], shown
    assert "visitor" in shown
    assert artwork_describe(artwork_id=artwork.pk) == "nothing to do"


def test_a_listing_waits_for_its_commit_before_the_task_is_sent(
    client, small_gallery, tokens, no_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert post_work(client, tokens["writer"]).status_code == 201
    assert no_broker == [] and len(callbacks) == 1
    callbacks[0]()
    assert no_broker == [Artwork.objects.get(external_id="shop-w1").pk]


BAD = [
    ({"image": b"GIF89a but no picture at all"}, "image", 400),
    ({"image": png()[:60]}, "image", 400),  # truncated
    ({"image": None}, "image", 400),  # no file
    ({"external_id": "demo-w00001"}, "external_id", 409),
    ({"external_id": "x" * 101}, "external_id", 400),
    ({"external_id": ""}, "external_id", 400),
    ({"title": ""}, "title", 400),
    ({"artist": ""}, "artist", 400),
    ({"price": "-1"}, "price", 400),
    ({"price": "a lot"}, "price", 400),
    ({"year": "99"}, "year", 400),
]


@pytest.mark.parametrize(("changed", "field", "status"), BAD)
def test_a_refused_listing_leaves_no_row_and_no_file(
    client,
    small_gallery,
    tokens,
    no_broker,
    media_root,
    changed,
    field,
    status,
    django_capture_on_commit_callbacks,
):
    works, artists = Artwork.objects.count(), Artist.objects.count()
    files = files_under(media_root)
    changed = dict(changed)
    image = changed.pop("image", b"")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_work(
            client, tokens["writer"], image=image, **{"artist": "Nobody Yet", **changed}
        )
    assert response.status_code == status, response.content
    assert response.json()["field"] == field, response.json()
    assert Artwork.objects.count() == works and Artist.objects.count() == artists
    assert not Artist.objects.filter(name="Nobody Yet").exists()
    assert files_under(media_root) == files
    assert no_broker == []


def test_an_upload_over_the_limit_is_refused(client, small_gallery, tokens, no_broker, settings):
    settings.VITRINE_API_MAX_UPLOAD_BYTES = 100
    response = post_work(client, tokens["writer"])
    assert response.status_code == 400 and response.json()["field"] == "image"
    assert "100 bytes" in response.json()["detail"]
    assert not Artwork.objects.filter(external_id="shop-w1").exists()


def test_a_failure_after_the_image_is_stored_removes_the_file(
    small_gallery, no_broker, media_root, monkeypatch
):
    from webapp.api.works import WorkIn
    from webapp.catalogue import services

    saved = services.artwork_image_save

    def save_then_fail(**kwargs):
        saved(**kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(services, "artwork_image_save", save_then_fail)
    files = files_under(media_root)
    with pytest.raises(OSError, match="disk full"):
        work_list(work=WorkIn("shop-w1", "Harbour", "Mara Lind"), image=png())
    assert not Artwork.objects.filter(external_id="shop-w1").exists()
    assert files_under(media_root) == files
    assert no_broker == []


def test_a_describe_failure_says_so_and_keeps_the_work_out(
    client, served, tokens, no_broker, monkeypatch
):
    assert post_work(client, tokens["writer"]).status_code == 201
    artwork = Artwork.objects.get(external_id="shop-w1")

    def crash(**kwargs):
        raise RuntimeError("extractor crashed on this image")

    monkeypatch.setattr("webapp.jobs.features.features_for_artworks", crash)
    assert artwork_describe(artwork_id=artwork.pk) == "failed"
    artwork.refresh_from_db()
    assert artwork.features_pending
    assert "extractor crashed" in artwork.features_error
    detail = client.get("/api/v1/works/shop-w1", **bearer(tokens["reader"])).json()
    assert detail["features"] == "failed" and "extractor crashed" in detail["features_error"]
    assert shown_anywhere(client, tokens["reader"], "shop-w1") == []


def test_an_unreachable_broker_leaves_the_work_pending_with_the_reason(
    client, small_gallery, tokens, no_broker, monkeypatch
):
    assert post_work(client, tokens["writer"]).status_code == 201
    artwork = Artwork.objects.get(external_id="shop-w1")

    class Down:
        def send_task(self, *args, **kwargs):
            raise ConnectionError("connection refused")

    monkeypatch.setattr("webapp.jobs.services.celery_client", lambda: Down())
    real_enqueue(artwork_id=artwork.pk)
    artwork.refresh_from_db()
    assert artwork.features_pending
    assert artwork.features_error.startswith("could not reach the task broker")
    detail = client.get("/api/v1/works/shop-w1", **bearer(tokens["reader"])).json()
    assert detail["features"] == "failed"
