"""The jobs in the admin. Each action is hidden from, and refused to, a user without its
permission (allowed_permissions -> has_<name>_permission), and the service it calls checks
the same permission again."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_POST

from webapp import permissions
from webapp.jobs.methods import extractors, trainable_models, validate_method
from webapp.jobs.models import Artefact, TrainingJob
from webapp.jobs.services import (
    JobError,
    default_training_jobs_create,
    training_job_activate,
    training_job_cancel,
    training_job_create,
    training_job_delete,
    training_job_requeue,
    training_job_rerun,
)


class TrainingJobAddForm(forms.ModelForm):
    """Adding a job in the admin queues it: method from the engine registry, params optional."""

    method = forms.ChoiceField()

    class Meta:
        model = TrainingJob
        fields = ["kind", "method", "params"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = sorted(set(trainable_models()) | set(extractors()))
        self.fields["method"].choices = [(n, n) for n in names]
        self.fields["params"].required = False

    def clean(self):
        cleaned = super().clean()
        try:
            validate_method(kind=cleaned.get("kind", ""), method=cleaned.get("method", ""))
        except JobError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return cleaned


class ArtefactInline(admin.TabularInline):
    model = Artefact
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "path", "size", "sha256", "created_at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "method",
        "status",
        "progress_percent",
        "metric_summary",
        "is_active",
        "attempts",
        "created_at",
        "finished_at",
        "worker",
    ]
    list_filter = ["status", "kind", "method", "is_active", "queue"]
    actions = [
        "run_again",
        "train_default_methods",
        "cancel",
        "requeue",
        "activate",
        "delete_with_artefacts",
    ]

    change_list_template = "admin/jobs/trainingjob/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.train_defaults_view))
        return [
            path("train-defaults/", view, name="jobs_trainingjob_train_defaults"),
            *super().get_urls(),
        ]

    def train_defaults_view(self, request):
        if not self.has_train_permission(request):
            messages.error(request, f"You may not start training: it needs {permissions.TRAIN}.")
        else:
            jobs = default_training_jobs_create(user=request.user)
            self.message_user(request, f"Queued {len(jobs)} default trainings.", messages.SUCCESS)
        return redirect("admin:jobs_trainingjob_changelist")

    # One has_<name>_permission per action name in allowed_permissions.
    def has_train_permission(self, request) -> bool:
        return request.user.has_perm(permissions.TRAIN)

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm(permissions.CANCEL)

    def has_requeue_permission(self, request) -> bool:
        return request.user.has_perm(permissions.REQUEUE)

    def has_serve_permission(self, request) -> bool:
        return request.user.has_perm(permissions.SERVE)

    def has_add_permission(self, request) -> bool:
        return self.has_train_permission(request)  # adding a job queues it

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status == TrainingJob.Status.RUNNING:
            return False  # cancel it first; its files are still being written
        return request.user.has_perm(permissions.DELETE)

    def get_inlines(self, request, obj):
        return [ArtefactInline] if obj is not None else []  # a new job has no files yet

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TrainingJobAddForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in TrainingJob._meta.fields]  # activate with the action

    def save_model(self, request, obj, form, change):
        if change:
            return  # a job's record is written by the worker, never edited by hand
        with transaction.atomic():
            job = training_job_create(
                kind=obj.kind, method=obj.method, params=obj.params or {}, user=request.user
            )
        obj.pk = job.pk
        obj.refresh_from_db()

    @admin.display(description="Recall@20 / NDCG@20")
    def metric_summary(self, obj: TrainingJob) -> str:
        recall, ndcg = obj.metrics.get("Recall@20"), obj.metrics.get("NDCG@20")
        return "—" if recall is None else f"{recall:.3f} / {ndcg:.3f}"

    @admin.action(description="Train the selected jobs' methods again", permissions=["train"])
    def run_again(self, request, queryset):
        jobs = [training_job_rerun(job=job, user=request.user) for job in queryset]
        self.message_user(request, f"Queued {len(jobs)} jobs.", messages.SUCCESS)

    @admin.action(description="Train all default methods", permissions=["train"])
    def train_default_methods(self, request, queryset):
        jobs = default_training_jobs_create(user=request.user)
        self.message_user(request, f"Queued {', '.join(j.method for j in jobs)}.", messages.SUCCESS)

    def _each(self, request, queryset, action, verb: str) -> None:
        done, refused = [], []
        for job in queryset:
            pk = job.pk  # a deleted job's pk is None afterwards
            try:
                with transaction.atomic():
                    action(job=job, user=request.user)
                done.append(f"#{pk}")
            except (JobError, PermissionDenied) as error:
                refused.append(str(error))
        if done:
            self.message_user(request, f"{verb} {', '.join(done)}.", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)

    @admin.action(description="Cancel the selected jobs", permissions=["cancel"])
    def cancel(self, request, queryset):
        self._each(request, queryset, training_job_cancel, "Cancelled")

    @admin.action(
        description="Requeue the selected failed or cancelled jobs", permissions=["requeue"]
    )
    def requeue(self, request, queryset):
        self._each(request, queryset, training_job_requeue, "Requeued")

    @admin.action(
        description="Serve the selected job's model for its method", permissions=["serve"]
    )
    def activate(self, request, queryset):
        self._each(request, queryset, training_job_activate, "Now serving")

    @admin.action(description="Delete the selected jobs and their files", permissions=["delete"])
    def delete_with_artefacts(self, request, queryset):
        self._each(request, queryset, training_job_delete, "Deleted")

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Django's bulk delete would leave the jobs' files behind.
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj):
        training_job_delete(job=obj, user=request.user)
