"""An import stopped by SIGINT, SIGTERM or SIGKILL while it stores images leaves no file
and no row behind, and importing again works with no suffixed copies (issue 13 item 4).

`manage.py import_gallery` runs in a real process on the test's database; the test waits
until the first image is staged, then signals it. The gallery is big enough that storing
the rest and writing the interactions take a good while after that on any machine."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.acting import trainer
from tests.catalogue.import_fixtures import image_bytes, write_csv
from tests.integration.conftest import database_url
from tests.subprocess_env import subprocess_env
from webapp.catalogue.importing import gallery_import
from webapp.catalogue.importing.staging import STAGING_FOLDER
from webapp.catalogue.models import Artist, Artwork, Collector, FeatureSet, Interaction

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
N_WORKS = 1000
N_EVENTS = 3000
STORED_NAME = re.compile(r"^artworks/w\d+-[0-9a-f]{12}\.png$")
WAIT_S = 300  # only a stuck import takes this long


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> dict[str, Path]:
    """N_WORKS works with an image each (found as <item_id>.png) and N_EVENTS events."""
    root = tmp_path_factory.mktemp("big-gallery")
    images = root / "images"
    images.mkdir()
    for i in range(N_WORKS):
        (images / f"w{i}.png").write_bytes(image_bytes(seed=i))
    items = write_csv(
        root / "items.csv",
        ["item_id", "title", "artist"],
        [[f"w{i}", f"Work {i}", f"Artist {i % 40}"] for i in range(N_WORKS)],
    )
    interactions = write_csv(
        root / "interactions.csv",
        ["user_id", "item_id", "timestamp", "kind"],
        [[f"u{j % 300}", f"w{j % N_WORKS}", 1_700_000_000 + j, "view"] for j in range(N_EVENTS)],
    )
    return {"items": items, "interactions": interactions, "images": images}


def files_under(*roots: Path) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for root in roots
        for folder, _, names in os.walk(root)
        for name in names
    )


def staged_images(media_root: Path) -> list[Path]:
    return list((media_root / STAGING_FOLDER).glob("*/images/artworks/*"))


def start_import(gallery, settings, tmp_path) -> subprocess.Popen:
    env = {
        **subprocess_env(),
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "VITRINE_ARTEFACTS_ROOT": str(settings.VITRINE_ARTEFACTS_ROOT),
        "VITRINE_VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "manage.py",
        "import_gallery",
        "--user",
        trainer().username,
        "--items",
        str(gallery["items"]),
        "--interactions",
        str(gallery["interactions"]),
        "--images",
        str(gallery["images"]),
        "--no-progress",
    ]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # A shell without job control starts background commands with SIGINT ignored;
        # the import must see it as a terminal's Ctrl-C would deliver it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def interrupt_while_storing(process: subprocess.Popen, media_root: Path, signum: int) -> str:
    """Wait until the import has staged an image, signal it, return its output."""
    deadline = time.monotonic() + WAIT_S
    while not staged_images(media_root):
        if process.poll() is not None:
            pytest.fail(
                f"the import ended ({process.returncode}) before storing images:\n"
                + process.stdout.read().decode()
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no image staged after {WAIT_S} s")
        time.sleep(0.002)
    process.send_signal(signum)
    output = process.communicate(timeout=WAIT_S)[0].decode()
    if process.returncode == 0:
        pytest.fail(f"the import finished before the signal reached it:\n{output}")
    return output


def assert_no_rows():
    for model in (Artist, Artwork, Collector, Interaction, FeatureSet):
        assert model.objects.count() == 0, model.__name__


def assert_imported_once(media_root: Path):
    """Every work has its image under its checksum name, and no other file exists."""
    names = set(Artwork.objects.values_list("image", flat=True))
    assert len(names) == N_WORKS
    assert all(STORED_NAME.match(name) for name in names), sorted(names)[:5]
    assert files_under(media_root) == sorted(names)  # no suffixed copy, nothing staged


@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"]
)
def test_an_import_stopped_by_a_signal_removes_its_files(
    signum, exit_code, gallery, settings, tmp_path, media_root, artefacts_root
):
    process = start_import(gallery, settings, tmp_path)
    output = interrupt_while_storing(process, media_root, signum)

    assert files_under(media_root, artefacts_root) == []
    assert_no_rows()
    assert process.returncode == exit_code, output
    assert "nothing was written and no stored file was left behind" in output

    report = gallery_import(
        items_path=gallery["items"],
        interactions_path=gallery["interactions"],
        images_dir=gallery["images"],
    )
    assert report.images.created == N_WORKS and report.interactions.created == N_EVENTS
    assert_imported_once(media_root)


def test_after_sigkill_the_next_import_removes_the_staged_files(
    gallery, settings, tmp_path, media_root, artefacts_root
):
    process = start_import(gallery, settings, tmp_path)
    output = interrupt_while_storing(process, media_root, signal.SIGKILL)

    assert process.returncode == -signal.SIGKILL, output
    assert_no_rows()
    left = files_under(media_root)
    assert left and all(name.startswith(f"{STAGING_FOLDER}/") for name in left)

    report = gallery_import(
        items_path=gallery["items"],
        interactions_path=gallery["interactions"],
        images_dir=gallery["images"],
    )
    assert report.images.created == N_WORKS
    assert_imported_once(media_root)
    assert files_under(artefacts_root) == []
