"""The shop's side of Vitrine: API clients, what was served to whom (impressions), the
events the shop sent, and the online experiments that compare served methods."""

import uuid

from django.db import models


class ApiClient(models.Model):
    """One caller of the API (the storefront, the newsletter) with its own token.

    Only the token's sha256 is kept: the token is shown once, when staff create it."""

    class Scope(models.TextChoices):
        READ = "read", "read recommendations"
        WRITE = "write", "write events and list works"

    name = models.CharField(max_length=100, unique=True)
    # The first characters of the token, to find its row without scanning every hash and
    # for staff to tell tokens apart; the rest is never stored.
    prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, help_text="read, write")
    requests_per_minute = models.PositiveIntegerField(default=600)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_token", "Can create and revoke API tokens")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Experiment(models.Model):
    """An online comparison of served methods: A/B arms or team-draft interleaving."""

    class Design(models.TextChoices):
        AB = "ab", "A/B: each collector stays in one arm"
        INTERLEAVING = "interleaving", "team-draft interleaving of two rankers"

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        STOPPED = "stopped", "stopped"

    name = models.CharField(max_length=100)
    design = models.CharField(max_length=20, choices=Design.choices, default=Design.AB)
    # [{"method": "vbpr", "share": 0.5}, ...]; the shares are the recorded split.
    arms = models.JSONField()
    # The hash salt: a collector's arm is sha256(salt:collector) mapped onto the shares.
    salt = models.CharField(max_length=32, default="", blank=True)
    # Exploration within each arm: with this probability a list is a uniform random sample
    # of the candidates, so every work has a known, non-zero propensity.
    epsilon = models.FloatField(default=0.0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    winner = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("manage_experiment", "Can start and stop experiments")]
        constraints = [
            # One running experiment decides who sees what; two would fight over a collector.
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="running"),
                name="one_running_experiment",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def methods(self) -> list[str]:
        return [arm["method"] for arm in self.arms]


class Impression(models.Model):
    """One served list: who asked, what policy answered, and what it showed."""

    class Surface(models.TextChoices):
        COLLECTOR = "collector", "a collector's recommendations"
        VISITOR = "visitor", "a visitor's recommendations"
        SIMILAR = "similar", "works similar to a work"
        IMAGE = "image", "search by image"

    request_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client = models.ForeignKey(ApiClient, null=True, on_delete=models.SET_NULL)
    surface = models.CharField(max_length=20, choices=Surface.choices)
    collector = models.ForeignKey(
        "catalogue.Collector", null=True, blank=True, on_delete=models.CASCADE
    )
    session = models.CharField(max_length=100, blank=True)
    method = models.CharField(max_length=100, blank=True)
    job = models.ForeignKey("jobs.TrainingJob", null=True, blank=True, on_delete=models.SET_NULL)
    # {"method", "job", "model", "k", "filters", "epsilon", "explored", "design"}: enough to
    # rebuild the candidates and the ranker's list when estimating another policy.
    policy = models.JSONField(default=dict)
    experiment = models.ForeignKey(Experiment, null=True, blank=True, on_delete=models.SET_NULL)
    arm = models.CharField(max_length=100, blank=True)
    n_candidates = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["collector", "created_at"], name="api_impression_collector"),
            models.Index(fields=["experiment", "created_at"], name="api_impression_experiment"),
        ]

    def __str__(self) -> str:
        return f"{self.surface} {self.request_id}"


class ImpressionItem(models.Model):
    """A work in a served list, at a position, with its score and propensity."""

    impression = models.ForeignKey(Impression, on_delete=models.CASCADE, related_name="items")
    artwork = models.ForeignKey("catalogue.Artwork", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()  # 1 = first
    score = models.FloatField(null=True)  # NULL for a work shown at random (exploration)
    # P(the work is in the list) under the policy that served it: 1 for a deterministic
    # ranker; NULL where the policy's randomisation has no closed form (interleaving).
    propensity = models.FloatField(null=True)
    # Interleaving: "a" or "b" (the ranker that picked it), "both" (their shared top).
    team = models.CharField(max_length=4, blank=True)

    class Meta:
        ordering = ["impression", "position"]
        constraints = [
            models.UniqueConstraint(fields=["impression", "artwork"], name="one_work_per_list")
        ]
        indexes = [models.Index(fields=["artwork", "impression"], name="api_item_artwork")]


class ApiEvent(models.Model):
    """An event the shop sent, under the client's own id (so a retry is not a second
    event), with the interaction it made and the served list it followed from."""

    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT)
    event_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=30)
    artwork = models.ForeignKey("catalogue.Artwork", on_delete=models.CASCADE, related_name="+")
    collector = models.ForeignKey(
        "catalogue.Collector", null=True, blank=True, on_delete=models.CASCADE
    )
    session = models.CharField(max_length=100, blank=True)
    # The training data: a collector's event is an Interaction like any imported one.
    interaction = models.OneToOneField(
        "catalogue.Interaction", null=True, blank=True, on_delete=models.SET_NULL
    )
    impression_item = models.ForeignKey(
        ImpressionItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    # What the client sent, to tell a retry from a different event under a reused id.
    payload = models.JSONField()
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "event_id"], name="one_event_per_client_id")
        ]
        # "Bought through the API since" is asked by every request (webapp/api/candidates.py).
        indexes = [models.Index(fields=["kind", "received_at"], name="api_event_kind_received")]
