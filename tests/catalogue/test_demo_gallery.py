"""The procedural demo gallery: determinism, scarcity, cold start, tastes, the command."""

from collections import Counter
from io import StringIO

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from webapp.catalogue.demo_gallery import N_STYLES, generate_gallery
from webapp.catalogue.models import Artist, Artwork, Collector, Interaction
from webapp.catalogue.services import sha256_bytes

SMALL = {"n_artworks": 40, "n_collectors": 10, "image_size": 32}


@pytest.fixture(scope="module")
def gallery():
    return generate_gallery(seed=3, **SMALL)


def _interaction_tuples(g):
    return [(e.collector_index, e.artwork_index, e.kind, e.timestamp) for e in g.interactions]


def test_same_seed_gives_identical_gallery(gallery):
    again = generate_gallery(seed=3, **SMALL)
    assert [w.image for w in again.artworks] == [w.image for w in gallery.artworks]
    assert [w.image_checksum for w in again.artworks] == [
        w.image_checksum for w in gallery.artworks
    ]
    assert [w.title for w in again.artworks] == [w.title for w in gallery.artworks]
    assert [a.name for a in again.artists] == [a.name for a in gallery.artists]
    assert _interaction_tuples(again) == _interaction_tuples(gallery)
    np.testing.assert_array_equal(again.affinity(), gallery.affinity())


def test_different_seed_differs(gallery):
    other = generate_gallery(seed=4, **SMALL)
    assert [w.image_checksum for w in other.artworks] != [
        w.image_checksum for w in gallery.artworks
    ]
    assert _interaction_tuples(other) != _interaction_tuples(gallery)


def test_images_are_png_of_the_requested_size(gallery):
    import io

    from PIL import Image

    for work in gallery.artworks[:5]:
        image = Image.open(io.BytesIO(work.image))
        assert image.format == "PNG" and image.size == (32, 32)


def test_every_work_sells_at_most_once_and_sold_means_purchased(gallery):
    purchases = Counter(e.artwork_index for e in gallery.interactions if e.kind == "purchase")
    assert purchases and max(purchases.values()) == 1
    assert {i for i in purchases} == {w.index for w in gallery.artworks if w.is_sold}


def test_cold_start_works_are_listed_after_every_interaction(gallery):
    cold = [w for w in gallery.artworks if w.is_cold_start]
    assert cold
    touched = {e.artwork_index for e in gallery.interactions}
    last = max(e.timestamp for e in gallery.interactions)
    for work in cold:
        assert work.index not in touched
        assert work.listed_at > last
        assert not work.is_sold


def test_interactions_respect_listing_and_joining_times(gallery):
    for e in gallery.interactions:
        assert e.timestamp >= gallery.artworks[e.artwork_index].listed_at
        assert e.timestamp >= gallery.collectors[e.collector_index].joined_at
        assert e.timestamp.tzinfo is not None and e.timestamp.utcoffset().total_seconds() == 0
    kinds = Counter(e.kind for e in gallery.interactions)
    assert kinds["view"] > kinds["like"] > 0 and kinds["purchase"] > 0


def test_each_collector_buys_several_works_and_likes_some(gallery):
    purchases = Counter(e.collector_index for e in gallery.interactions if e.kind == "purchase")
    likes = Counter(e.collector_index for e in gallery.interactions if e.kind == "like")
    for collector in gallery.collectors:
        assert 3 <= purchases[collector.index] <= 12
        assert likes[collector.index] >= 1


def test_artists_keep_one_style(gallery):
    styles = gallery.style_matrix()
    assert styles.shape == (40, N_STYLES)
    np.testing.assert_allclose(styles.sum(axis=1), 1.0)
    for work in gallery.artworks:
        artist = gallery.artists[work.artist_index]
        assert work.main_style == artist.main_style == int(np.argmax(work.hidden_style))


@pytest.mark.parametrize("seed", [3, 11])
def test_collectors_buy_and_like_what_they_have_a_taste_for(seed):
    g = generate_gallery(seed=seed, **SMALL)
    affinity = g.affinity()  # a_ui = taste_u . style_i, the oracle's scores
    np.testing.assert_allclose(
        affinity[2, 5], np.dot(g.collectors[2].hidden_taste, g.artworks[5].hidden_style)
    )
    bought = [
        affinity[e.collector_index, e.artwork_index] for e in g.interactions if e.kind == "purchase"
    ]
    liked = [
        affinity[e.collector_index, e.artwork_index] for e in g.interactions if e.kind == "like"
    ]
    overall = affinity.mean()
    assert np.mean(bought) > 1.5 * overall
    assert np.mean(liked) > 1.2 * overall
    # Per collector as well: most buy above their own average affinity (at this tiny size
    # most of the stock sells, so scarcity pushes a few collectors off their taste).
    above = [
        np.mean(
            [
                affinity[u, e.artwork_index]
                for e in g.interactions
                if e.kind == "purchase" and e.collector_index == u
            ]
        )
        > affinity[u].mean()
        for u in range(len(g.collectors))
    ]
    assert sum(above) >= 0.6 * len(above)


COMMAND_ARGS = ["--artworks", "40", "--collectors", "10", "--image-size", "32", "--seed", "3"]


@pytest.mark.django_db
def test_command_writes_the_gallery_and_if_empty_is_a_noop(gallery):
    out = StringIO()
    call_command("make_demo_gallery", *COMMAND_ARGS, verbosity=0, stdout=out)
    assert "Demo gallery" in out.getvalue()
    assert Artwork.objects.count() == 40
    assert Collector.objects.count() == 10
    assert Artist.objects.count() == len(gallery.artists)
    assert Interaction.objects.count() == len(gallery.interactions)

    by_id = {w.external_id: w for w in gallery.artworks}
    for artwork in Artwork.objects.all():
        spec = by_id[artwork.external_id]
        assert artwork.title == spec.title and artwork.is_sold == spec.is_sold
        assert artwork.image_checksum == spec.image_checksum
        with default_storage.open(artwork.image.name, "rb") as handle:
            assert sha256_bytes(handle.read()) == spec.image_checksum
        assert len(artwork.hidden_style) == N_STYLES
        assert artwork.listed_at == spec.listed_at
    sold = set(Artwork.objects.filter(is_sold=True).values_list("id", flat=True))
    purchased = list(
        Interaction.objects.filter(kind="purchase").values_list("artwork_id", flat=True)
    )
    assert len(purchased) == len(set(purchased)) and set(purchased) == sold
    assert all(len(c.hidden_taste) == N_STYLES for c in Collector.objects.all())

    out = StringIO()
    call_command("make_demo_gallery", *COMMAND_ARGS, "--if-empty", verbosity=0, stdout=out)
    assert "nothing to do" in out.getvalue()
    assert Artwork.objects.count() == 40
    assert Interaction.objects.count() == len(gallery.interactions)

    with pytest.raises(CommandError, match="already"):
        call_command("make_demo_gallery", *COMMAND_ARGS, verbosity=0, stdout=StringIO())


@pytest.mark.django_db
def test_a_failure_leaves_no_rows_and_no_files(monkeypatch, media_root):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Interaction.objects, "bulk_create", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        call_command("make_demo_gallery", *COMMAND_ARGS, verbosity=0, stdout=StringIO())
    assert not Artwork.objects.exists()
    assert not Artist.objects.exists()
    assert not Collector.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]
