"""What an import refuses before it touches the database (issue 13 item 4): embeddings too
large by their header, text PostgreSQL cannot store, timestamps that are not ISO 8601 or
unix seconds or fall outside the accepted range, and images over Vitrine's pixel limit."""

import io
import zlib

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from tests.catalogue.import_fixtures import (
    default_interactions,
    default_items,
    import_committed,
    make_gallery,
    write_npz,
)
from webapp.catalogue.importing import ImportFailed, gallery_import, parse_when
from webapp.catalogue.models import Artist, Artwork, Collector, FeatureSet, Interaction

pytestmark = pytest.mark.django_db


def refused(**kwargs) -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        gallery_import(**kwargs)
    for model in (Artist, Artwork, Collector, Interaction, FeatureSet):
        assert model.objects.count() == 0, model.__name__
    return caught.value


def reasons(failed: ImportFailed, file: str, line: int | None) -> list[str]:
    return [p.reason for p in failed.problems if p.file == file and p.line == line]


# ---------------------------------------------------------------------------- embeddings


def test_embeddings_over_the_cap_are_refused_from_their_header(tmp_path, settings, monkeypatch):
    settings.VITRINE_MAX_EMBEDDING_VALUES = 1000
    gallery = make_gallery(tmp_path)
    path = gallery.root / "zeros.npz"
    np.savez_compressed(path, ids=np.array(["101", "102"]), vectors=np.zeros((2, 600)))
    assert path.stat().st_size < 5000  # compressed zeros: small on disk, big once loaded

    def never(*args, **kwargs):
        raise AssertionError("the arrays were loaded")

    monkeypatch.setattr(np, "load", never)
    failed = refused(**gallery.kwargs(embeddings_path=path))
    assert reasons(failed, "zeros.npz", None) == [
        "'vectors' has shape (2, 600) = 1200 values, over the limit "
        "VITRINE_MAX_EMBEDDING_VALUES = 1000"
    ]


def test_a_npy_over_the_cap_is_refused_and_one_under_it_imported(tmp_path, settings):
    settings.VITRINE_MAX_EMBEDDING_VALUES = 1000
    gallery = make_gallery(tmp_path)
    rows = np.column_stack([[101.0, 102.0, 103.0], np.zeros((3, 400))])  # 3 × 401 = 1203
    np.save(gallery.root / "big.npy", rows)
    failed = refused(**gallery.kwargs(embeddings_path=gallery.root / "big.npy"))
    assert reasons(failed, "big.npy", None) == [
        "the array has shape (3, 401) = 1203 values, over the limit "
        "VITRINE_MAX_EMBEDDING_VALUES = 1000"
    ]
    np.save(gallery.root / "small.npy", rows[:, :300])  # 3 × 300 = 900
    report = import_committed(**gallery.kwargs(embeddings_path=gallery.root / "small.npy"))
    assert report.feature_set == ("imported", 3, 299, True)


@pytest.mark.parametrize("dtype", ["<U100000", "V4000", [("a", "<f4", (1000,))], "<c16"], ids=str)
def test_vectors_of_a_wide_or_structured_type_are_refused_from_their_header(
    tmp_path, monkeypatch, dtype
):
    """The cap counts values, so a type whose one value is kilobytes is refused by kind."""
    gallery = make_gallery(tmp_path)
    path = gallery.root / "wide.npz"
    np.savez_compressed(path, ids=np.array(["101", "102"]), vectors=np.zeros((2, 3), dtype=dtype))

    def never(*args, **kwargs):
        raise AssertionError("the arrays were loaded")

    monkeypatch.setattr(np, "load", never)
    failed = refused(**gallery.kwargs(embeddings_path=path))
    (reason,) = reasons(failed, "wide.npz", None)
    assert reason.startswith("'vectors' is of type") and "plain numbers" in reason


def test_embeddings_ids_longer_than_an_item_id_are_refused_from_their_header(tmp_path):
    gallery = make_gallery(tmp_path)
    np.savez(gallery.root / "long.npz", ids=np.array(["101", "x" * 101]), vectors=np.ones((2, 3)))
    failed = refused(**gallery.kwargs(embeddings_path=gallery.root / "long.npz"))
    assert reasons(failed, "long.npz", None) == [
        "'ids' are up to 101 characters long (an item_id has at most 100)"
    ]


# ---------------------------------------------------------------------------- text


def assert_no_query_carried_nul(queries: CaptureQueriesContext):
    assert not [q["sql"] for q in queries.captured_queries if "\x00" in q["sql"]]


def test_nul_characters_are_refused_with_their_line_before_any_query(tmp_path):
    gallery = make_gallery(tmp_path)
    items = default_items()
    items[1]["title"] = "Blue\x00study"
    items[2]["style_tags"] = "calm;\x00night"
    gallery.write_items(items)
    interactions = default_interactions()
    interactions[3]["user_id"] = "u\x002"
    interactions[4]["item_id"] = "10\x002"  # an id PostgreSQL would refuse even to look up
    gallery.write_interactions(interactions)

    with CaptureQueriesContext(connection) as queries:
        failed = refused(**gallery.kwargs())
    assert_no_query_carried_nul(queries)
    assert reasons(failed, "items.csv", 3) == [
        "title: contains a NUL character (U+0000) at position 5"
    ]
    assert reasons(failed, "items.csv", 4) == [
        "style_tags: contains a NUL character (U+0000) at position 6"
    ]
    assert reasons(failed, "interactions.csv", 5) == [
        "user_id: contains a NUL character (U+0000) at position 2"
    ]
    assert reasons(failed, "interactions.csv", 6)[0] == (
        "item_id: contains a NUL character (U+0000) at position 3"
    )  # then: no such item
    assert "items.csv:3: title: contains a NUL character" in str(failed)


def test_unstorable_ids_and_names_of_embeddings_are_refused(tmp_path):
    gallery = make_gallery(tmp_path)
    write_npz(gallery.root / "emb.npz", ["101", "10\ud8002", "10\x003"])
    with CaptureQueriesContext(connection) as queries:
        failed = refused(
            **gallery.kwargs(embeddings_path=gallery.root / "emb.npz", embeddings_name="x\udcff")
        )
    assert_no_query_carried_nul(queries)
    assert reasons(failed, "emb.npz", None) == [
        "row 2: item id contains a lone surrogate (not valid Unicode) (U+D800) at position 3",
        "row 3: item id contains a NUL character (U+0000) at position 3",
    ]
    assert reasons(failed, "--embeddings-name", None) == [
        "contains a lone surrogate (not valid Unicode) (U+DCFF) at position 2"
    ]


# ---------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("20240401", ["8 digits, like a compact date (YYYYMMDD)", "ISO 8601 date (2024-04-01)"]),
        ("20240401T120000", ["not a timestamp", "unix seconds (1711972800)"]),
        ("01/04/2024", ["not a timestamp", "ISO 8601 date"]),
        ("0001-01-01", ["(0001-01-01) is outside the accepted range 1900-01-01T00:00+00:00"]),
        ("5138-11-16T09:46:40Z", ["(5138-11-16) is outside the accepted range"]),
        ("100000000000", ["outside the accepted range", "milliseconds?"]),
    ],
)
def test_bad_timestamps_are_refused_with_the_accepted_forms_or_range(text, words, tmp_path):
    gallery = make_gallery(tmp_path)
    interactions = default_interactions()
    interactions[1]["timestamp"] = text
    gallery.write_interactions(interactions)
    failed = refused(**gallery.kwargs())
    [reason] = reasons(failed, "interactions.csv", 3)
    assert reason.startswith("timestamp: ") and all(word in reason for word in words), reason


def test_listed_at_follows_the_same_rules(tmp_path):
    gallery = make_gallery(tmp_path)
    items = default_items()
    items[0]["listed_at"] = "20240301"
    items[2]["listed_at"] = "1899-12-31"
    gallery.write_items(items)
    failed = refused(**gallery.kwargs())
    assert "8 digits" in reasons(failed, "items.csv", 2)[0]
    assert "outside the accepted range" in reasons(failed, "items.csv", 4)[0]


def test_iso_dates_and_unix_seconds_are_accepted(tmp_path):
    gallery = make_gallery(tmp_path)
    interactions = default_interactions()
    interactions[0]["timestamp"] = "2024-04-01"
    interactions[1]["timestamp"] = "1711972800"
    interactions[2]["timestamp"] = "2024-04-01 12:30:15.25+02:00"
    gallery.write_interactions(interactions)
    report = import_committed(**gallery.kwargs())
    assert report.interactions.created == 5
    times = sorted(Interaction.objects.values_list("timestamp", flat=True))
    assert parse_when("2024-04-01T00:00:00Z") in times
    assert parse_when("2024-04-01T10:30:15.25Z") in times
    assert sum(t.timestamp() == 1711972800 for t in times) == 1


def test_the_accepted_range_comes_from_the_settings(tmp_path, settings):
    settings.VITRINE_EVENT_DATE_MIN = "2024-04-02"
    settings.VITRINE_EVENT_DATE_MAX = "2024-04-03T23:59:59Z"
    gallery = make_gallery(tmp_path)
    failed = refused(**gallery.kwargs())
    outside = {
        p.line
        for p in failed.problems
        if p.file == "interactions.csv" and "outside the accepted range" in p.reason
    }
    assert outside == {2, 3, 6}  # 1 April (ISO, then unix seconds) and 4 April
    assert "2024-04-02T00:00+00:00 to 2024-04-03T23:59+00:00" in str(failed)

    settings.VITRINE_EVENT_DATE_MAX = "next week"
    with pytest.raises(ImproperlyConfigured, match="VITRINE_EVENT_DATE_MAX='next week'"):
        gallery_import(**gallery.kwargs())


# ---------------------------------------------------------------------------- images


def png_claiming(width: int, height: int) -> bytes:
    """A 1-pixel PNG whose header says width × height, as a decompression bomb's does."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:20], data[20:24] = width.to_bytes(4, "big"), height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # IHDR type + data
    return bytes(data)


def test_a_decompression_bomb_is_refused_in_vitrines_terms(tmp_path):
    gallery = make_gallery(tmp_path)
    (gallery.images / "103.png").write_bytes(png_claiming(20_000, 20_000))
    failed = refused(**gallery.kwargs())
    [reason] = reasons(failed, "items.csv", 4)
    assert reason == (
        "image '103.png': too large: 400000000 pixels (limit VITRINE_MAX_IMAGE_PIXELS = "
        "40000000), refused as a decompression bomb"
    )
