"""A job is a row: what to run, where it stands, and what it produced."""

from django.db import models


class TrainingJob(models.Model):
    class Kind(models.TextChoices):
        TRAIN = "train", "train and evaluate a model"
        EXTRACT = "extract", "extract features"

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TRAIN)
    method = models.CharField(
        max_length=100, help_text="engine model name, or extractor name for feature jobs"
    )
    params = models.JSONField(default=dict, blank=True, help_text="hyperparameters")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    progress_message = models.CharField(max_length=300, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    feature_set = models.ForeignKey(
        "catalogue.FeatureSet", null=True, blank=True, on_delete=models.SET_NULL
    )
    artefact_path = models.CharField(max_length=300, blank=True)
    artefact_sha256 = models.CharField(max_length=64, blank=True)
    artefact_size = models.BigIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.method} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress_percent(self) -> int:
        return round(100 * max(0.0, min(1.0, self.progress)))

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
