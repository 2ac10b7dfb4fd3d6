import io
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from webapp.catalogue.models import Artwork, Collector, Interaction
from webapp.catalogue.selectors import feature_set_load
from webapp.catalogue.services import feature_set_create
from webapp.curation.selectors import image_search
from webapp.jobs.features import features_extract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_feature_spaces")]

URL = reverse("curation:image-search")


@pytest.fixture
def handcrafted(small_gallery):
    return features_extract(extractor_name="handcrafted")


def image_bytes(artwork: Artwork) -> bytes:
    with default_storage.open(artwork.image.name, "rb") as handle:
        return handle.read()


def upload(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def png_claiming(width: int, height: int) -> bytes:
    """A 1-pixel PNG whose header says width × height (what a decompression bomb does)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:20], data[20:24] = width.to_bytes(4, "big"), height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # IHDR type + data
    return bytes(data)


def search(client, data: bytes, name: str = "photo.png", **fields):
    response = client.post(URL, {"photo": upload(name, data), **fields})
    assert response.status_code == 200
    return response


def expected_top(feature_set, query_pk: int, k: int = 24) -> tuple[list[int], np.ndarray]:
    """Brute-force cosine of the work's own vector against every available work."""
    ids, vectors = feature_set_load(feature_set=feature_set)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit @ unit[list(ids).index(query_pk)]
    available = set(
        Artwork.objects.filter(is_sold=False)
        .exclude(interactions__kind="purchase")
        .values_list("pk", flat=True)
    )
    rows = [i for i, pk in enumerate(ids) if int(pk) in available]
    rows.sort(key=lambda i: -cosine[i])
    return [int(ids[i]) for i in rows[:k]], cosine[rows[:k]]


def test_the_page_needs_a_login(client, handcrafted):
    assert client.get(URL).status_code == 302
    work = Artwork.objects.first()
    response = client.post(URL, {"photo": upload("a.png", image_bytes(work))})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_page_names_the_features_and_links_from_the_menu(curator_client, handcrafted):
    html = curator_client.get(URL).content.decode()
    assert f"features: <strong>{handcrafted.source}</strong>" in html
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    assert f'href="{URL}" aria-current="page"' in html


def test_a_photo_of_a_work_finds_it_first_then_the_closest_available_ones(
    curator_client, handcrafted
):
    work = Artwork.objects.filter(is_sold=False).exclude(interactions__kind="purchase").first()
    response = search(curator_client, image_bytes(work))
    matches = response.context["matches"]
    assert matches.feature_set == handcrafted and matches.index_kind == "flat"
    found = [a.pk for a, _ in matches.items]
    similarities = [s for _, s in matches.items]
    assert found[0] == work.pk and similarities[0] == pytest.approx(1.0, abs=1e-5)
    expected_ids, expected_cosines = expected_top(handcrafted, work.pk)
    assert len(found) == len(expected_ids) > 1
    assert np.allclose(similarities, expected_cosines, atol=1e-5)  # ties may swap places
    html = response.content.decode()
    assert f"cosine {similarities[1]:.3f}" in html and work.title in html
    assert 'src="data:image/webp;base64,' in html  # the photo is shown without a file


def test_a_pca_feature_set_projects_the_photo_like_its_works(curator_client, small_gallery):
    feature_set = features_extract(extractor_name="handcrafted", l2=True, pca_dim=8)
    work = Artwork.objects.filter(is_sold=False).first()
    matches = search(curator_client, image_bytes(work)).context["matches"]
    assert matches.items[0][0] == work and matches.items[0][1] == pytest.approx(1.0, abs=1e-4)
    _, expected_cosines = expected_top(feature_set, work.pk)
    assert np.allclose([s for _, s in matches.items], expected_cosines, atol=1e-4)


def test_a_cnn_feature_set_describes_the_photo_with_its_own_network(curator_client, small_gallery):
    features_extract(extractor_name="test_efficientnet")  # timm's tiny model, random init
    work = Artwork.objects.filter(is_sold=False).first()
    matches = search(curator_client, image_bytes(work)).context["matches"]
    assert matches.feature_set.name == "test_efficientnet"
    assert matches.items[0][0] == work and matches.items[0][1] == pytest.approx(1.0, abs=1e-4)
    space = image_search._spaces[(matches.feature_set.pk, matches.feature_set.sha256)]
    assert space.describer.extractor.num_workers == 0  # no worker process per request


def test_sold_works_are_never_returned(curator_client, handcrafted):
    work = Artwork.objects.filter(is_sold=False).exclude(interactions__kind="purchase").first()
    first = [a for a, _ in search(curator_client, image_bytes(work)).context["matches"].items]
    # One sold by the items file's flag, one by a purchase event alone.
    Artwork.objects.filter(pk=first[0].pk).update(is_sold=True)
    Interaction.objects.create(
        collector=Collector.objects.first(),
        artwork=first[1],
        kind="purchase",
        timestamp=datetime(2030, 1, 1, tzinfo=UTC),
    )
    again = [a for a, _ in search(curator_client, image_bytes(work)).context["matches"].items]
    assert first[0] not in again and first[1] not in again
    sold = set(Artwork.objects.filter(is_sold=True).values_list("pk", flat=True)) | set(
        Interaction.objects.filter(kind="purchase").values_list("artwork_id", flat=True)
    )
    assert sold and not sold & {a.pk for a in again}
    assert len(again) == min(24, Artwork.objects.exclude(pk__in=sold).count())


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("notes.jpg", b"these are not pixels", "not an image"),
        ("empty.png", b"", "not an image"),
        ("cut.png", None, "truncated or corrupt"),
        ("picture.ico", None, "unsupported image format ICO"),
    ],
)
def test_a_bad_file_is_named_in_a_form_error(curator_client, handcrafted, name, data, words):
    if name == "cut.png":
        data = image_bytes(Artwork.objects.first())[:-40]
    if name == "picture.ico":
        buffer = io.BytesIO()
        Image.new("RGB", (16, 16)).save(buffer, "ICO")
        data = buffer.getvalue()
    response = search(curator_client, data, name=name)
    errors = response.context["form"].errors["photo"]
    assert len(errors) == 1 and f"“{name}” was refused" in errors[0] and words in errors[0]
    assert "matches" not in response.context
    assert f"“{name}” was refused" in response.content.decode()


def test_no_file_asks_for_one(curator_client, handcrafted):
    response = curator_client.post(URL, {})
    assert response.status_code == 200
    assert response.context["form"].errors["photo"] == ["Choose a photo to search with."]


def test_a_decompression_bomb_is_refused(curator_client, handcrafted):
    response = search(curator_client, png_claiming(20_000, 20_000), name="bomb.png")
    error = response.context["form"].errors["photo"][0]
    assert "“bomb.png” was refused" in error and "decompression bomb" in error


def test_a_photo_over_the_pixel_limit_is_refused(curator_client, handcrafted, settings):
    settings.VITRINE_MAX_IMAGE_PIXELS = 100
    response = search(curator_client, image_bytes(Artwork.objects.first()), name="big.png")
    assert "too large: 32×32 = 1024 pixels" in response.context["form"].errors["photo"][0]


def test_a_file_over_the_byte_limit_is_refused_as_it_arrives(
    curator_client, handcrafted, monkeypatch
):
    monkeypatch.setattr("webapp.curation.uploads.PHOTO_MAX_BYTES", 100)
    data = image_bytes(Artwork.objects.first())
    assert len(data) > 100
    response = search(curator_client, data, name="heavy.png")
    error = response.context["form"].errors["photo"][0]
    assert "“heavy.png” was refused" in error and "limit of 100 bytes" in error


def files_under(*folders: Path) -> set[Path]:
    return {p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()}


def test_nothing_is_stored_unless_asked(curator_client, handcrafted, settings, tmp_path):
    # Django's own handlers would spill this upload to a temporary file.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 16
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()
    folders = (Path(settings.MEDIA_ROOT), Path(settings.VITRINE_FEATURE_CACHE), tmp_path)
    before = files_under(*folders)
    work = Artwork.objects.first()
    response = search(curator_client, image_bytes(work))
    assert response.context["matches"].items and "kept" not in response.context
    assert files_under(*folders) == before
    assert "Not stored" in response.content.decode()


def test_keep_this_photo_stores_it_in_the_curators_folder(curator_client, handcrafted, curator):
    data = image_bytes(Artwork.objects.first())
    response = search(curator_client, data, name="wall.png", keep="on")
    kept = response.context["kept"]
    assert kept.startswith(f"search-photos/{curator.pk}/") and kept.endswith(".png")
    with default_storage.open(kept, "rb") as handle:
        assert handle.read() == data
    assert search(curator_client, data, keep="on").context["kept"] == kept  # one file


def test_csrf_is_checked(curator, handcrafted):
    client = Client(enforce_csrf_checks=True)
    client.force_login(curator)
    data = image_bytes(Artwork.objects.first())
    assert client.post(URL, {"photo": upload("a.png", data)}).status_code == 403
    token = client.get(URL).context["csrf_token"]
    response = client.post(URL, {"photo": upload("a.png", data), "csrfmiddlewaretoken": token})
    assert response.status_code == 200 and response.context["matches"].items


def test_imported_features_cannot_describe_a_photo(curator_client, small_gallery):
    ids = list(Artwork.objects.values_list("pk", flat=True))
    feature_set_create(
        name="clip-import",
        source="embeddings.csv",
        artwork_ids=ids,
        vectors=np.random.default_rng(0).standard_normal((len(ids), 8)),
        params={},
    )
    html = curator_client.get(URL).content.decode()
    assert "were imported, not extracted here" in html
    response = search(curator_client, image_bytes(Artwork.objects.first()))
    assert "matches" not in response.context
    assert "there is no extractor to describe a photo" in response.content.decode()


def test_without_features_the_page_says_so(curator_client, small_gallery):
    response = search(curator_client, image_bytes(Artwork.objects.first()))
    assert "No features have been extracted yet" in response.content.decode()
    assert "matches" not in response.context
