"""Writing a generated gallery into the database (the Django part)."""

from __future__ import annotations

from dataclasses import dataclass

from .model import ProgressCallback
from .simulation import generate_gallery


@dataclass
class DemoGalleryResult:
    artists: int
    artworks: int
    collectors: int
    interactions: dict[str, int]
    cold_start: int
    sold: int


def demo_gallery_steps(n_artworks: int) -> int:
    """Progress units demo_gallery_create reports: draw + store each work, simulate, write."""
    return 2 * n_artworks + 2


def demo_gallery_create(
    *,
    n_artworks: int = 600,
    n_collectors: int = 150,
    seed: int = 7,
    image_size: int = 128,
    progress: ProgressCallback | None = None,
) -> DemoGalleryResult:
    """Generate a gallery and write it in one transaction; image files are removed on failure.

    Raises ValueError when demo rows (the demo-* external ids) are already present.
    """
    # Django is imported here so that the generator stays importable without it.
    from django.core.files.storage import default_storage
    from django.db import transaction

    from webapp.catalogue.models import Artist, Artwork, Collector, Interaction
    from webapp.catalogue.services import artwork_image_save, artwork_sales_apply

    gallery = generate_gallery(n_artworks, n_collectors, seed, image_size, progress=progress)
    saved_files: list[str] = []
    try:
        with transaction.atomic():
            if (
                Artist.objects.filter(external_id__startswith="demo-a").exists()
                or Artwork.objects.filter(external_id__startswith="demo-w").exists()
                or Collector.objects.filter(external_id__startswith="demo-c").exists()
            ):
                raise ValueError("a demo gallery is already in the database")
            artists = Artist.objects.bulk_create(
                [
                    Artist(name=a.name, external_id=a.external_id, hidden_style=a.hidden_style)
                    for a in gallery.artists
                ]
            )
            artworks = Artwork.objects.bulk_create(
                [
                    Artwork(
                        external_id=w.external_id,
                        title=w.title,
                        artist=artists[w.artist_index],
                        year=w.year,
                        medium=w.medium,
                        style_tags=w.style_tags,
                        width_cm=w.width_cm,
                        height_cm=w.height_cm,
                        price=w.price,
                        listed_at=w.listed_at,
                        hidden_style=w.hidden_style,
                    )
                    for w in gallery.artworks
                ]
            )
            for spec, artwork in zip(gallery.artworks, artworks, strict=True):
                artwork_image_save(artwork=artwork, data=spec.image, extension=spec.image_extension)
                saved_files.append(artwork.image.name)
                if progress:
                    progress("saving", 1)
            collectors = Collector.objects.bulk_create(
                [
                    Collector(
                        external_id=c.external_id,
                        name=c.name,
                        joined_at=c.joined_at,
                        hidden_taste=c.hidden_taste,
                    )
                    for c in gallery.collectors
                ]
            )
            Interaction.objects.bulk_create(
                [
                    Interaction(
                        collector=collectors[e.collector_index],
                        artwork=artworks[e.artwork_index],
                        kind=e.kind,
                        timestamp=e.timestamp,
                    )
                    for e in gallery.interactions
                ],
                batch_size=2000,
            )
            # Sold is what the purchase events say, at their time, as for any other gallery.
            artwork_sales_apply(artwork_ids=[artwork.pk for artwork in artworks])
            if progress:
                progress("interactions", 1)
    except BaseException:
        for name in saved_files:
            default_storage.delete(name)
        raise

    kinds: dict[str, int] = {}
    for e in gallery.interactions:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    return DemoGalleryResult(
        artists=len(gallery.artists),
        artworks=len(gallery.artworks),
        collectors=len(gallery.collectors),
        interactions=kinds,
        cold_start=sum(w.is_cold_start for w in gallery.artworks),
        sold=sum(w.is_sold for w in gallery.artworks),
    )
