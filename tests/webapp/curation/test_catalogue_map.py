import re

import numpy as np
import pytest
from django.urls import reverse
from sklearn.decomposition import PCA

from webapp.catalogue.models import Artwork, Collector, Interaction
from webapp.catalogue.selectors import feature_set_load
from webapp.curation.selectors import catalogue_map, visual
from webapp.curation.selectors.recommenders import collector_recommendations_served
from webapp.jobs.features import features_extract
from webapp.jobs.serving import collector_consumed

from .conftest import train

pytestmark = pytest.mark.django_db

URL = reverse("curation:catalogue-map")


@pytest.fixture(autouse=True)
def fresh_layouts():
    """Test databases reuse primary keys, so no layout survives a test."""
    catalogue_map._layouts.clear()
    visual._spaces.clear()
    yield
    catalogue_map._layouts.clear()


@pytest.fixture
def handcrafted(small_gallery):
    return features_extract(extractor_name="handcrafted")


def drawn(response) -> list:
    assert response.status_code == 200
    return response.context["map"].points


def buyer() -> Collector:
    return Collector.objects.filter(interactions__kind="purchase").distinct().first()


def test_the_map_needs_a_login(client, handcrafted):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_without_features_the_map_says_so(curator_client, small_gallery):
    response = curator_client.get(URL)
    assert response.status_code == 200 and response.context["map"] is None
    html = response.content.decode()
    assert "No features have been extracted yet" in html and "<svg" not in html


def test_every_work_is_a_linked_thumbnail_with_a_tooltip(curator_client, handcrafted):
    response = curator_client.get(URL)
    points = drawn(response)
    assert {p.artwork.pk for p in points} == set(Artwork.objects.values_list("pk", flat=True))
    html = response.content.decode()
    work = Artwork.objects.select_related("artist").first()
    thumb = reverse("curation:thumbnail", args=[160, work.image_checksum])
    detail = reverse("curation:artwork-detail", args=[work.pk])
    assert html.count("<image href=") == Artwork.objects.count()
    assert re.search(
        rf'<a href="{detail}"[^>]*><title>{re.escape(work.title)} by [^<]+</title>'
        rf'<rect [^>]*/><image href="{thumb}"',
        html,
    )
    assert f"features: <strong>{handcrafted.source}</strong>" in html
    assert "<strong>PCA</strong> of the unit-normalised vectors" in html
    assert f'href="{URL}" aria-current="page"' in html
    # every thumbnail stays inside the drawing
    map_ = response.context["map"]
    assert all(0 <= p.frame_x and p.frame_x + map_.frame <= map_.width for p in points)
    assert all(0 <= p.frame_y and p.frame_y + map_.frame <= map_.height for p in points)


def test_positions_are_pca_of_the_unit_vectors(curator_client, handcrafted):
    map_ = curator_client.get(URL).context["map"]
    ids, vectors = feature_set_load(feature_set=handcrafted)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    pca = PCA(n_components=2, random_state=0).fit(unit)
    assert np.allclose(map_.explained, pca.explained_variance_ratio_, atol=1e-5)
    assert f"{100 * pca.explained_variance_ratio_.sum():.1f}%" in map_.explained_label
    # up to a shift, a common scale and each axis's sign
    xy = pca.transform(unit)
    placed = {p.artwork.pk: (p.x, p.y) for p in map_.points}
    page = np.array([placed[int(pk)] for pk in ids])
    for axis in (0, 1):
        assert abs(np.corrcoef(page[:, axis], xy[:, axis])[0, 1]) > 0.9999
    ratio = np.ptp(page, axis=0) / np.ptp(xy, axis=0)
    assert ratio[0] == pytest.approx(ratio[1], rel=1e-3)  # distances are kept


@pytest.mark.parametrize("colour", ["style", "artist", "availability"])
def test_colours_and_legend(curator_client, handcrafted, colour):
    Artwork.objects.filter(pk=Artwork.objects.first().pk).update(is_sold=True)
    response = curator_client.get(URL, {"colour": colour})
    points = drawn(response)
    legend = response.context["map"].legend
    assert sum(count for _, _, count in legend) == len(points)
    colours = {group: c for group, c, _ in legend}
    assert all(colours[p.group] == p.colour for p in points)
    assert len(set(colours.values())) == len(colours)  # one colour per group
    if colour == "availability":
        sold = {p.artwork.pk for p in points if p.group == "sold"}
        assert sold == set(Artwork.objects.filter(is_sold=True).values_list("pk", flat=True)) | set(
            Interaction.objects.filter(kind="purchase").values_list("artwork_id", flat=True)
        )
    elif colour == "artist":
        names = {p.artwork.artist.name for p in points}
        assert set(colours) - {"other"} <= names
        assert all(p.group in (p.artwork.artist.name, "other") for p in points)
    else:
        assert all(
            p.group in ((p.artwork.style_tags or ["no style tag"])[0], "other") for p in points
        )
    html = response.content.decode()
    assert 'data-testid="map-legend"' in html and legend[0][0] in html


def test_a_bad_colour_is_named_and_style_is_used(curator_client, handcrafted):
    response = curator_client.get(URL, {"colour": "mood"})
    assert response.context["map"].colour_by == "style"
    assert "mood" in response.context["form"].errors["colour"][0]


def test_a_collectors_purchases_and_recommendations_are_highlighted(curator_client, handcrafted):
    train("visrank")
    collector = buyer()
    response = curator_client.get(URL, {"collector": collector.external_id})
    highlights = response.context["highlights"]
    bought = set(
        collector.interactions.filter(kind="purchase").values_list("artwork_id", flat=True)
    )
    served = collector_recommendations_served(
        collector=collector,
        method="visrank",
        consumed=list(collector_consumed(collector=collector)),
        k=20,
    )
    assert highlights.method == "visrank" and highlights.bought == bought
    assert highlights.recommended == {r.artwork.pk for r in served.items}
    points = drawn(response)
    assert {p.artwork.pk for p in points if p.bought} == bought
    assert {p.artwork.pk for p in points if p.recommended} == highlights.recommended
    assert points[-1].bought or points[-1].recommended  # drawn last, on top
    html = response.content.decode()
    assert html.count('class="point bought"') == len(bought)
    assert "recommendations by visrank" in html
    by_pk = curator_client.get(URL, {"collector": str(collector.pk)}).context["highlights"]
    assert by_pk.collector == collector and by_pk.recommended == highlights.recommended


def test_without_a_trained_method_only_purchases_are_highlighted(curator_client, handcrafted):
    collector = buyer()
    response = curator_client.get(URL, {"collector": collector.external_id})
    highlights = response.context["highlights"]
    assert highlights.bought and not highlights.recommended and highlights.method is None
    assert "only the purchases are highlighted" in response.content.decode()


def test_an_unknown_collector_is_named(curator_client, handcrafted):
    response = curator_client.get(URL, {"collector": "nobody-42"})
    assert "nobody-42" in response.context["form"].errors["collector"][0]
    assert response.context["highlights"].collector is None and drawn(response)


def test_the_feature_set_can_be_chosen(curator_client, handcrafted):
    colour = features_extract(extractor_name="colour")
    default = curator_client.get(URL)
    assert default.context["map"].feature_set == colour  # the newest is the active one
    chosen = curator_client.get(URL, {"features": handcrafted.pk})
    assert chosen.context["map"].feature_set == handcrafted
    place = {p.artwork.pk: (p.x, p.y) for p in default.context["map"].points}
    assert any(place[p.artwork.pk] != (p.x, p.y) for p in chosen.context["map"].points)
    html = chosen.content.decode()
    assert f'<option value="{handcrafted.pk}" selected>' in html
    bad = curator_client.get(URL, {"features": 99999})
    assert bad.context["map"].feature_set == colour and bad.context["form"].errors["features"]


def test_a_large_catalogue_is_sampled_with_the_highlighted_works(
    curator_client, handcrafted, monkeypatch
):
    monkeypatch.setattr(catalogue_map, "MAP_CAP", 10)
    collector = buyer()
    response = curator_client.get(URL, {"collector": collector.pk})
    points = drawn(response)
    bought = response.context["highlights"].bought
    assert 10 <= len(points) <= 10 + len(bought) and bought <= {p.artwork.pk for p in points}
    assert response.context["map"].sampled
    assert "a seeded sample of" in response.content.decode()
    again = drawn(curator_client.get(URL, {"collector": collector.pk}))
    assert [p.artwork.pk for p in again] == [p.artwork.pk for p in points]
