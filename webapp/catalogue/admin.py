from django.contrib import admin
from django.utils.html import format_html

from webapp.catalogue.models import Artist, Artwork, Collector, FeatureSet, Interaction


def thumbnail(image, size: int = 64) -> str:
    if not image:
        return "—"
    return format_html(
        '<img src="{}" alt="" width="{}" height="{}" style="object-fit:cover">',
        image.url,
        size,
        size,
    )


@admin.register(Artist)
class ArtistAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "artwork_count"]
    search_fields = ["name", "external_id"]

    @admin.display(description="works")
    def artwork_count(self, obj: Artist) -> int:
        return obj.artworks.count()


@admin.register(Artwork)
class ArtworkAdmin(admin.ModelAdmin):
    list_display = ["thumb", "title", "artist", "year", "medium", "price", "listed_at", "is_sold"]
    list_display_links = ["thumb", "title"]
    list_filter = ["is_sold", "medium", "artist"]
    search_fields = ["title", "artist__name", "external_id"]
    readonly_fields = ["preview", "image_checksum"]
    list_select_related = ["artist"]
    date_hierarchy = "listed_at"

    @admin.display(description="")
    def thumb(self, obj: Artwork) -> str:
        return thumbnail(obj.image)

    @admin.display(description="preview")
    def preview(self, obj: Artwork) -> str:
        return thumbnail(obj.image, 256)


@admin.register(Collector)
class CollectorAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "joined_at"]
    search_fields = ["external_id", "name"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["thumb", "collector", "artwork", "kind", "rating", "timestamp", "is_evaluation"]
    list_filter = ["kind", "is_evaluation"]
    search_fields = ["collector__external_id", "artwork__title", "artwork__external_id"]
    list_select_related = ["collector", "artwork"]
    raw_id_fields = ["collector", "artwork"]
    date_hierarchy = "timestamp"

    @admin.display(description="")
    def thumb(self, obj: Interaction) -> str:
        return thumbnail(obj.artwork.image, 48)


@admin.register(FeatureSet)
class FeatureSetAdmin(admin.ModelAdmin):
    list_display = ["name", "source", "n_items", "dim", "size_bytes", "sha256", "created_at"]
    readonly_fields = [f.name for f in FeatureSet._meta.fields]
