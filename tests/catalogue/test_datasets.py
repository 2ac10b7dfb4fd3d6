"""The catalogue as an engine dataset (webapp.catalogue.datasets)."""

import numpy as np
import pytest

from tests.catalogue.import_fixtures import INTERACTION_HEADER, write_csv
from webapp.catalogue.datasets import (
    artwork_times,
    catalogue_artwork_ids,
    catalogue_interactions,
)
from webapp.catalogue.importing import gallery_import, parse_when
from webapp.catalogue.models import Artwork, Collector, Interaction

pytestmark = pytest.mark.django_db


def test_catalogue_interactions_index_and_side_information(small_gallery):
    data = catalogue_interactions()
    assert data.n_items == Artwork.objects.count() and data.n_users == Collector.objects.count()
    consumed = Interaction.objects.filter(kind__in=["purchase", "like"]).count()
    assert len(data) == consumed
    assert (np.diff(data.timestamps) >= 0).all()  # oldest first
    names = data.attribute_names.tolist()
    attributes = data.item_attributes.toarray()
    for position, key in enumerate(data.item_ids[:10]):
        artwork = Artwork.objects.get(pk=int(key))
        row = {names[c] for c in np.flatnonzero(attributes[position])}
        assert f"artist={artwork.artist_id}" in row
        assert {f"style={tag}" for tag in artwork.style_tags} <= row
        if artwork.medium:
            assert f"medium={artwork.medium}" in row
        if artwork.price is not None:
            assert sum(name.startswith("price_band=") for name in row) == 1
    bands = {n for n in names if n.startswith("price_band=")}
    assert bands <= {f"price_band={b}" for b in range(4)} and len(bands) > 1


def test_every_event_carries_its_kind_and_weight_into_the_engine(small_gallery):
    data = catalogue_interactions()
    assert data.kind_names.tolist() == ["like", "purchase"]  # the default: what was consumed
    kinds = data.kind_of_rows()
    rows = Interaction.objects.filter(kind__in=["purchase", "like"]).order_by("timestamp", "id")
    assert kinds.tolist() == list(rows.values_list("kind", flat=True))
    assert len(data.of_kinds(["purchase"])) == rows.filter(kind="purchase").count()
    assert data.weights is not None and (data.weights == 1).all()
    every = catalogue_interactions(kinds=None)
    assert len(every) == Interaction.objects.count() and "view" in every.kind_names


def test_custom_kinds_and_weights_round_trip_from_an_import(tmp_path, media_root):
    path = write_csv(
        tmp_path / "interactions.csv",
        INTERACTION_HEADER,
        [
            {"user_id": "u1", "item_id": "w1", "timestamp": "2024-04-01", "kind": "add_to_cart"},
            {"user_id": "u1", "item_id": "w2", "timestamp": "2024-04-02", "kind": "Enquiry"},
            {"user_id": "u2", "item_id": "w1", "timestamp": "2024-04-03", "weight": "2.5"},
            {"user_id": "u2", "item_id": "w2", "timestamp": "2024-04-04", "kind": "view"},
        ],
    )
    gallery_import(items_path=None, interactions_path=path)
    data = catalogue_interactions(kinds=None)
    assert data.kind_names.tolist() == ["add_to_cart", "enquiry", "purchase", "view"]
    assert data.kind_of_rows().tolist() == ["add_to_cart", "enquiry", "purchase", "view"]
    np.testing.assert_allclose(data.weights, [1.0, 1.0, 2.5, 1.0])
    enquiries = catalogue_interactions(kinds=("enquiry", "add_to_cart"))
    assert enquiries.kind_names.tolist() == ["add_to_cart", "enquiry"] and len(enquiries) == 2


def test_artwork_times_are_listing_and_sale_seconds_in_catalogue_order(tmp_path, media_root):
    items = write_csv(
        tmp_path / "items.csv",
        ["item_id", "title", "artist", "listed_at", "sold"],
        [
            ["a", "A", "Ada", "2024-01-01", ""],
            ["b", "B", "Ada", "2024-01-02", "yes"],  # sold, time unknown
            ["c", "C", "Ada", "2024-01-03", ""],
        ],
    )
    interactions = write_csv(
        tmp_path / "interactions.csv",
        INTERACTION_HEADER,
        [
            {"user_id": "u1", "item_id": "a", "timestamp": "2024-02-01T10:00:00Z"},
            {"user_id": "u1", "item_id": "c", "timestamp": "2024-02-02", "kind": "like"},
        ],
    )
    gallery_import(items_path=items, interactions_path=interactions)
    ids = catalogue_artwork_ids()
    listed, sold = artwork_times(ids)
    by_item = dict(Artwork.objects.values_list("pk", "external_id"))
    assert [by_item[pk] for pk in ids] == ["a", "b", "c"]
    assert listed.tolist() == [parse_when(f"2024-01-0{d}").timestamp() for d in (1, 2, 3)]
    assert sold[0] == parse_when("2024-02-01T10:00:00Z").timestamp()
    assert np.isnan(sold[1:]).all()
    assert listed.dtype == sold.dtype == np.float64
    data = catalogue_interactions()
    assert data.item_ids.tolist() == [str(pk) for pk in ids]  # the same order as the engine
