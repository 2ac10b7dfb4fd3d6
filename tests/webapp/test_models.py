import datetime as dt

import pytest
from django.db import IntegrityError
from django.utils import timezone

from webapp.catalogue.models import Artist, Artwork, Collector, Interaction

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def make_artwork(external_id="a1", **fields) -> Artwork:
    artist, _ = Artist.objects.get_or_create(name="Ana")
    return Artwork.objects.create(
        external_id=external_id, title="Blue", artist=artist, listed_at=NOW, **fields
    )


def test_artwork_defaults_and_labels():
    work = make_artwork(width_cm=40, height_cm=50.5)
    assert not work.is_sold
    assert work.size_label == "40 × 50.5 cm"
    assert str(work) == "Blue (Ana)"


def test_interaction_is_unique_per_collector_work_kind_and_time():
    work = make_artwork()
    collector = Collector.objects.create(external_id="c1")
    Interaction.objects.create(collector=collector, artwork=work, kind="like", timestamp=NOW)
    Interaction.objects.create(collector=collector, artwork=work, kind="purchase", timestamp=NOW)
    with pytest.raises(IntegrityError):
        Interaction.objects.create(collector=collector, artwork=work, kind="like", timestamp=NOW)


def test_artist_with_works_cannot_be_deleted():
    from django.db.models import ProtectedError

    work = make_artwork()
    with pytest.raises(ProtectedError):
        work.artist.delete()


def test_deleting_a_collector_removes_their_interactions():
    work = make_artwork()
    collector = Collector.objects.create(external_id="c1")
    Interaction.objects.create(collector=collector, artwork=work, timestamp=timezone.now())
    collector.delete()
    assert Interaction.objects.count() == 0


def test_artwork_image_is_stored_under_its_id_not_the_callers_name(media_root):
    from webapp.catalogue.services import artwork_image_save

    work = make_artwork(external_id="../../etc/passwd")
    artwork_image_save(artwork=work, data=b"fake-bytes", extension=".png")
    work.refresh_from_db()
    assert work.image.name.startswith("artworks/etc_passwd-")
    assert ".." not in work.image.name
    assert (media_root / work.image.name).read_bytes() == b"fake-bytes"
    assert len(work.image_checksum) == 64
