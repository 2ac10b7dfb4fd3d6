import io

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from webapp.catalogue.models import Artist, Artwork
from webapp.catalogue.services import artwork_image_save
from webapp.curation.services import ThumbnailError, thumbnail_ensure, thumbnail_name

pytestmark = pytest.mark.django_db


def png(width: int, height: int, colour=(200, 30, 40), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def big_work(db):
    artist = Artist.objects.create(name="Ada Test")
    work = Artwork.objects.create(
        external_id="big", title="Big red", artist=artist, listed_at="2024-01-01T00:00Z"
    )
    artwork_image_save(artwork=work, data=png(1200, 800), extension=".png")
    return work


def test_a_thumbnail_is_made_on_first_request_then_served_from_disk(
    curator_client, big_work, media_root, monkeypatch
):
    url = reverse("curation:thumbnail", args=[320, big_work.image_checksum])
    assert url == f"/thumbs/320/{big_work.image_checksum}.webp"
    response = curator_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert "immutable" in response["Cache-Control"]
    stored = media_root / "thumbs" / "320" / f"{big_work.image_checksum}.webp"
    assert stored.exists()
    with Image.open(io.BytesIO(b"".join(response.streaming_content))) as image:
        assert image.format == "WEBP" and image.size == (320, 213)  # aspect kept
        assert image.getpixel((10, 10))[0] > 150  # still red

    def fail(**kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr("webapp.curation.services.thumbnail_render", fail)
    assert curator_client.get(url).status_code == 200  # from the stored file


def test_small_images_are_never_enlarged_and_transparency_turns_white(big_work):
    artwork_image_save(
        artwork=big_work, data=png(40, 30, (0, 0, 0, 0), mode="RGBA"), extension=".png"
    )
    name = thumbnail_ensure(checksum=big_work.image_checksum, size=640)
    with default_storage.open(name) as handle, Image.open(handle) as image:
        assert image.size == (40, 30) and image.convert("RGB").getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize(
    "checksum, size",
    [
        ("../../settings", 160),
        ("a" * 64 + "/../x", 160),
        ("A" * 64, 160),  # upper case is not how checksums are stored
        ("a" * 63, 160),
        ("a" * 64, 161),
        ("a" * 64, 10_000),
    ],
)
def test_thumbnail_names_are_only_made_of_a_digest_and_a_known_size(checksum, size):
    with pytest.raises(ThumbnailError):
        thumbnail_name(checksum=checksum, size=size)


@pytest.mark.parametrize(
    "path",
    [
        "/thumbs/160/../../webapp/settings.py",
        "/thumbs/160/%2e%2e%2f%2e%2e%2fsettings.webp",
        "/thumbs/999/" + "a" * 64 + ".webp",
        "/thumbs/160/" + "g" * 64 + ".webp",
        "/thumbs/160/" + "a" * 64 + ".png",
    ],
)
def test_unsafe_or_unknown_thumbnail_urls_are_not_found(curator_client, big_work, path, media_root):
    assert curator_client.get(path).status_code == 404
    assert not (media_root / "thumbs").exists() or not any((media_root / "thumbs").rglob("*"))


def test_an_unknown_image_is_not_found_and_nothing_is_written(curator_client, media_root):
    response = curator_client.get(reverse("curation:thumbnail", args=[160, "b" * 64]))
    assert response.status_code == 404 and not (media_root / "thumbs").exists()


def test_the_grid_offers_every_size_in_a_srcset(curator_client, big_work):
    html = curator_client.get(reverse("curation:artwork-list")).content.decode()
    for size in (160, 320, 640):
        assert f"/thumbs/{size}/{big_work.image_checksum}.webp {size}w" in html
    assert 'alt="Big red by Ada Test"' in html
