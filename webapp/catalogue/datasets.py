"""The catalogue as an engine dataset. recengine never imports Django, so the bridge lives here."""

from collections.abc import Sequence

import numpy as np

from webapp.catalogue.models import Artwork, Collector, FeatureSet, Interaction
from webapp.catalogue.selectors import feature_set_load

# What a collector "consumed": a purchase or a like says they wanted the work; a view does not.
CONSUMED_KINDS = (Interaction.Kind.PURCHASE, Interaction.Kind.LIKE)


def item_key(artwork_id: int) -> str:
    return str(artwork_id)


def user_key(collector_id: int) -> str:
    return str(collector_id)


def catalogue_interactions(
    *,
    kinds: Sequence[str] | None = CONSUMED_KINDS,
    feature_set: FeatureSet | None = None,
    with_hidden_tastes: bool = False,
    with_images: bool = False,
):
    """Build a recengine.Interactions of the whole catalogue (every artwork, sold or not).

    The events of ``kinds`` (None: every kind, views and an import's own kinds too), oldest
    first, each with its kind (``kind_names``/``kinds``) and weight, so the engine can tell
    a sale from a like. Engine ids are primary keys as strings. Item features, when given,
    follow the catalogue order; an artwork the feature set lacks raises, since a silent zero
    vector would rank it as nonsense. Sale and listing times: ``artwork_times``.
    """
    from recengine import Interactions

    artwork_ids = catalogue_artwork_ids()
    collector_ids = list(Collector.objects.order_by("id").values_list("id", flat=True))
    events = (
        Interaction.objects.all()
        if kinds is None
        else Interaction.objects.filter(kind__in=list(kinds))
    )
    rows = list(
        events.order_by("timestamp", "id").values_list(
            "collector_id", "artwork_id", "timestamp", "rating", "kind", "weight"
        )
    )
    ratings = None
    if rows and all(r[3] is not None for r in rows):
        ratings = np.asarray([r[3] for r in rows], dtype=np.float32)
    item_features = None
    if feature_set is not None:
        ids, vectors = feature_set_load(feature_set=feature_set)
        position = {int(pk): row for row, pk in enumerate(ids)}
        missing = [pk for pk in artwork_ids if pk not in position]
        if missing:
            raise ValueError(
                f"feature set {feature_set} lacks {len(missing)} artworks "
                f"(first: id {missing[0]}); extract features again"
            )
        item_features = vectors[[position[pk] for pk in artwork_ids]]
    user_latent = item_latent = None
    if with_hidden_tastes:
        tastes = dict(Collector.objects.values_list("id", "hidden_taste"))
        styles = dict(Artwork.objects.values_list("id", "hidden_style"))
        if all(tastes.get(pk) for pk in collector_ids) and all(
            styles.get(pk) for pk in artwork_ids
        ):
            user_latent = np.asarray([tastes[pk] for pk in collector_ids], dtype=np.float32)
            item_latent = np.asarray([styles[pk] for pk in artwork_ids], dtype=np.float32)
    return Interactions.from_records(
        user_ids=[user_key(r[0]) for r in rows],
        item_ids=[item_key(r[1]) for r in rows],
        timestamps=np.asarray([r[2].timestamp() for r in rows], dtype=np.float64),
        all_user_ids=[user_key(pk) for pk in collector_ids],
        all_item_ids=[item_key(pk) for pk in artwork_ids],
        ratings=ratings,
        kinds=[r[4] for r in rows],
        weights=np.asarray([r[5] for r in rows], dtype=np.float32),
        item_images=artwork_image_paths(artwork_ids) if with_images else None,
        item_features=item_features,
        user_latent=user_latent,
        item_latent=item_latent,
        **artwork_attributes(artwork_ids),
    )


def catalogue_artwork_ids() -> list[int]:
    """Artwork primary keys in catalogue (engine item) order."""
    return list(Artwork.objects.order_by("id").values_list("id", flat=True))


def artwork_times(artwork_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(listed_at, sold_at) of these works as unix seconds, each (len(artwork_ids),) float64
    in the given order (catalogue_artwork_ids() for the engine's items).

    sold_at is the first purchase; nan when the work is unsold or was sold at a time the
    catalogue does not know (an imported ``sold`` without a purchase: still ``is_sold``).
    """
    # The whole catalogue in one scan: an IN list of every id would hit SQLite's limit.
    times = {
        pk: (listed_at, sold_at)
        for pk, listed_at, sold_at in Artwork.objects.values_list(
            "pk", "listed_at", "sold_at"
        ).iterator(chunk_size=2000)
    }
    missing = [pk for pk in artwork_ids if pk not in times]
    if missing:
        raise ValueError(
            f"{len(missing)} artwork ids are not in the catalogue (first: {missing[0]})"
        )
    listed = np.full(len(artwork_ids), np.nan)
    sold = np.full(len(artwork_ids), np.nan)
    for position, pk in enumerate(artwork_ids):
        listed_at, sold_at = times[pk]
        listed[position] = listed_at.timestamp()
        if sold_at is not None:
            sold[position] = sold_at.timestamp()
    return listed, sold


PRICE_BANDS = 4  # quartiles of the listed prices


def artwork_attributes(artwork_ids: list[int]) -> dict:
    """Side information as a binary (n_items, n_attributes) matrix for the engine:
    artist, medium, each style tag, and the price band (quartile), one column per value."""
    import scipy.sparse as sp

    rows = Artwork.objects.values_list("id", "artist_id", "medium", "style_tags", "price")
    by_id = {row[0]: row for row in rows}
    prices = np.asarray([float(r[4]) for r in rows if r[4] is not None])
    edges = np.quantile(prices, np.linspace(0, 1, PRICE_BANDS + 1)[1:-1]) if len(prices) else []
    names: dict[str, int] = {}
    entries: list[tuple[int, int]] = []
    for position, pk in enumerate(artwork_ids):
        _, artist, medium, tags, price = by_id[pk]
        values = [f"artist={artist}"]
        if medium:
            values.append(f"medium={medium}")
        values += [f"style={tag}" for tag in (tags or [])]
        if price is not None:
            values.append(f"price_band={int(np.searchsorted(edges, float(price), side='right'))}")
        entries += [(position, names.setdefault(value, len(names))) for value in values]
    if not names:
        return {}
    matrix = sp.csr_matrix(
        (np.ones(len(entries), dtype=np.float32), tuple(np.asarray(entries).T)),
        shape=(len(artwork_ids), len(names)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return {"item_attributes": matrix, "attribute_names": list(names)}


def has_hidden_tastes() -> bool:
    return Collector.objects.exclude(hidden_taste=None).exists()


def artwork_image_paths(artwork_ids: list[int]) -> list[str]:
    """Local image paths in catalogue order ("" for a work without an image)."""
    from webapp.catalogue.selectors import artwork_image_files

    artworks = Artwork.objects.in_bulk(artwork_ids)
    with_image = [artworks[pk] for pk in artwork_ids if artworks[pk].image]
    paths, _ = artwork_image_files(with_image)
    by_id = {a.pk: path for a, path in zip(with_image, paths, strict=True)}
    return [by_id.get(pk, "") for pk in artwork_ids]
