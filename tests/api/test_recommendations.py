"""The lists the API serves: a collector's, a visitor's, similar works and search by image;
the policy named in each answer, the shop's filters, and every answer kept as an
impression."""

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.api.conftest import bearer, train
from webapp.api.models import ApiClient, Impression
from webapp.catalogue.models import Artwork, Collector, Interaction

pytestmark = pytest.mark.django_db

COLLECTOR = "demo-c0001"


def get_list(client, token, collector=COLLECTOR, **query):
    return client.get(f"/api/v1/collectors/{collector}/recommendations", query, **bearer(token))


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


def works_of(listed: dict) -> list[str]:
    return [item["work"] for item in listed["items"]]


def consumed(collector: str) -> set[str]:
    return set(
        Interaction.objects.filter(
            collector__external_id=collector, kind__in=["purchase", "like"]
        ).values_list("artwork__external_id", flat=True)
    )


def excluded(collector: str) -> set[str]:
    """What the collector pages leave out: every work acted on except by viewing."""
    return set(
        Interaction.objects.filter(collector__external_id=collector)
        .exclude(kind="view")
        .values_list("artwork__external_id", flat=True)
    )


def test_a_collector_list_names_its_policy_and_explains_each_item(client, served, tokens):
    listed = ok(get_list(client, tokens["reader"], method="visrank", k=5))
    policy = listed["policy"]
    assert policy["method"] == "visrank" and policy["job"] == served["visrank"].pk
    assert policy["model"] == "visrank on handcrafted features"
    assert policy["experiment"] is None and policy["explored"] is False
    items = listed["items"]
    assert len(items) == 5
    assert [item["position"] for item in items] == [1, 2, 3, 4, 5]
    scores = [item["score"] for item in items]
    assert all(isinstance(s, float) for s in scores) and scores == sorted(scores, reverse=True)
    assert all(item["propensity"] == 1.0 for item in items)
    liked = consumed(COLLECTOR)
    for item in items:
        because = item["explanation"]["because"]
        assert because in liked
        title = Artwork.objects.get(external_id=because).title
        assert item["explanation"]["text"].startswith(f"because the collector chose “{title}”")
        work = Artwork.objects.get(external_id=item["work"])
        assert item["title"] == work.title and item["artist"] == str(work.artist)
        assert item["price"] == float(work.price) and item["medium"] == work.medium
    assert not set(works_of(listed)) & excluded(COLLECTOR)


def test_method_chooses_the_ranker(client, served, tokens):
    default = ok(get_list(client, tokens["reader"]))
    assert default["policy"]["method"] in served
    assert default["policy"]["job"] == served[default["policy"]["method"]].pk
    for method, job in served.items():
        listed = ok(get_list(client, tokens["reader"], method=method, k=5))
        assert listed["policy"]["method"] == method and listed["policy"]["job"] == job.pk
        by_job = ok(get_list(client, tokens["reader"], method=f"job:{job.pk}", k=5))
        assert by_job["policy"]["job"] == job.pk
        assert works_of(by_job) == works_of(listed)
    popular = ok(get_list(client, tokens["reader"], method="popularity", k=5))
    assert popular["policy"]["model"] == "popularity"
    assert all(item["explanation"]["because"] is None for item in popular["items"])


def test_each_answer_is_stored_as_an_impression(client, served, tokens):
    listed = ok(get_list(client, tokens["reader"], method="visrank", k=4, price_max=800))
    impression = Impression.objects.get(request_id=listed["request_id"])
    assert impression.surface == "collector"
    assert impression.collector == Collector.objects.get(external_id=COLLECTOR)
    assert impression.client == ApiClient.objects.get(name="reader")
    assert impression.method == "visrank" and impression.job == served["visrank"]
    assert impression.n_candidates > 0
    policy = impression.policy
    assert policy["method"] == "visrank" and policy["job"] == served["visrank"].pk
    assert policy["k"] == 4 and policy["filters"]["price_max"] == 800
    assert policy["filters"]["availability"] == "available"
    rows = list(impression.items.order_by("position"))
    assert [r.position for r in rows] == list(range(1, len(listed["items"]) + 1))
    assert [r.artwork.external_id for r in rows] == works_of(listed)
    assert [r.score for r in rows] == pytest.approx([i["score"] for i in listed["items"]])
    assert all(r.propensity == 1.0 and r.team == "" for r in rows)
    assert Impression.objects.count() == 1


def test_an_unservable_method_is_refused(client, served, tokens):
    for method in ("no-such-method", "job:99999", "vbpr"):  # vbpr: a method never trained
        refused = get_list(client, tokens["reader"], method=method)
        assert refused.status_code == 404, method
        assert refused.json()["field"] == "method"
    oracle = train("oracle")  # a reference line: the generator's hidden tastes
    for method in ("oracle", f"job:{oracle.pk}"):
        refused = get_list(client, tokens["reader"], method=method)
        assert refused.status_code == 400, method
        assert refused.json()["field"] == "method" and "reference" in refused.json()["detail"]
    assert not Impression.objects.exists()


FILTERS = [
    {"price_min": 200},
    {"price_max": 300},
    {"price_min": 150, "price_max": 500},
    {"medium": ["ink", "oil"]},
    {"medium": ["WATERCOLOUR"]},
    {"medium": ["watercolour"], "price_max": 250},
    {"availability": "all"},
    {"availability": "all", "medium": ["oil"], "price_min": 500},
]


def expected(filters: dict) -> set[str]:
    works = Artwork.objects.all()
    if filters.get("availability", "available") == "available":
        works = works.filter(is_sold=False)
    if "price_min" in filters:
        works = works.filter(price__gte=filters["price_min"])
    if "price_max" in filters:
        works = works.filter(price__lte=filters["price_max"])
    if "medium" in filters:
        works = works.filter(medium__in=[m.lower() for m in filters["medium"]])
    return set(works.values_list("external_id", flat=True))


def test_filters_hold_for_every_item(client, served, tokens):
    for filters in FILTERS:
        wanted = expected(filters) - excluded(COLLECTOR)
        assert wanted, filters  # each case has works to show
        # Popularity scores every work, so with room for all it shows exactly the candidates.
        popular = ok(get_list(client, tokens["reader"], method="popularity", k=100, **filters))
        assert set(works_of(popular)) == wanted, filters
        visual = ok(get_list(client, tokens["reader"], method="visrank", k=100, **filters))
        assert visual["items"] and set(works_of(visual)) <= wanted, filters
        stored = Impression.objects.get(request_id=visual["request_id"]).policy["filters"]
        assert stored["availability"] == filters.get("availability", "available")
    sold = set(Artwork.objects.filter(is_sold=True).values_list("external_id", flat=True))
    everything = ok(
        get_list(client, tokens["reader"], method="popularity", k=100, availability="all")
    )
    assert set(works_of(everything)) & sold
    available = ok(get_list(client, tokens["reader"], method="popularity", k=100))
    assert not set(works_of(available)) & sold


def test_bad_parameters_are_refused_naming_the_field(client, served, tokens):
    for query, field in (
        ({"price_min": 500, "price_max": 100}, "price_min"),
        ({"price_min": -1}, "price_min"),
        ({"price_max": "cheap"}, "price_max"),
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"k": "many"}, "k"),
        ({"availability": "sold"}, "availability"),
    ):
        refused = get_list(client, tokens["reader"], **query)
        assert refused.status_code == 400, query
        assert refused.json()["field"] == field, (query, refused.json())
    assert ok(get_list(client, tokens["reader"], k=1))["items"]
    assert len(ok(get_list(client, tokens["reader"], k=100, method="popularity"))["items"]) > 1
    unknown = get_list(client, tokens["reader"], collector="nobody")
    assert unknown.status_code == 404 and unknown.json()["field"] == "collector"
    assert Impression.objects.count() == 2


def visitor(client, token, **payload):
    return client.post(
        "/api/v1/recommendations/visitor",
        payload,
        content_type="application/json",
        **bearer(token),
    )


def test_a_visitor_list_never_shows_the_picked_works(client, served, tokens):
    picked = list(
        Artwork.objects.filter(is_sold=False).order_by("id").values_list("external_id", flat=True)
    )[:3]
    for method in ("visrank", "popularity"):
        listed = ok(
            visitor(
                client,
                tokens["reader"],
                works=picked,
                session="sess-1",
                method=method,
                k=100,
                availability="all",
            )
        )
        assert listed["items"] and not set(works_of(listed)) & set(picked), method
        assert listed["policy"]["method"] == method
        impression = Impression.objects.get(request_id=listed["request_id"])
        assert impression.surface == "visitor" and impression.session == "sess-1"
        assert impression.collector is None
    visual = ok(
        visitor(client, tokens["reader"], works=picked[:1], session="s", k=3, method="visrank")
    )
    assert all(item["explanation"]["because"] == picked[0] for item in visual["items"])

    before = Impression.objects.count()
    for payload, field in (
        ({"works": [picked[0], "no-such-work"]}, "works"),
        ({"works": []}, "works"),
        ({"session": ""}, "session"),
        ({"k": 0}, "k"),
        ({"availability": "sold"}, "availability"),
        ({"price_min": 9, "price_max": 1}, "price_min"),
    ):
        refused = visitor(client, tokens["reader"], **{"works": picked, "session": "s", **payload})
        assert refused.status_code == 400, payload
        assert refused.json()["field"] == field, (payload, refused.json())
    assert Impression.objects.count() == before


def test_similar_works(client, served, tokens):
    work = Artwork.objects.filter(is_sold=False).order_by("id").first()
    listed = ok(
        client.get(
            f"/api/v1/works/{work.external_id}/similar", {"k": 4}, **bearer(tokens["reader"])
        )
    )
    shown = works_of(listed)
    assert 0 < len(shown) <= 4 and work.external_id not in shown
    assert not Artwork.objects.filter(external_id__in=shown, is_sold=True).exists()
    scores = [item["score"] for item in listed["items"]]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1.0001 for s in scores)
    assert all(work.title in item["explanation"]["text"] for item in listed["items"])
    assert listed["policy"]["method"] == "visual similarity"
    impression = Impression.objects.get(request_id=listed["request_id"])
    assert impression.surface == "similar"
    assert [i.artwork.external_id for i in impression.items.all()] == shown

    unknown = client.get("/api/v1/works/no-such-work/similar", **bearer(tokens["reader"]))
    assert unknown.status_code == 404 and unknown.json()["field"] == "work"
    too_many = client.get(
        f"/api/v1/works/{work.external_id}/similar", {"k": 101}, **bearer(tokens["reader"])
    )
    assert too_many.status_code == 400 and too_many.json()["field"] == "k"


def png_of(artwork: Artwork) -> bytes:
    with artwork.image.open("rb") as stored, Image.open(stored) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def search(client, token, data: bytes, name="photo.png", **fields):
    upload = SimpleUploadedFile(name, data, content_type="image/png")
    return client.post("/api/v1/search/image", {"image": upload, **fields}, **bearer(token))


def test_search_by_image(client, served, tokens, fresh_feature_spaces):
    work = Artwork.objects.filter(is_sold=False).order_by("id").first()
    listed = ok(search(client, tokens["reader"], png_of(work), k=3))
    assert len(listed["items"]) == 3
    assert listed["items"][0]["work"] == work.external_id  # its own photo looks most like it
    assert listed["items"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert listed["policy"]["method"] == "search by image"
    impression = Impression.objects.get(request_id=listed["request_id"])
    assert impression.surface == "image" and impression.items.count() == 3

    sold = Artwork.objects.filter(is_sold=True).order_by("id").first()
    from_sold = ok(search(client, tokens["reader"], png_of(sold), k=40))
    assert sold.external_id not in works_of(from_sold)
    assert not Artwork.objects.filter(external_id__in=works_of(from_sold), is_sold=True).exists()

    # A seeded random photo of nothing in the gallery still gets an answer.
    noise = np.random.default_rng(7).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG")
    assert ok(search(client, tokens["reader"], buffer.getvalue(), k=2))["items"]

    before = Impression.objects.count()
    refused = search(client, tokens["reader"], b"%PDF-1.4 not a picture", name="photo.pdf")
    assert refused.status_code == 400 and refused.json()["field"] == "image"
    truncated = search(client, tokens["reader"], png_of(work)[:100])
    assert truncated.status_code == 400 and truncated.json()["field"] == "image"
    missing = client.post("/api/v1/search/image", {"k": 3}, **bearer(tokens["reader"]))
    assert missing.status_code == 400 and missing.json()["field"] == "image"
    assert Impression.objects.count() == before
