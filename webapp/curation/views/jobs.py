"""Training jobs: the list, a form per method, a job's page with live progress, and the
staff actions (cancel, requeue, serve, delete).

Who may act is the services' question (they raise PermissionDenied, which Django answers
with templates/403.html); the form page, which calls no service, asks the same check.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webapp import permissions
from webapp.jobs.forms import MethodForm
from webapp.jobs.methods import (
    extractor_choices,
    extractors,
    method_description,
    method_reference,
    method_references,
    methods_first,
    trainable_models,
)
from webapp.jobs.models import TrainingJob
from webapp.jobs.selectors import training_job_list
from webapp.jobs.services import (
    JobError,
    default_training_jobs_create,
    training_job_activate,
    training_job_cancel,
    training_job_create,
    training_job_delete,
    training_job_requeue,
)

ACTIONS = {
    "cancel": (training_job_cancel, "Cancel requested for"),
    "requeue": (training_job_requeue, "Queued again:"),
    "activate": (training_job_activate, "Now serving"),
    "delete": (training_job_delete, "Deleted"),
}


@login_required
def job_list(request):
    from webapp.jobs.reaping import jobs_reap

    # A page view is a cheap moment to notice a lost worker; outside a transaction, so a
    # quiet reap takes no write lock.
    jobs_reap()
    page = Paginator(training_job_list(), 30).get_page(request.GET.get("page"))
    # Methods first, then the reference lines, each labelled: none is a default choice.
    methods = [(m, method_description(m)) for m in methods_first(trainable_models())]
    return render(
        request,
        "curation/job_list.html",
        {
            "page": page,
            "methods": methods,
            "references": method_references(),
            "extractors": extractor_choices(),
        },
    )


def request_key(request) -> str:
    """The form's one-time key (see the request_key_field tag); anything odd is ignored."""
    key = request.POST.get("request_key", "")
    return key if len(key) == 32 and all(c in "0123456789abcdef" for c in key) else ""


@login_required
def job_new(request, kind: str, method: str):
    """A form per method, its fields from the registry's default hyperparameters."""
    permissions.permission_require(user=request.user, permission=permissions.TRAIN)
    if kind not in TrainingJob.Kind.values:
        raise Http404("unknown job kind")
    allowed = trainable_models() if kind == TrainingJob.Kind.TRAIN else extractors()
    if method not in allowed:
        raise Http404("unknown method")
    form = MethodForm(request.POST or None, kind=kind, method=method)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                job = training_job_create(
                    kind=kind,
                    method=method,
                    params=form.params(),
                    user=request.user,
                    request_key=request_key(request),
                )
        except JobError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Queued {job.method} (job #{job.pk}).")
            return redirect("curation:job-detail", pk=job.pk)
    return render(
        request,
        "curation/job_new.html",
        {
            "form": form,
            "kind": kind,
            "method": method,
            "description": method_description(method) if kind == TrainingJob.Kind.TRAIN else "",
            "reference": method_reference(method) if kind == TrainingJob.Kind.TRAIN else "",
        },
    )


@login_required
@require_POST
def job_train(request):
    """One click: a method with its defaults, or every default method."""
    try:
        with transaction.atomic():
            if request.POST.get("defaults"):
                jobs = default_training_jobs_create(
                    user=request.user, request_key=request_key(request)
                )
                messages.success(request, f"Queued {len(jobs)} default trainings.")
                return redirect("curation:job-list")
            job = training_job_create(
                method=request.POST.get("method", ""),
                user=request.user,
                request_key=request_key(request),
            )
    except JobError as exc:
        messages.error(request, str(exc))
        return redirect("curation:job-list")
    job.refresh_from_db()
    if job.status == TrainingJob.Status.FAILED:  # the broker refused it
        messages.error(request, f"Job #{job.pk} could not be queued: {job.error}")
    else:
        messages.success(request, f"Queued training of {job.method}.")
    return redirect("curation:job-detail", pk=job.pk)


@login_required
@require_POST
def job_action(request, pk: int, action: str):
    if action not in ACTIONS:
        raise Http404("unknown action")
    job = get_object_or_404(TrainingJob, pk=pk)
    service, verb = ACTIONS[action]
    try:
        with transaction.atomic():
            service(job=job, user=request.user)
    except JobError as error:
        messages.error(request, str(error))
        return redirect("curation:job-detail", pk=pk)
    if action == "delete":
        messages.success(request, f"Deleted job #{pk} and its files.")
        return redirect("curation:job-list")
    messages.success(request, f"{verb} job #{pk}.")
    return redirect("curation:job-detail", pk=pk)


@login_required
def job_detail(request, pk: int):
    from webapp.jobs.training import SERVE_EVALUATED, serve_mode, stages_in_words

    job = get_object_or_404(training_job_list(), pk=pk)
    evaluated = serve_mode(job) == SERVE_EVALUATED
    return render(
        request,
        "curation/job_detail.html",
        {
            "job": job,
            "reference": method_reference(job.method) if job.kind == TrainingJob.Kind.TRAIN else "",
            "serve_plan": "the evaluated model (VITRINE_SERVE_MODEL=evaluated)"
            if evaluated
            else "to be refitted on all events for the epoch count validation chooses",
            "time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
            "stages": stages_in_words(job),
        },
    )


@login_required
def job_status(request, pk: int):
    """The live part of the job page, polled by htmx until the job ends."""
    job = get_object_or_404(TrainingJob, pk=pk)
    return render(request, "curation/_job_status.html", {"job": job})
