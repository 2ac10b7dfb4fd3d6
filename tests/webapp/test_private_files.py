"""Nothing readable without the right login (issue 13, item 2).

Images (originals, thumbnails, kept search photos) are served only by login-checked views;
everything the jobs write lives in a storage root of its own that no URL serves, and the
old /media/ paths are gone even for someone logged in.
"""

import importlib
import io
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import Resolver404, resolve, reverse
from PIL import Image

from tests.acting import trainer
from webapp.catalogue.models import Artist, Artwork, FeatureSet
from webapp.catalogue.services import artwork_image_save, feature_set_create
from webapp.curation.services import search_photo_keep
from webapp.jobs.models import Artefact
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create
from webapp.storage import artefact_storage

pytestmark = pytest.mark.django_db


def png(colour=(200, 30, 40), size=(60, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def private_feature_cache(settings, tmp_path):
    settings.VITRINE_FEATURE_CACHE = tmp_path / "feature-cache"


@pytest.fixture
def work(db) -> Artwork:
    artist = Artist.objects.create(name="Ada Test")
    work = Artwork.objects.create(
        external_id="w1", title="Red", artist=artist, listed_at="2024-01-01T00:00Z"
    )
    artwork_image_save(artwork=work, data=png(), extension=".png")
    return work


@pytest.fixture
def logged_in(client, curator):
    client.force_login(curator)
    return client


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def sent_to_login(response) -> bool:
    return response.status_code == 302 and response.url.startswith(reverse("login"))


def not_served(client, path: str) -> bool:
    """No URL pattern matches ``path`` (so no web server setting or document root can make
    it serve a file through the site), and asking for it is a 404."""
    try:
        resolve(path)
    except Resolver404:
        return client.get(path).status_code == 404
    return False


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------ images


def test_an_original_image_needs_a_login(client, curator, work, media_root):
    url = reverse("curation:artwork-image", args=[work.pk])
    anonymous = client.get(url)
    assert sent_to_login(anonymous) and not anonymous.has_header("X-Accel-Redirect")
    client.force_login(curator)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert body(response) == (media_root / work.image.name).read_bytes() == png()
    assert response["Cache-Control"].startswith("private")
    assert not_served(client, f"/media/{work.image.name}")
    page = client.get(reverse("curation:artwork-detail", args=[work.pk])).content.decode()
    assert f'href="{url}"' in page and "/media/" not in page


def test_a_work_without_an_image_or_an_unknown_work_is_not_found(logged_in, work):
    Artwork.objects.filter(pk=work.pk).update(image="")
    assert logged_in.get(reverse("curation:artwork-image", args=[work.pk])).status_code == 404
    assert logged_in.get(reverse("curation:artwork-image", args=[work.pk + 99])).status_code == 404


def test_a_thumbnail_needs_a_login_and_the_old_media_path_is_gone(
    client, curator, work, media_root
):
    url = reverse("curation:thumbnail", args=[160, work.image_checksum])
    assert sent_to_login(client.get(url))
    client.force_login(curator)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    stored = media_root / "thumbs" / "160" / f"{work.image_checksum}.webp"
    assert body(response) == stored.read_bytes()
    assert response["Cache-Control"].startswith("private")
    assert not_served(client, f"/media/thumbs/160/{work.image_checksum}.webp")
    client.logout()
    assert not_served(client, f"/media/thumbs/160/{work.image_checksum}.webp")


def test_a_work_without_a_checksum_is_shown_through_the_original_view(logged_in, work):
    Artwork.objects.filter(pk=work.pk).update(image_checksum="")
    html = logged_in.get(reverse("curation:artwork-list")).content.decode()
    assert f'src="{reverse("curation:artwork-image", args=[work.pk])}"' in html
    assert "/media/" not in html


def test_a_kept_search_photo_is_served_to_its_owner_only(
    client, curator, django_user_model, media_root
):
    data = png((10, 200, 30))
    name = search_photo_keep(user=curator, data=data, extension=".png")
    checksum = Path(name).stem
    url = reverse("curation:search-photo", args=[checksum])
    assert sent_to_login(client.get(url))
    client.force_login(curator)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert body(response) == data and response["Cache-Control"].startswith("private")
    assert not_served(client, f"/media/{name}")
    other = django_user_model.objects.create_user("other", password="pw-other-1")
    client.force_login(other)
    assert client.get(url).status_code == 404  # another curator's photo is not theirs
    assert client.get(f"/search/photo/kept/{'0' * 64}/").status_code == 404


@pytest.mark.usefixtures("fresh_feature_spaces")
def test_the_search_page_links_the_kept_photo_to_its_view(logged_in, small_gallery):
    from webapp.jobs.features import features_extract

    features_extract(extractor_name="handcrafted")
    data = png((40, 90, 200), size=(32, 32))
    response = logged_in.post(
        reverse("curation:image-search"),
        {"photo": SimpleUploadedFile("wall.png", data, content_type="image/png"), "keep": "on"},
    )
    url = response.context["kept_url"]
    assert f'href="{url}"' in response.content.decode()
    assert body(logged_in.get(url)) == data


# ------------------------------------------------------------------------ web server


def test_nginx_sends_an_image_by_internal_redirect_after_the_login(client, curator, work, settings):
    settings.VITRINE_SENDFILE = "nginx"
    settings.VITRINE_SENDFILE_PREFIX = "/protected-media/"
    url = reverse("curation:artwork-image", args=[work.pk])
    anonymous = client.get(url)
    assert sent_to_login(anonymous) and not anonymous.has_header("X-Accel-Redirect")
    client.force_login(curator)
    response = client.get(url)
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected-media/{work.image.name}"
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"].startswith("private")
    thumb = client.get(reverse("curation:thumbnail", args=[320, work.image_checksum]))
    assert thumb["X-Accel-Redirect"] == f"/protected-media/thumbs/320/{work.image_checksum}.webp"


def test_apache_sends_an_image_by_x_sendfile_after_the_login(
    client, curator, work, settings, media_root
):
    settings.VITRINE_SENDFILE = "apache"
    url = reverse("curation:artwork-image", args=[work.pk])
    assert not client.get(url).has_header("X-Sendfile")
    client.force_login(curator)
    response = client.get(url)
    assert response.status_code == 200 and response.content == b""
    assert response["X-Sendfile"] == str(media_root / work.image.name)


# ------------------------------------------------------------------------- artefacts


@pytest.fixture
def finished_job(small_gallery):
    """A BPR job (model, checkpoint, embeddings, index, evaluation) and a feature set."""
    from webapp.jobs.features import features_extract

    job = training_job_create(user=trainer(), method="bpr", params={"epochs": 2}, enqueue=False)
    assert training_job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    features_extract(extractor_name="handcrafted")
    return job


def test_artefacts_live_outside_media_root_and_no_url_serves_them(
    client, staff, finished_job, media_root, artefacts_root
):
    kinds = set(finished_job.artefacts.values_list("kind", flat=True))
    assert {Artefact.Kind.MODEL, Artefact.Kind.CHECKPOINT, Artefact.Kind.EVALUATION} <= kinds
    artefacts = files_under(artefacts_root)
    model = finished_job.model_artefact.path
    evaluation = finished_job.artefacts.get(kind=Artefact.Kind.EVALUATION).path
    checkpoint = finished_job.artefacts.get(kind=Artefact.Kind.CHECKPOINT).path
    feature_file = FeatureSet.objects.get().file.name
    wanted = {f"{model}/config.json", f"{model}/weights.safetensors", evaluation, checkpoint}
    assert wanted | {feature_file} <= artefacts
    assert evaluation.endswith("evaluation.npz") and feature_file.startswith("features/")
    # Only the images (and nothing a job wrote) are under MEDIA_ROOT.
    assert {Path(name).parts[0] for name in files_under(media_root)} == {"artworks"}
    with pytest.raises(ValueError, match="never served"):
        artefact_storage().url(evaluation)
    client.force_login(staff)  # even a superuser finds no URL for them
    for name in sorted(artefacts):
        assert not_served(client, f"/media/{name}"), name
    assert not_served(client, f"/media/jobs/{finished_job.pk}/")
    client.logout()
    assert not_served(client, f"/media/{model}/config.json")


def test_the_job_log_is_stored_in_no_file_and_its_page_needs_a_login(
    client, finished_job, media_root, artefacts_root
):
    finished_job.log_tail = "collector c-0042 raised a warning"
    finished_job.save(update_fields=["log_tail"])
    for root in (media_root, artefacts_root):
        assert not any(b"c-0042" in p.read_bytes() for p in root.rglob("*") if p.is_file()), root
    for name in ("curation:job-detail", "curation:job-status"):
        assert sent_to_login(client.get(reverse(name, args=[finished_job.pk])))
    assert not_served(client, f"/media/jobs/{finished_job.pk}/log.txt")


def test_reading_artefacts_still_works(finished_job):
    from webapp.catalogue.models import Collector
    from webapp.catalogue.selectors import feature_set_load
    from webapp.jobs.selectors import job_evaluation
    from webapp.jobs.serving import collector_recommendations

    collector = Collector.objects.filter(interactions__kind="purchase").first()
    assert len(collector_recommendations(collector=collector, method="bpr", k=5).items) == 5
    assert job_evaluation(job=finished_job).metrics
    ids, vectors = feature_set_load(feature_set=FeatureSet.objects.get())
    assert len(ids) == len(vectors) == Artwork.objects.exclude(image="").count()


def test_the_feature_set_admin_names_its_file_without_a_link(client, staff, finished_job):
    client.force_login(staff)
    feature_set = FeatureSet.objects.get()
    response = client.get(reverse("admin:catalogue_featureset_change", args=[feature_set.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert feature_set.file.name in html and "/media/" not in html


def test_the_artwork_admin_shows_images_through_the_views(client, staff, work):
    client.force_login(staff)
    listing = client.get(reverse("admin:catalogue_artwork_changelist")).content.decode()
    assert reverse("curation:thumbnail", args=[160, work.image_checksum]) in listing
    change = client.get(reverse("admin:catalogue_artwork_change", args=[work.pk]))
    html = change.content.decode()
    assert f'href="{reverse("curation:artwork-image", args=[work.pk])}"' in html
    assert "/media/" not in html


# ------------------------------------------------------------------ moving old files


def test_the_migrations_move_old_artefacts_out_of_media_root(media_root, artefacts_root):
    catalogue = importlib.import_module("webapp.catalogue.migrations.0006_artefact_storage")
    jobs = importlib.import_module("webapp.jobs.migrations.0005_artefact_storage")
    old = {
        "jobs/7/attempt-1/model/config.json": b'{"users": ["c-1"]}',
        "jobs/7/checkpoint-serve.pt": b"weights",
        "features/handcrafted-abc.npz": b"vectors",
        "artworks/w1.png": b"an image",
    }
    for name, data in old.items():
        (media_root / name).parent.mkdir(parents=True, exist_ok=True)
        (media_root / name).write_bytes(data)
    # A copy that a crashed earlier run left whole only loses its source.
    (artefacts_root / "features").mkdir()
    (artefacts_root / "features/handcrafted-abc.npz").write_bytes(b"vectors")
    for _ in range(2):  # a second run finds nothing left to move
        catalogue.features_to_artefacts(None, None)
        jobs.jobs_to_artefacts(None, None)
    assert files_under(media_root) == {"artworks/w1.png"}
    assert {n: (artefacts_root / n).read_bytes() for n in files_under(artefacts_root)} == {
        n: d for n, d in old.items() if not n.startswith("artworks/")
    }
    assert not (media_root / "jobs").exists() and not (media_root / "features").exists()


def test_feature_sets_are_written_to_the_artefact_storage(small_gallery, media_root):
    ids = list(Artwork.objects.values_list("pk", flat=True))
    feature_set = feature_set_create(
        name="clip", source="x", artwork_ids=ids, vectors=np.ones((len(ids), 4))
    )
    assert feature_set.file.storage is artefact_storage()
    assert not (media_root / feature_set.file.name).exists()


# -------------------------------------------------------------------------- settings


def test_under_s3_artefacts_have_a_prefix_of_their_own():
    from tests.webapp.test_settings import manage

    script = (
        "from django.core.files.storage import storages; "
        "print(*(storages[k].location for k in ('default', 'artefacts')))"
    )
    result = manage(
        "shell",
        "-c",
        script,
        VITRINE_S3_BUCKET="vitrine-files",
        AWS_ACCESS_KEY_ID="key",
        AWS_SECRET_ACCESS_KEY="secret",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["vitrine", "vitrine-artefacts"]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"VITRINE_SENDFILE": "lighttpd"}, "VITRINE_SENDFILE must be empty, nginx or apache"),
        ({"VITRINE_ARTEFACTS_ROOT": "{media}/jobs"}, "need separate roots"),
        (
            {"VITRINE_S3_BUCKET": "b", "VITRINE_S3_ARTEFACTS_PREFIX": "vitrine/artefacts"},
            "need separate roots",
        ),
    ],
)
def test_settings_that_would_mix_or_leak_files_are_refused(env, message, tmp_path):
    from tests.webapp.test_settings import manage

    env = {key: value.format(media=tmp_path) for key, value in env.items()}
    result = manage("check", MEDIA_ROOT=str(tmp_path), **env)
    assert result.returncode != 0 and message in result.stderr
