from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.urls import reverse

from webapp.catalogue.models import Artwork, Interaction
from webapp.catalogue.selectors import feature_set_load

pytestmark = pytest.mark.django_db

LIST = reverse("curation:artwork-list")


@pytest.mark.parametrize(
    "name", ["artwork-list", "compare", "methods", "visitor", "collector-list", "job-list"]
)
def test_every_page_needs_a_login(client, name):
    response = client.get(reverse(f"curation:{name}"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_work_page_and_exports_need_a_login(client, small_gallery):
    work = Artwork.objects.first()
    for url in (
        reverse("curation:artwork-detail", args=[work.pk]),
        reverse("curation:methods-export", args=["csv"]),
        reverse("curation:thumbnail", args=[160, work.image_checksum]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and reverse("login") in response.url


def listed(client, **params) -> list[Artwork]:
    response = client.get(LIST, params)
    assert response.status_code == 200
    return list(response.context["page"])


def test_catalogue_pages_through_every_work_newest_first(curator_client, small_gallery):
    response = curator_client.get(LIST)
    page = response.context["page"]
    assert page.paginator.count == Artwork.objects.count() == 40 and len(page) == 24
    dates = [w.listed_at for w in page]
    assert dates == sorted(dates, reverse=True)
    second = listed(curator_client, page=2)
    assert len(second) == 16 and not {w.pk for w in second} & {w.pk for w in page}
    html = response.content.decode()
    assert 'alt="' + page[0].title in html and f"by {page[0].artist.name}" in html


def test_filters_narrow_the_catalogue(curator_client, small_gallery):
    work = Artwork.objects.exclude(medium="").first()
    assert {w.medium for w in listed(curator_client, medium=work.medium)} == {work.medium}
    by_artist = listed(curator_client, artist=work.artist_id)
    assert by_artist and {w.artist_id for w in by_artist} == {work.artist_id}
    tag = work.style_tags[0]
    tagged = listed(curator_client, tag=tag)
    expected = {w.pk for w in Artwork.objects.all() if tag in w.style_tags}
    assert {w.pk for w in tagged} == expected or len(expected) > 24
    assert all(tag in w.style_tags for w in Artwork.objects.filter(pk__in=[w.pk for w in tagged]))
    assert all(w.is_sold for w in listed(curator_client, status="sold"))
    assert not any(w.is_sold for w in listed(curator_client, status="available"))
    prices = sorted(Artwork.objects.values_list("price", flat=True))
    low, high = prices[5], prices[20]
    in_range = listed(curator_client, price_min=low, price_max=high, sort="price")
    assert in_range and all(low <= w.price <= high for w in in_range)
    assert [w.price for w in in_range] == sorted(w.price for w in in_range)


def test_tag_filter_matches_whole_tags_only(curator_client, small_gallery):
    work = Artwork.objects.first()
    work.style_tags = ["blue-grey"]
    work.save()
    assert work.pk not in {w.pk for w in listed(curator_client, tag="blue")}
    assert work.pk in {w.pk for w in listed(curator_client, tag="blue-grey")}


def test_listed_date_range_includes_both_days(curator_client, small_gallery):
    work = Artwork.objects.order_by("listed_at")[10]
    day = work.listed_at.date()
    found = listed(curator_client, listed_from=day.isoformat(), listed_to=day.isoformat())
    assert work.pk in {w.pk for w in found}
    assert all(w.listed_at.date() == day for w in found)
    after = listed(curator_client, listed_from=(day + timedelta(days=1)).isoformat())
    assert work.pk not in {w.pk for w in after}


def test_search_by_title_and_by_artist_name(curator_client, small_gallery):
    work = Artwork.objects.select_related("artist").first()
    word = work.title.split()[-1]
    assert work.pk in {w.pk for w in listed(curator_client, q=word.lower())}
    surname = work.artist.name.split()[-1]
    by_name = Artwork.objects.filter(artist__name__icontains=surname)
    found = listed(curator_client, q=surname)
    assert {w.pk for w in by_name if w.pk in {f.pk for f in found}}
    assert work.pk in {w.pk for w in listed(curator_client, q=surname, artist=work.artist_id)}


def test_bad_filters_are_named_and_the_rest_still_apply(curator_client, small_gallery):
    response = curator_client.get(LIST, {"price_min": "cheap", "status": "sold"})
    assert "price_min" in response.context["form"].errors
    assert all(w.is_sold for w in response.context["page"])
    response = curator_client.get(LIST, {"price_min": "900", "price_max": "100"})
    assert "price_max" in response.context["form"].errors
    assert 'role="alert"' in response.content.decode()


def test_filter_state_is_kept_in_the_pager_links(curator_client, small_gallery):
    html = curator_client.get(LIST, {"sort": "title", "status": ""}).content.decode()
    assert "?sort=title&amp;status=&amp;page=2" in html


def test_work_page_shows_facts_buyers_and_visual_neighbours(curator_client, trained):
    bought = Interaction.objects.filter(kind="purchase").select_related("artwork").first()
    work = bought.artwork
    response = curator_client.get(reverse("curation:artwork-detail", args=[work.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert work.title in html and work.medium in html and str(bought.collector) in html
    assert bought.collector in [i.collector for i in response.context["collected_by"]]

    neighbours = response.context["neighbours"]
    feature_set = trained["visrank"].feature_set
    assert neighbours.feature_set == feature_set  # the serving VisRank job's extractor
    ids, vectors = feature_set_load(feature_set=feature_set)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    row = {int(pk): i for i, pk in enumerate(ids)}
    cosine = unit @ unit[row[work.pk]]
    available = Artwork.objects.filter(is_sold=False).exclude(pk=work.pk)
    others = np.asarray([cosine[row[pk]] for pk in available.values_list("pk", flat=True)])
    shown = [a.pk for a, _ in neighbours.items]
    similarities = [s for _, s in neighbours.items]
    assert len(shown) == min(12, len(others)) > 0 and work.pk not in shown
    assert not any(a.is_sold for a, _ in neighbours.items)  # a sold work is never suggested
    # the highest cosines of the other available works, most similar first (ties in any order)
    assert np.allclose(similarities, np.sort(others)[::-1][:12], atol=1e-5)
    assert np.allclose(similarities, [cosine[row[pk]] for pk in shown], atol=1e-5)


def test_work_page_without_features_says_so(curator_client, small_gallery):
    work = Artwork.objects.first()
    response = curator_client.get(reverse("curation:artwork-detail", args=[work.pk]))
    assert response.status_code == 200 and not response.context["neighbours"].items
    assert "No features have been extracted yet" in response.content.decode()
    assert curator_client.get(reverse("curation:artwork-detail", args=[99999])).status_code == 404


def test_price_filter_accepts_decimals(curator_client, small_gallery):
    works = listed(curator_client, price_min="0.50", price_max="99999.99")
    assert len(works) == 24
    assert Decimal("0.50") <= min(w.price for w in works)


def test_applied_filters_are_named_in_words(curator_client, small_gallery):
    work = Artwork.objects.select_related("artist").first()
    html = curator_client.get(LIST, {"artist": work.artist_id, "status": "sold"}).content.decode()
    assert f"Artist: {work.artist.name}</span>" in html and "Availability: sold</span>" in html
