"""manage.py import_gallery and the gallery_import service."""

import hashlib
import os
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError
from PIL import Image

from tests.catalogue.import_fixtures import (
    INTERACTION_HEADER,
    ITEM_HEADER,
    command_committed,
    default_interactions,
    default_items,
    import_committed,
    make_gallery,
    truncate_file,
    write_image,
    write_npy,
    write_npz,
)
from webapp.catalogue.importing import ImportFailed, gallery_import, parse_when
from webapp.catalogue.importing import writing as importing  # feature_set_create
from webapp.catalogue.models import Artist, Artwork, Collector, FeatureSet, Interaction
from webapp.catalogue.selectors import feature_set_load

pytestmark = pytest.mark.django_db


def media_files(media_root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), media_root)
        for folder, _, names in os.walk(media_root)
        for name in names
    )


def assert_nothing_written(media_root):
    for model in (Artist, Artwork, Collector, Interaction, FeatureSet):
        assert model.objects.count() == 0, model.__name__
    assert media_files(media_root) == []


def failure(gallery, **extra) -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        gallery_import(**gallery.kwargs(**extra))
    return caught.value


def has_problem(failed: ImportFailed, file: str, line: int | None, *words: str) -> bool:
    return any(
        p.file == file and p.line == line and all(w in p.reason for w in words)
        for p in failed.problems
    )


# ---------------------------------------------------------------------------- good imports


def test_good_import_creates_rows_and_images(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    report = import_committed(**gallery.kwargs())

    assert report.written and report.ok
    assert (report.artists.created, report.artworks.created) == (2, 3)
    assert (report.collectors.created, report.interactions.created) == (3, 5)
    assert report.images.created == 3

    assert sorted(Artist.objects.values_list("name", flat=True)) == ["Ada Palette", "Bo Brush"]
    first = Artwork.objects.get(external_id="101")
    assert first.title == "Sunset over the harbour"
    assert first.artist.name == "Ada Palette"
    assert first.year == 2019 and first.medium == "oil on canvas"
    assert first.style_tags == ["impressionist", "warm", "seascape"]
    assert (first.width_cm, first.height_cm, first.price) == (60, 40.5, Decimal("1200.50"))
    assert first.listed_at == parse_when("2024-03-01")
    # Sold at its purchase: u1 bought it (line 2); 102 by u3 (line 6); 103 was only rated.
    assert first.is_sold and first.sold_at == parse_when("2024-04-01T12:00:00Z")
    second = Artwork.objects.get(external_id="102")
    assert second.is_sold and second.listed_at.timestamp() == 1709251200
    assert second.sold_at == parse_when("2024-04-04T07:00:00Z")
    third = Artwork.objects.get(external_id="103")
    assert not third.is_sold and third.sold_at is None
    assert (report.sales.created, report.sale_conflicts) == (2, [])

    # Images: stored under a name made from the item id, with the file's sha256.
    sources = {
        "101": gallery.images / "paintings" / "sunset.png",
        "102": gallery.images / "102.jpg",
        "103": gallery.images / "103.png",
    }
    for item_id, source in sources.items():
        artwork = Artwork.objects.get(external_id=item_id)
        data = source.read_bytes()
        assert artwork.image_checksum == hashlib.sha256(data).hexdigest()
        assert artwork.image.name.startswith(f"artworks/{item_id}-")
        with default_storage.open(artwork.image.name, "rb") as handle:
            assert handle.read() == data
    assert Artwork.objects.get(external_id="102").image.name.endswith(".jpg")
    assert len(media_files(media_root)) == 3

    assert sorted(Collector.objects.values_list("external_id", flat=True)) == ["u1", "u2", "u3"]
    rated = Interaction.objects.get(collector__external_id="u2", artwork__external_id="103")
    assert (rated.kind, rated.rating, rated.is_evaluation) == ("rating", 4.5, True)
    default_kind = Interaction.objects.get(collector__external_id="u1", artwork__external_id="101")
    assert default_kind.kind == "purchase" and not default_kind.is_evaluation
    like = Interaction.objects.get(kind="like")
    assert like.timestamp.timestamp() == 1712000000
    offset = Interaction.objects.get(collector__external_id="u3")
    assert offset.timestamp == parse_when("2024-04-04T07:00:00Z") and offset.is_evaluation


def test_reimport_is_idempotent(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    import_committed(**gallery.kwargs())
    files = media_files(media_root)
    stamps = {name: os.stat(media_root / name).st_mtime_ns for name in files}

    report = import_committed(**gallery.kwargs())

    assert report.artworks.created == report.artworks.updated == 0
    assert report.artworks.unchanged == 3
    assert (report.artists.unchanged, report.collectors.unchanged) == (2, 3)
    assert (report.interactions.created, report.interactions.unchanged) == (0, 5)
    assert (report.sales.created, report.sales.unchanged) == (0, 2)
    assert (report.images.created, report.images.updated, report.images.unchanged) == (0, 0, 3)
    assert "3 unchanged" in report.render()
    assert (Artist.objects.count(), Artwork.objects.count()) == (2, 3)
    assert (Collector.objects.count(), Interaction.objects.count()) == (3, 5)
    assert media_files(media_root) == files
    assert {name: os.stat(media_root / name).st_mtime_ns for name in files} == stamps


def test_reimport_updates_changed_rows_and_replaces_images(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    import_committed(**gallery.kwargs())
    old_image = Artwork.objects.get(external_id="103").image.name

    items = default_items()
    items[0]["title"] = "Sunrise over the harbour"
    items[1]["artist"] = "Cy Canvas"
    items[1]["style_tags"] = "abstract|blue"
    gallery.write_items(items)
    new_data = write_image(gallery.images / "103.png", seed=99)
    interactions = default_interactions()
    interactions[0]["evaluation"] = "true"
    interactions.append({"user_id": "u4", "item_id": "103", "timestamp": "2024-05-01"})
    gallery.write_interactions(interactions)

    report = import_committed(**gallery.kwargs())

    assert (report.artworks.updated, report.artworks.unchanged) == (2, 1)
    assert (report.artists.created, report.artists.unchanged) == (1, 2)
    changed = Artwork.objects.get(external_id="102")
    assert changed.artist.name == "Cy Canvas" and changed.style_tags == ["abstract", "blue"]
    assert (report.images.updated, report.images.unchanged) == (1, 2)
    assert (report.interactions.created, report.interactions.updated) == (1, 1)
    assert report.interactions.unchanged == 4
    assert report.collectors.created == 1
    assert Artwork.objects.get(external_id="101").title == "Sunrise over the harbour"
    replaced = Artwork.objects.get(external_id="103")
    assert replaced.image_checksum == hashlib.sha256(new_data).hexdigest()
    assert replaced.image.name != old_image
    assert not default_storage.exists(old_image)  # deleted once the transaction committed
    assert len(media_files(media_root)) == 3
    assert Interaction.objects.get(collector__external_id="u1", kind="purchase").is_evaluation


def test_dry_run_writes_nothing(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    out = StringIO()
    command_committed(*gallery.argv("--dry-run"), stdout=out)

    assert "Dry run" in out.getvalue()
    assert "artworks:     3 to create" in out.getvalue()
    assert "interactions: 5 to create" in out.getvalue()
    assert_nothing_written(media_root)


def test_dry_run_after_import_reports_unchanged(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    import_committed(**gallery.kwargs())
    report = import_committed(**gallery.kwargs(dry_run=True))
    assert report.artworks.unchanged == 3 and report.interactions.unchanged == 5
    assert not report.written


def test_command_prints_the_report_and_notes_unknown_columns(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    rows = default_items()
    for row in rows:
        row["colour"] = "red"
    gallery.write_items(rows, header=[*ITEM_HEADER, "colour"])
    out = StringIO()
    command_committed(*gallery.argv(), stdout=out)
    assert "artworks:     3 created" in out.getvalue()
    assert "ignored unknown column(s): colour" in out.getvalue()
    assert Artwork.objects.count() == 3


def test_items_found_without_images_folder_and_interactions_on_existing_items(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    import_committed(**gallery.kwargs())
    # A second import whose interactions refer to works imported before.
    gallery.write_items([{"item_id": "200", "title": "New", "artist": "Cy Canvas"}])
    gallery.write_interactions([{"user_id": "u9", "item_id": "101", "timestamp": "2024-06-01"}])
    report = import_committed(items_path=gallery.items, interactions_path=gallery.interactions)
    assert report.artworks.created == 1 and report.interactions.created == 1
    assert Interaction.objects.filter(collector__external_id="u9").count() == 1


# ---------------------------------------------------------------------------- bad input


def bad_timestamp(gallery):
    rows = default_interactions()
    rows[1]["timestamp"] = "yesterday"
    gallery.write_interactions(rows)
    return "interactions.csv", 3, "timestamp"


def unknown_item(gallery):
    rows = default_interactions()
    rows[2]["item_id"] = "999"
    gallery.write_interactions(rows)
    return "interactions.csv", 4, "unknown item_id '999'"


def missing_image(gallery):
    (gallery.images / "paintings" / "sunset.png").unlink()
    return "items.csv", 2, "missing"


def truncated_image(gallery):
    truncate_file(gallery.images / "103.png", keep=0.5)
    return "items.csv", 4, "truncated"


def not_an_image(gallery):
    (gallery.images / "102.jpg").write_bytes(b"this is a text file, not a JPEG\n" * 10)
    return "items.csv", 3, "not an image"


def path_traversal(gallery):
    write_image(gallery.root / "secret.png", seed=5)  # exists, but outside the folder
    rows = default_items()
    rows[0]["image"] = "../secret.png"
    gallery.write_items(rows)
    return "items.csv", 2, "refused"


def absolute_path(gallery):
    secret = write_image(gallery.root / "secret.png", seed=5) and gallery.root / "secret.png"
    rows = default_items()
    rows[0]["image"] = str(secret)
    gallery.write_items(rows)
    return "items.csv", 2, "absolute"


def escaping_symlink(gallery):
    write_image(gallery.root / "secret.png", seed=5)
    (gallery.images / "103.png").unlink()
    (gallery.images / "103.png").symlink_to(gallery.root / "secret.png")
    return "items.csv", 4, "outside the images folder"


def bad_listed_at(gallery):
    rows = default_items()
    rows[1]["listed_at"] = "2024-13-45"
    gallery.write_items(rows)
    return "items.csv", 3, "listed_at"


def bad_price(gallery):
    rows = default_items()
    rows[2]["price"] = "12,50 EUR"
    gallery.write_items(rows)
    return "items.csv", 4, "price"


def duplicate_item(gallery):
    rows = default_items()
    rows.append(dict(rows[0]))
    gallery.write_items(rows)
    return "items.csv", 5, "duplicate item_id '101' (first on line 2)"


def missing_column(gallery):
    gallery.write_items([["101", "x"]], header=["item_id", "title"])
    return "items.csv", 1, "artist"


def kind_not_a_label(gallery):
    rows = default_interactions()
    rows[4]["kind"] = "add-to-cart"
    gallery.write_interactions(rows)
    return "interactions.csv", 6, "not a kind label: 'add-to-cart'"


def kind_too_long(gallery):
    rows = default_interactions()
    rows[3]["kind"] = "k" * 31
    gallery.write_interactions(rows)
    return "interactions.csv", 5, "not a kind label"


def weight_zero(gallery):
    rows = default_interactions()
    rows[1]["weight"] = "0"
    gallery.write_interactions(rows)
    return "interactions.csv", 3, "weight: must be greater than 0"


def weight_not_finite(gallery):
    rows = default_interactions()
    rows[2]["weight"] = "inf"
    gallery.write_interactions(rows)
    return "interactions.csv", 4, "weight: not a finite number"


def weight_not_a_number(gallery):
    rows = default_interactions()
    rows[0]["weight"] = "heavy"
    gallery.write_interactions(rows)
    return "interactions.csv", 2, "weight: not a number"


def bad_rating(gallery):
    rows = default_interactions()
    rows[2]["rating"] = "lots"
    gallery.write_interactions(rows)
    return "interactions.csv", 4, "rating"


def bad_evaluation(gallery):
    rows = default_interactions()
    rows[0]["evaluation"] = "maybe"
    gallery.write_interactions(rows)
    return "interactions.csv", 2, "evaluation"


def not_utf8(gallery):
    gallery.write_interactions(default_interactions())
    with open(gallery.interactions, "ab") as handle:
        handle.write("u1,101,2024-05-01,purchase,,caf\u00e9\n".encode("latin-1"))
    return "interactions.csv", 7, "not UTF-8"


def short_row(gallery):
    gallery.write_interactions([*default_interactions(), ["u1", "101"]])
    return "interactions.csv", 7, "expected 7 fields, found 2"


@pytest.mark.parametrize(
    "breaks",
    [
        bad_timestamp,
        unknown_item,
        missing_image,
        truncated_image,
        not_an_image,
        path_traversal,
        absolute_path,
        escaping_symlink,
        bad_listed_at,
        bad_price,
        duplicate_item,
        missing_column,
        kind_not_a_label,
        kind_too_long,
        weight_zero,
        weight_not_finite,
        weight_not_a_number,
        bad_rating,
        bad_evaluation,
        short_row,
        not_utf8,
    ],
)
def test_bad_input_is_reported_with_its_line_and_nothing_is_written(breaks, tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    file, line, words = breaks(gallery)
    failed = failure(gallery)
    assert has_problem(failed, file, line, words), failed.problems
    assert f"{file}:{line}:" in str(failed)
    assert_nothing_written(media_root)


def test_image_over_the_pixel_limit(tmp_path, media_root, settings):
    settings.VITRINE_MAX_IMAGE_PIXELS = 100  # the fixtures are 16×16 = 256 pixels
    gallery = make_gallery(tmp_path)
    failed = failure(gallery)
    for line in (2, 3, 4):
        assert has_problem(failed, "items.csv", line, "too large", "256 pixels"), failed.problems
    assert_nothing_written(media_root)


def test_pillow_decompression_bomb_guard_is_an_error(tmp_path, media_root, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow's own guard, below ours
    gallery = make_gallery(tmp_path)
    failed = failure(gallery)
    assert has_problem(failed, "items.csv", 4, "decompression bomb"), failed.problems
    assert_nothing_written(media_root)


def test_every_problem_is_listed_by_the_command(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    bad_timestamp(gallery)
    truncated_image(gallery)
    bad_price(gallery)
    with pytest.raises(CommandError) as caught:
        command_committed(*gallery.argv(), stdout=StringIO())
    message = str(caught.value)
    assert "nothing was written" in message
    assert "items.csv:4: image '103.png': truncated" in message
    assert "items.csv:4: price" in message
    assert "interactions.csv:3: timestamp" in message
    assert_nothing_written(media_root)


def test_failure_while_writing_rolls_back_rows_and_stored_images(tmp_path, media_root, monkeypatch):
    gallery = make_gallery(tmp_path)
    write_npy(gallery.root / "emb.npy", [101, 102, 103])

    def broken(**kwargs):
        assert len(media_files(media_root)) == 3  # the images were staged by now
        raise OSError("disk full")

    monkeypatch.setattr(importing, "feature_set_create", broken)
    with pytest.raises(OSError, match="disk full"):
        import_committed(**gallery.kwargs(embeddings_path=gallery.root / "emb.npy"))
    assert_nothing_written(media_root)


def test_failure_while_writing_keeps_the_previous_images(tmp_path, media_root, monkeypatch):
    gallery = make_gallery(tmp_path)
    import_committed(**gallery.kwargs())
    before = media_files(media_root)
    checksums = dict(Artwork.objects.values_list("external_id", "image_checksum"))
    write_image(gallery.images / "103.png", seed=42)
    gallery.write_interactions([{"user_id": "u7", "item_id": "103", "timestamp": "2024-07-01"}])

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Interaction.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        import_committed(**gallery.kwargs())
    assert media_files(media_root) == before
    assert dict(Artwork.objects.values_list("external_id", "image_checksum")) == checksums
    assert not Collector.objects.filter(external_id="u7").exists()


def test_line_numbers_count_lines_inside_quoted_fields(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    rows = default_items()
    rows[0]["title"] = "A title\nwritten on two lines"  # lines 2 and 3
    rows[1]["year"] = "last year"  # so this row starts on line 4
    gallery.write_items(rows)
    failed = failure(gallery)
    assert [str(p) for p in failed.problems] == ["items.csv:4: year: not a number: 'last year'"]


def test_missing_files_are_reported(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    failed = failure(gallery, items_path=tmp_path / "nope.csv", images_dir=tmp_path / "none")
    assert has_problem(failed, "nope.csv", None, "file not found")
    assert any("images folder not found" in p.reason for p in failed.problems)
    assert_nothing_written(media_root)


# ---------------------------------------------------------------------------- embeddings


def test_npy_embeddings_become_a_feature_set(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    vectors = write_npy(gallery.root / "emb.npy", [103, 101, 102], dim=5)
    report = import_committed(**gallery.kwargs(embeddings_path=gallery.root / "emb.npy"))

    feature_set = FeatureSet.objects.get()
    assert (feature_set.name, feature_set.n_items, feature_set.dim) == ("imported", 3, 5)
    assert feature_set.source.startswith("emb.npy sha256:")
    assert report.feature_set == ("imported", 3, 5, True)
    artwork_ids, stored = feature_set_load(feature_set=feature_set)
    pks = [Artwork.objects.get(external_id=i).pk for i in ("103", "101", "102")]
    assert artwork_ids.tolist() == pks
    assert stored.shape == (3, 5)
    np.testing.assert_allclose(stored, vectors, rtol=1e-6)

    # Importing the same file again adds no second feature set.
    again = import_committed(**gallery.kwargs(embeddings_path=gallery.root / "emb.npy"))
    assert again.feature_set == ("imported", 3, 5, False)
    assert FeatureSet.objects.count() == 1


@pytest.mark.parametrize("key", ["vectors", "matrix"])
def test_npz_embeddings_become_a_feature_set(key, tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    vectors = write_npz(gallery.root / "emb.npz", ["101", "102"], dim=3, key=key)
    out = StringIO()
    command_committed(
        *gallery.argv("--embeddings", str(gallery.root / "emb.npz"), "--embeddings-name", "clip"),
        stdout=out,
    )
    feature_set = FeatureSet.objects.get()
    assert (feature_set.name, feature_set.n_items, feature_set.dim) == ("clip", 2, 3)
    assert "'clip' 2 × 3" in out.getvalue()
    artwork_ids, stored = feature_set_load(feature_set=feature_set)
    assert artwork_ids.tolist() == [
        Artwork.objects.get(external_id="101").pk,
        Artwork.objects.get(external_id="102").pk,
    ]
    np.testing.assert_allclose(stored, vectors)


def test_embeddings_with_an_unknown_id_fail(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    write_npy(gallery.root / "emb.npy", [101, 102, 999])
    failed = failure(gallery, embeddings_path=gallery.root / "emb.npy")
    assert has_problem(failed, "emb.npy", None, "row 3", "unknown item id '999'")
    assert_nothing_written(media_root)


def test_embeddings_with_bad_values_fail(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    array = np.array([[101, 0.1, np.nan], [101.5, 0.2, 0.3], [102, 0.1, 0.2]])
    np.save(gallery.root / "emb.npy", array)
    failed = failure(gallery, embeddings_path=gallery.root / "emb.npy")
    assert has_problem(failed, "emb.npy", None, "row 1", "non-finite")
    assert has_problem(failed, "emb.npy", None, "row 2", "bad item id")
    np.savez(gallery.root / "bad.npz", ids=np.array([101, 102]), vectors=np.ones((3, 2)))
    failed = failure(gallery, embeddings_path=gallery.root / "bad.npz")
    assert has_problem(failed, "bad.npz", None, "2 ids but 3 vector rows")
    assert_nothing_written(media_root)


# ---------------------------------------------------------------------------- parsing


def test_parse_when_accepts_iso_and_unix_seconds():
    assert parse_when("0").isoformat() == "1970-01-01T00:00:00+00:00"
    assert parse_when("2024-01-02").isoformat() == "2024-01-02T00:00:00+00:00"
    assert parse_when("2024-01-02T03:04:05+01:00").isoformat() == "2024-01-02T02:04:05+00:00"
    with pytest.raises(ValueError):
        parse_when("1712000000000000")  # far beyond year 9999


def test_interactions_header_is_the_tutorial_format():
    assert INTERACTION_HEADER[:3] == ["user_id", "item_id", "timestamp"]
    assert "evaluation" in INTERACTION_HEADER
