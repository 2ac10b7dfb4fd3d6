"""A job is a row: what to run, where it stands, what it trained on and what it produced."""

from django.db import models
from django.db.models import Q


class TrainingJob(models.Model):
    class Kind(models.TextChoices):
        TRAIN = "train", "train and evaluate a model"
        EXTRACT = "extract", "extract features"

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TRAIN)
    method = models.CharField(
        max_length=100, help_text="engine model name, or extractor name for feature jobs"
    )
    params = models.JSONField(default=dict, blank=True, help_text="hyperparameters")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    queue = models.CharField(max_length=20, blank=True, help_text="Celery queue it was sent to")
    task_id = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # The model this method serves; at most one per method.
    is_active = models.BooleanField(default=False)

    progress = models.FloatField(default=0.0, help_text="0 to 1")
    progress_message = models.CharField(max_length=300, blank=True)
    seconds_left = models.FloatField(null=True, blank=True)
    # One entry per epoch: {"epoch", "loss", "metric", "metric_name", "seconds"}.
    history = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    log_tail = models.TextField(blank=True)

    # What it trained on: {"id", "sha256", "interactions", "users", "items", "feature_set"}.
    snapshot = models.JSONField(default=dict, blank=True)
    feature_set = models.ForeignKey(
        "catalogue.FeatureSet", null=True, blank=True, on_delete=models.SET_NULL
    )
    visual_source = models.CharField(
        max_length=300, blank=True, help_text="backbone and weights behind the features"
    )
    device = models.CharField(max_length=40, blank=True)
    # Where a resumed attempt picks up: {"evaluated": true, "serve": "refit" | "evaluated",
    # "best_epoch": n} once test metrics are in.
    state = models.JSONField(default=dict, blank=True)
    # What the served model is, in words: the evaluated one, or a refit and how it was run.
    served_model = models.CharField(max_length=300, blank=True)

    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="seconds per stage")
    peak_memory_mb = models.FloatField(null=True, blank=True)
    gpu_peak_memory_mb = models.FloatField(null=True, blank=True)

    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The key the form carried: a double click (two POSTs with one key) makes one job.
    request_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["method"], condition=Q(is_active=True), name="one_active_job_per_method"
            )
        ]
        # Checked by the services (webapp/permissions.py); deleting uses delete_trainingjob.
        permissions = [
            ("train_job", "Can queue training and feature-extraction jobs"),
            ("cancel_job", "Can cancel a job"),
            ("requeue_job", "Can requeue a failed or cancelled job"),
            ("serve_job", "Can choose the model served for a method"),
        ]

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

    @property
    def model_artefact(self) -> "Artefact | None":
        return self.artefacts.filter(kind=Artefact.Kind.MODEL).first()

    @property
    def evaluation_model_artefact(self) -> "Artefact | None":
        return self.artefacts.filter(kind=Artefact.Kind.EVALUATION_MODEL).first()


class Artefact(models.Model):
    """A file (or folder) a job wrote through Django storage, with its checksum and size.

    A row exists only once every byte is written, so nothing half-written is ever named.
    """

    class Kind(models.TextChoices):
        MODEL = "model", "model (config + weights)"
        CHECKPOINT = "checkpoint", "training checkpoint"
        EMBEDDINGS = "embeddings", "item and user vectors"
        INDEX = "index", "faiss index"
        EVALUATION = "evaluation", "per-event test metrics"
        # The model the test metrics measured (fitted on the split's train part): the page
        # that shows a held-out purchase asks it, since the served model may have seen it.
        EVALUATION_MODEL = "evaluation_model", "evaluation model (train part only)"

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="artefacts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    path = models.CharField(max_length=300, help_text="storage path (a folder for a model)")
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["job", "kind"], name="one_artefact_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of job #{self.job_id}"
