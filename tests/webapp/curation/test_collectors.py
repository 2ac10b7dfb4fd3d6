import io

import pytest
from django.db.models import Count, Q
from django.urls import reverse
from PIL import Image

from webapp.catalogue.models import Artist, Artwork, Collector, Interaction
from webapp.catalogue.services import artwork_image_save
from webapp.jobs.serving import collector_recommendations

pytestmark = pytest.mark.django_db


def page(client, collector, **params):
    response = client.get(reverse("curation:collector-detail", args=[collector.pk]), params)
    assert response.status_code == 200
    return response


def test_collector_list_counts_purchases_and_likes_per_page(curator_client, small_gallery):
    response = curator_client.get(reverse("curation:collector-list"))
    expected = {
        c.pk: (c.p, c.l)
        for c in Collector.objects.annotate(
            p=Count("interactions", filter=Q(interactions__kind="purchase")),
            l=Count("interactions", filter=Q(interactions__kind="like")),
        )
    }
    rows = list(response.context["page"])
    assert len(rows) == 10 and {c.pk: (c.purchases, c.likes) for c in rows} == expected


@pytest.mark.parametrize("method", ["visrank", "popularity"])
def test_collector_page_serves_what_the_serving_layer_serves(curator_client, trained, method):
    collector = Collector.objects.filter(interactions__kind="purchase").distinct().first()
    shown = page(curator_client, collector, method=method).context["recommendations"]
    served = collector_recommendations(collector=collector, method=method, k=20)
    assert [(r.artwork.pk, r.because and r.because.pk) for r in shown.items] == [
        (r.artwork.pk, r.because and r.because.pk) for r in served.items
    ]
    assert [r.score for r in shown.items] == pytest.approx([r.score for r in served.items])


def test_profile_names_dominant_tags_artists_and_colours(curator_client, trained):
    collector = Collector.objects.filter(interactions__kind="purchase").distinct().first()
    response = page(curator_client, collector)
    profile = response.context["profile"]
    consumed = response.context["consumed"]
    works = {i.artwork_id: i.artwork for i in consumed}
    top_tag, n = profile.tags[0]
    assert n == max(sum(tag in w.style_tags for w in works.values()) for tag in [top_tag])
    assert n == max(
        sum(t in w.style_tags for w in works.values()) for w in works.values() for t in w.style_tags
    )
    assert profile.works == len(works) and 1 <= len(profile.palette) <= 5
    assert sum(s.share for s in profile.palette) == pytest.approx(1.0)
    html = response.content.decode()
    assert profile.palette[0].hex in html and top_tag in html
    assert reverse("curation:compare") + f"?collector={collector.pk}&amp;m=" in html


def solid(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (50, 50), colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_palette_comes_from_the_works_pixels(curator_client, db):
    artist = Artist.objects.create(name="Mono Chrome")
    collector = Collector.objects.create(external_id="c-red", name="Red Lover")
    colours = [(255, 0, 0), (255, 0, 0), (255, 0, 0), (0, 0, 255)]
    for n, colour in enumerate(colours):
        work = Artwork.objects.create(
            external_id=f"w{n}", title=f"W{n}", artist=artist, listed_at="2024-01-01T00:00Z"
        )
        artwork_image_save(artwork=work, data=solid(colour), extension=".png")
        Interaction.objects.create(
            collector=collector, artwork=work, kind="purchase", timestamp=f"2024-02-0{n + 1}T00:00Z"
        )
    palette = page(curator_client, collector).context["profile"].palette
    assert [(s.hex, s.percent) for s in palette] == [("#ff0000", 75), ("#0000ff", 25)]


def test_a_collector_without_history_still_has_a_page(curator_client, db):
    collector = Collector.objects.create(external_id="c-new")
    response = page(curator_client, collector)
    assert response.context["profile"].palette == [] and "Nothing bought or liked" in (
        response.content.decode()
    )
