"""Curator pages. Views read through selectors and write through services, nothing more."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webapp.catalogue.models import Collector, Interaction
from webapp.jobs.methods import trainable_models
from webapp.jobs.models import TrainingJob
from webapp.jobs.selectors import trained_methods, training_job_list
from webapp.jobs.services import JobError, default_training_jobs_create, training_job_create
from webapp.jobs.serving import collector_consumed, collector_recommendations

RECOMMENDATIONS_SHOWN = 20


@login_required
def collector_list(request):
    collectors = Collector.objects.annotate(
        purchases=Count("interactions", filter=Q(interactions__kind=Interaction.Kind.PURCHASE)),
        likes=Count("interactions", filter=Q(interactions__kind=Interaction.Kind.LIKE)),
    ).order_by("external_id")
    query = request.GET.get("q", "").strip()
    if query:
        collectors = collectors.filter(Q(name__icontains=query) | Q(external_id__icontains=query))
    page = Paginator(collectors, 50).get_page(request.GET.get("page"))
    return render(request, "curation/collector_list.html", {"page": page, "query": query})


@login_required
def collector_detail(request, pk: int):
    collector = get_object_or_404(Collector, pk=pk)
    methods = trained_methods()
    method = request.GET.get("method") or ("visrank" if "visrank" in methods else None)
    if method not in methods:
        method = methods[0] if methods else None
    recommendations = (
        collector_recommendations(collector=collector, method=method, k=RECOMMENDATIONS_SHOWN)
        if method
        else None
    )
    return render(
        request,
        "curation/collector_detail.html",
        {
            "collector": collector,
            "consumed": collector_consumed(collector=collector),
            "methods": methods,
            "method": method,
            "recommendations": recommendations,
        },
    )


@login_required
def job_list(request):
    page = Paginator(training_job_list(), 30).get_page(request.GET.get("page"))
    return render(request, "curation/job_list.html", {"page": page, "methods": trainable_models()})


@staff_member_required
@require_POST
def job_train(request):
    try:
        if request.POST.get("defaults"):
            jobs = default_training_jobs_create(user=request.user)
            messages.success(request, f"Queued {len(jobs)} default trainings.")
            return redirect("curation:job-list")
        job = training_job_create(method=request.POST.get("method", ""), user=request.user)
    except JobError as exc:
        messages.error(request, str(exc))
        return redirect("curation:job-list")
    messages.success(request, f"Queued training of {job.method}.")
    return redirect("curation:job-detail", pk=job.pk)


@login_required
def job_detail(request, pk: int):
    job = get_object_or_404(training_job_list(), pk=pk)
    return render(request, "curation/job_detail.html", {"job": job})


@login_required
def job_status(request, pk: int):
    """The live part of the job page, polled by htmx until the job ends."""
    job = get_object_or_404(TrainingJob, pk=pk)
    return render(request, "curation/_job_status.html", {"job": job})
