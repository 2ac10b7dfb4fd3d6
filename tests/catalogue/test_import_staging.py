"""An import's files wait in a staging folder until its transaction commits; the staging
folders of imports that were killed are settled by the next import (issue 13 item 4)."""

import hashlib
import os
import subprocess
import sys

import pytest
from django.core.files.storage import default_storage

from tests.catalogue.import_fixtures import import_committed, make_gallery, write_npz
from webapp.catalogue.importing import gallery_import
from webapp.catalogue.importing.staging import (
    IMAGES,
    STAGING_FOLDER,
    ImportStaging,
    _host,
    staging_cleanup,
)
from webapp.catalogue.models import Artist, Artwork, FeatureSet

pytestmark = pytest.mark.django_db


def files_under(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
    )


def dead_owner_tag() -> str:
    """The owner tag of an import whose process has ended (its pid is free again)."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return f"{_host()}_{int(ended.stdout)}_1_0123456789ab"


def test_files_move_into_place_only_when_the_transaction_commits(
    tmp_path, media_root, artefacts_root, django_capture_on_commit_callbacks
):
    gallery = make_gallery(tmp_path)
    write_npz(gallery.root / "emb.npz", ["101", "102", "103"])
    with django_capture_on_commit_callbacks() as callbacks:
        gallery_import(**gallery.kwargs(embeddings_path=gallery.root / "emb.npz"))

    # Written in the transaction, but not committed yet: every file is still staged.
    names = [artwork.image.name for artwork in Artwork.objects.order_by("external_id")]
    feature_file = FeatureSet.objects.get().file.name
    assert all(not default_storage.exists(name) for name in names)
    assert not FeatureSet.objects.get().file.storage.exists(feature_file)
    assert all(f.startswith(f"{STAGING_FOLDER}/") for f in files_under(media_root))
    assert all(f.startswith(f"{STAGING_FOLDER}/") for f in files_under(artefacts_root))
    assert len(files_under(media_root)) == 3 and len(files_under(artefacts_root)) == 1

    for callback in callbacks:  # the commit
        callback()
    assert files_under(media_root) == sorted(names)
    assert files_under(artefacts_root) == [feature_file]


def test_a_file_already_in_place_is_reused_or_replaced_never_suffixed(tmp_path, media_root):
    """A whole file under the final name (left by an earlier import) is kept; a partial one
    (a crash while it was copied) is replaced; neither gets a `_suffixed` twin."""
    gallery = make_gallery(tmp_path)
    sources = {
        "101": gallery.images / "paintings" / "sunset.png",
        "102": gallery.images / "102.jpg",
    }
    expected = {}
    for item_id, source in sources.items():
        data = source.read_bytes()
        ext = ".png" if item_id == "101" else ".jpg"
        expected[item_id] = f"artworks/{item_id}-{hashlib.sha256(data).hexdigest()[:12]}{ext}"
        (media_root / "artworks").mkdir(exist_ok=True)
        (media_root / expected[item_id]).write_bytes(data if item_id == "101" else data[:50])

    import_committed(**gallery.kwargs())

    stored = dict(Artwork.objects.values_list("external_id", "image"))
    assert {k: stored[k] for k in expected} == expected
    assert len(files_under(media_root)) == 3
    for item_id, source in sources.items():
        assert (media_root / expected[item_id]).read_bytes() == source.read_bytes()


def test_the_staging_of_a_killed_import_is_settled_by_the_next_one(tmp_path, media_root):
    """Killed before its commit, an import's staged files are removed; killed after its
    commit but before it moved them, the files its rows name are moved into place. A
    folder whose import still runs is left alone."""
    artist = Artist.objects.create(name="A")
    committed = Artwork.objects.create(
        external_id="1",
        title="T",
        artist=artist,
        listed_at="2024-01-01T00:00Z",
        image="artworks/1-aaaaaaaaaaaa.png",
    )
    dead = media_root / STAGING_FOLDER / dead_owner_tag() / IMAGES.label / "artworks"
    dead.mkdir(parents=True)
    (dead / "1-aaaaaaaaaaaa.png").write_bytes(b"committed")
    (dead / "2-bbbbbbbbbbbb.png").write_bytes(b"rolled back")
    running = ImportStaging()  # this process's: alive
    running.add(IMAGES, "artworks/3-cccccccccccc.png", b"in progress")

    assert staging_cleanup() == 1

    assert default_storage.open(committed.image.name).read() == b"committed"
    running_files = [f"{STAGING_FOLDER}/{running.tag}/{IMAGES.label}/artworks/3-cccccccccccc.png"]
    assert files_under(media_root) == sorted([committed.image.name, *running_files])
    running.discard()
    assert files_under(media_root) == [committed.image.name]


def test_an_import_settles_dead_stagings_before_it_starts(tmp_path, media_root):
    dead = media_root / STAGING_FOLDER / dead_owner_tag() / IMAGES.label / "artworks"
    dead.mkdir(parents=True)
    (dead / "9-dddddddddddd.png").write_bytes(b"orphan")
    gallery = make_gallery(tmp_path)
    import_committed(**gallery.kwargs())
    assert len(files_under(media_root)) == 3
    assert not any(f.startswith(STAGING_FOLDER) for f in files_under(media_root))


def test_an_import_refuses_to_run_inside_a_callers_transaction(tmp_path, media_root):
    """Its files follow its own commit; inside a caller's transaction they could not follow
    the caller's rollback."""
    from django.db import transaction

    gallery = make_gallery(tmp_path)
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        gallery_import(**gallery.kwargs())
    assert files_under(media_root) == []


@pytest.mark.django_db(transaction=True)
def test_a_failure_after_the_commit_leaves_the_rest_for_the_next_import(
    tmp_path, media_root, monkeypatch
):
    """The rows are in; the disk filled up while the files were moved in. The staging
    folder is marked abandoned, and the next import moves the remaining files in."""
    from webapp.catalogue.importing import staging

    gallery = make_gallery(tmp_path)
    place = staging.file_place
    calls = []

    def full_after_one(storage, name, staged):
        calls.append(name)
        if len(calls) > 1:
            raise OSError("No space left on device")
        place(storage, name, staged)

    monkeypatch.setattr(staging, "file_place", full_after_one)
    with pytest.raises(OSError, match="No space left"):
        gallery_import(**gallery.kwargs())
    monkeypatch.setattr(staging, "file_place", place)

    names = sorted(Artwork.objects.values_list("image", flat=True))
    assert len(names) == 3  # committed
    assert [n for n in files_under(media_root) if not n.startswith(STAGING_FOLDER)] == [calls[0]]
    assert any(n.endswith("/ABANDONED") for n in files_under(media_root))

    import_committed(**gallery.kwargs())
    assert files_under(media_root) == names
