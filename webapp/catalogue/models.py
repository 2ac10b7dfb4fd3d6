"""The gallery: artists, their one-of-a-kind works, collectors and what they did."""

from django.db import models


class Artist(models.Model):
    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    # Demo gallery only: the latent style the generator gave this artist.
    hidden_style = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Artwork(models.Model):
    external_id = models.CharField(
        max_length=100, unique=True, help_text="The item id used by imports and the engine."
    )
    title = models.CharField(max_length=300)
    artist = models.ForeignKey(Artist, on_delete=models.PROTECT, related_name="artworks")
    year = models.PositiveIntegerField(null=True, blank=True)
    medium = models.CharField(max_length=100, blank=True)
    style_tags = models.JSONField(default=list, blank=True)
    width_cm = models.FloatField(null=True, blank=True)
    height_cm = models.FloatField(null=True, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    image = models.ImageField(upload_to="artworks/", blank=True)
    image_checksum = models.CharField(max_length=64, blank=True, help_text="sha256 of the file")
    listed_at = models.DateTimeField(db_index=True)
    is_sold = models.BooleanField(default=False, db_index=True)
    # Demo gallery only: the latent visual style vector behind the image (for the oracle).
    hidden_style = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-listed_at", "id"]
        indexes = [
            models.Index(fields=["is_sold", "listed_at"]),
            # The curators' catalogue filters by these.
            models.Index(fields=["medium"], name="catalogue_artwork_medium"),
            models.Index(fields=["price"], name="catalogue_artwork_price"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.artist})"

    @property
    def size_label(self) -> str:
        if self.width_cm and self.height_cm:
            return f"{self.width_cm:g} × {self.height_cm:g} cm"
        return ""


class Collector(models.Model):
    """A customer of the gallery; not a login account."""

    external_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    # Demo gallery only: the hidden taste over latent styles the generator drew.
    hidden_taste = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["external_id"]

    def __str__(self) -> str:
        return self.name or f"Collector {self.external_id}"


class Interaction(models.Model):
    class Kind(models.TextChoices):
        PURCHASE = "purchase", "purchase"
        LIKE = "like", "like"
        VIEW = "view", "view"
        RATING = "rating", "rating"

    collector = models.ForeignKey(Collector, on_delete=models.CASCADE, related_name="interactions")
    artwork = models.ForeignKey(Artwork, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PURCHASE)
    rating = models.FloatField(null=True, blank=True)
    timestamp = models.DateTimeField(db_index=True)
    # Held out for evaluation by the data's owner (the tutorial format's `evaluation` column).
    is_evaluation = models.BooleanField(default=False)

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["collector", "artwork", "kind", "timestamp"], name="unique_interaction"
            )
        ]
        indexes = [models.Index(fields=["collector", "timestamp"])]

    def __str__(self) -> str:
        return f"{self.collector} {self.kind} {self.artwork_id} at {self.timestamp:%Y-%m-%d}"


class FeatureSet(models.Model):
    """Item vectors from one extractor (or an import), stored as an .npz artefact."""

    name = models.CharField(max_length=100, help_text="extractor name, e.g. 'handcrafted'")
    source = models.CharField(max_length=300, blank=True, help_text="weights or file it came from")
    # What produced the vectors, so a work listed later is described the same way:
    # {"extractor": .., "key": .., "weights": {...}, "image_size": .., "l2": .., "pca_dim": ..}
    # (empty for imported embeddings, which cannot describe new works).
    params = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="features/")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(default=0)
    dim = models.PositiveIntegerField()
    n_items = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"{self.name} ({self.n_items} × {self.dim})"

    @property
    def weights_label(self) -> str:
        weights = self.params.get("weights") or {}
        return weights.get("label", "") or ("no weights" if self.params else "imported")
