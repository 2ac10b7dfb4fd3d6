"""The catalogue as an engine dataset (webapp.catalogue.datasets)."""

import numpy as np

from webapp.catalogue.datasets import catalogue_interactions
from webapp.catalogue.models import Artwork, Collector, Interaction


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
