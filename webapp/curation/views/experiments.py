"""Online experiments: the list, a form to start one, each one's rates over time with
confidence intervals and a significance test, and stopping it with its winner activated.

Who may start or stop one is the services' question (PermissionDenied -> 403 page)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webapp import permissions
from webapp.api.experiment_stats import experiment_stats
from webapp.api.experiments import experiment_running, experiment_start, experiment_stop
from webapp.api.models import Experiment
from webapp.curation.selectors.experiments import rate_chart
from webapp.jobs.methods import method_reference, methods_first
from webapp.jobs.selectors import trained_methods


def _served_methods() -> list[str]:
    return [m for m in methods_first(trained_methods()) if not method_reference(m)]


@login_required
def experiment_list(request):
    return render(
        request,
        "curation/experiment_list.html",
        {
            "experiments": Experiment.objects.all()[:50],
            "running": experiment_running(),
            "methods": _served_methods(),
            "designs": Experiment.Design.choices,
            "may_manage": request.user.has_perm(permissions.EXPERIMENTS),
        },
    )


@login_required
@require_POST
def experiment_new(request):
    try:
        shares = [float(s) for s in request.POST.getlist("share") if s.strip()]
        epsilon = float(request.POST.get("epsilon") or 0)
    except ValueError:
        messages.error(request, "Shares and exploration are numbers.")
        return redirect("curation:experiment-list")
    try:
        experiment = experiment_start(
            user=request.user,
            name=request.POST.get("name", ""),
            methods=request.POST.getlist("methods"),
            design=request.POST.get("design", Experiment.Design.AB),
            shares=shares or None,
            epsilon=epsilon,
        )
    except ValidationError as error:
        for problems in error.message_dict.values():
            for problem in problems:
                messages.error(request, problem)
        return redirect("curation:experiment-list")
    messages.success(request, f"Started {experiment}.")
    return redirect("curation:experiment-detail", pk=experiment.pk)


@login_required
def experiment_detail(request, pk: int):
    experiment = get_object_or_404(Experiment, pk=pk)
    stats = experiment_stats(experiment=experiment)
    return render(
        request,
        "curation/experiment_detail.html",
        {
            "experiment": experiment,
            "stats": stats,
            "click_chart": rate_chart(stats, "clicked"),
            "buy_chart": rate_chart(stats, "bought"),
            "may_manage": request.user.has_perm(permissions.EXPERIMENTS),
            "interleaving": experiment.design == Experiment.Design.INTERLEAVING,
        },
    )


@login_required
@require_POST
def experiment_end(request, pk: int):
    experiment = get_object_or_404(Experiment, pk=pk)
    winner = request.POST.get("winner", "")
    try:
        experiment_stop(user=request.user, experiment=experiment, winner=winner)
    except ValidationError as error:
        for problems in error.message_dict.values():
            for problem in problems:
                messages.error(request, problem)
        return redirect("curation:experiment-detail", pk=pk)
    if winner:
        messages.success(request, f"Stopped {experiment}; the API now serves {winner} by default.")
    else:
        messages.success(request, f"Stopped {experiment}.")
    return redirect("curation:experiment-detail", pk=pk)
