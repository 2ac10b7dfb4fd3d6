from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminFileWidget
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from webapp.catalogue.models import Artist, Artwork, Collector, FeatureSet, Interaction
from webapp.catalogue.services import artwork_sales_apply


def image_url(artwork: Artwork, size: int | None = None) -> str:
    """A work's image through the site's login-checked views (no storage URL is served):
    a thumbnail at least ``size`` wide when the image has a checksum, else the original."""
    checksum = artwork.image_checksum or ""
    if size is None or len(checksum) != 64:
        return reverse("curation:artwork-image", args=[artwork.pk])
    return reverse("curation:thumbnail", args=[160 if size <= 160 else 320, checksum])


def thumbnail(artwork: Artwork, size: int = 64) -> str:
    if not artwork.image:
        return "—"
    return format_html(
        '<img src="{}" alt="" width="{}" height="{}" style="object-fit:cover">',
        image_url(artwork, size),
        size,
        size,
    )


class _LinkedFile:
    """What the file widget's template reads: the current file's name and link."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url

    def __str__(self) -> str:
        return self.name


class ArtworkImageWidget(AdminFileWidget):
    """The "Currently:" link of a work's image goes through the login-checked view."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        artwork = getattr(value, "instance", None)
        if context["widget"]["is_initial"] and getattr(artwork, "pk", None):
            context["widget"]["value"] = _LinkedFile(str(value), image_url(artwork))
        return context


@admin.register(Artist)
class ArtistAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "artwork_count"]
    search_fields = ["name", "external_id"]

    @admin.display(description="works")
    def artwork_count(self, obj: Artist) -> int:
        return obj.artworks.count()


class ArtworkForm(forms.ModelForm):
    class Meta:
        model = Artwork
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        # sold_at comes from a purchase event; unticking the flag would list a bought work.
        if self.instance.sold_at is not None and not cleaned.get("is_sold"):
            raise forms.ValidationError(
                f"This work was bought on {self.instance.sold_at:%Y-%m-%d}: it stays sold "
                "while that purchase exists."
            )
        return cleaned


@admin.register(Artwork)
class ArtworkAdmin(admin.ModelAdmin):
    form = ArtworkForm
    formfield_overrides = {models.ImageField: {"widget": ArtworkImageWidget}}
    list_display = [
        "thumb",
        "title",
        "artist",
        "year",
        "medium",
        "price",
        "listed_at",
        "is_sold",
        "sold_at",
    ]
    list_display_links = ["thumb", "title"]
    list_filter = ["is_sold", "medium", "artist"]
    search_fields = ["title", "artist__name", "external_id"]
    readonly_fields = ["preview", "image_checksum", "sold_at"]
    list_select_related = ["artist"]
    date_hierarchy = "listed_at"

    @admin.display(description="")
    def thumb(self, obj: Artwork) -> str:
        return thumbnail(obj)

    @admin.display(description="preview")
    def preview(self, obj: Artwork) -> str:
        return thumbnail(obj, 256)


@admin.register(Collector)
class CollectorAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "joined_at"]
    search_fields = ["external_id", "name"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = [
        "thumb",
        "collector",
        "artwork",
        "kind",
        "weight",
        "rating",
        "timestamp",
        "is_evaluation",
    ]
    list_filter = ["kind", "is_evaluation"]
    search_fields = ["collector__external_id", "artwork__title", "artwork__external_id"]
    list_select_related = ["collector", "artwork"]
    raw_id_fields = ["collector", "artwork"]
    date_hierarchy = "timestamp"

    @admin.display(description="")
    def thumb(self, obj: Interaction) -> str:
        return thumbnail(obj.artwork, 48)

    # A purchase entered, moved or deleted by hand is a sale like any other.
    def save_model(self, request, obj: Interaction, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        artwork_sales_apply(artwork_ids={obj.artwork_id, *_initial_artwork(form)})

    def delete_model(self, request, obj: Interaction) -> None:
        artwork_id = obj.artwork_id
        super().delete_model(request, obj)
        artwork_sales_apply(artwork_ids=[artwork_id])

    def delete_queryset(self, request, queryset) -> None:
        artwork_ids = set(queryset.values_list("artwork_id", flat=True))
        super().delete_queryset(request, queryset)
        artwork_sales_apply(artwork_ids=artwork_ids)


def _initial_artwork(form) -> list[int]:
    """The artwork an edited interaction had before, so its sale is recomputed too."""
    initial = form.initial.get("artwork") if form is not None else None
    return [int(initial)] if initial else []


@admin.register(FeatureSet)
class FeatureSetAdmin(admin.ModelAdmin):
    list_display = ["name", "source", "n_items", "dim", "size_bytes", "sha256", "created_at"]
    # The file is shown by name only: feature sets live in the artefact storage, which
    # has no URL (webapp/storage.py).
    exclude = ["file"]
    readonly_fields = [
        "stored_file" if f.name == "file" else f.name for f in FeatureSet._meta.fields
    ]

    @admin.display(description="file")
    def stored_file(self, obj: FeatureSet) -> str:
        return obj.file.name
