"""The gallery: artists, their one-of-a-kind works, collectors and what they did."""

from django.core.validators import RegexValidator
from django.db import models

from webapp.storage import artefact_storage

#: An event kind: a lowercase label, so imports can name kinds of their own ("add_to_cart").
KIND_PATTERN = r"[a-z][a-z0-9_]{0,29}"
KIND_MAX_LENGTH = 30


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
    # True exactly when the work is sold: by a purchase event (then sold_at is its time) or,
    # for an imported work sold outside the recorded history, by the items file alone.
    is_sold = models.BooleanField(default=False, db_index=True)
    sold_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="The first purchase; empty when unsold or the sale time is unknown.",
    )
    # A work listed through the API waits for a worker to describe its image; until then it
    # is recommended nowhere (serving never runs a CNN inside a request).
    features_pending = models.BooleanField(default=False, db_index=True)
    features_error = models.CharField(max_length=300, blank=True)
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
        constraints = [
            # A sale time without the flag would let the work be recommended again.
            models.CheckConstraint(
                condition=models.Q(sold_at__isnull=True) | models.Q(is_sold=True),
                name="catalogue_artwork_sold_at_is_sold",
            )
        ]
        # Checked by the import service (webapp/permissions.py).
        permissions = [("import_gallery", "Can import a gallery from files")]

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
    """One event: who did what (kind, weight) to which work, when."""

    class Kind(models.TextChoices):
        """The kinds the site knows; an import may name others (see KIND_PATTERN)."""

        PURCHASE = "purchase", "purchase"
        LIKE = "like", "like"
        VIEW = "view", "view"
        RATING = "rating", "rating"

    collector = models.ForeignKey(Collector, on_delete=models.CASCADE, related_name="interactions")
    artwork = models.ForeignKey(Artwork, on_delete=models.CASCADE, related_name="interactions")
    # No choices: a gallery's own kinds ("add_to_cart", "enquiry") are events too.
    kind = models.CharField(
        max_length=KIND_MAX_LENGTH,
        default=Kind.PURCHASE,
        validators=[
            RegexValidator(
                f"^{KIND_PATTERN}$",
                "Lowercase letters, digits and _, starting with a letter (30 at most).",
            )
        ],
        help_text="purchase, like, view, rating, or a kind of your own (e.g. add_to_cart)",
    )
    weight = models.FloatField(default=1.0, help_text="how much the event counts; > 0")
    rating = models.FloatField(null=True, blank=True)
    timestamp = models.DateTimeField(db_index=True)
    # Held out for evaluation by the data's owner (the tutorial format's `evaluation` column).
    is_evaluation = models.BooleanField(default=False)

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["collector", "artwork", "kind", "timestamp"], name="unique_interaction"
            ),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0), name="catalogue_interaction_weight_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["collector", "timestamp"]),
            # "Which works were purchased", asked by artworks_available() on every page that
            # recommends: read from this index instead of scanning every event (9 -> 2 ms
            # at 10,000 works and 118,000 events).
            models.Index(fields=["kind", "artwork"]),
        ]

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
    # With the job artefacts, never beside the images (webapp/storage.py).
    file = models.FileField(upload_to="features/", storage=artefact_storage)
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
