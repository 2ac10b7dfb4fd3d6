"""Online experiments: staff start one between served methods, the API assigns each
collector (or session) to an arm by a salted hash, and stopping one can make its winner
what the API serves by default."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from webapp import permissions
from webapp.api.lists import ListError, job_for
from webapp.api.models import Experiment


def experiment_running() -> Experiment | None:
    return Experiment.objects.filter(status=Experiment.Status.RUNNING).first()


def experiment_start(
    *,
    user,
    name: str,
    methods: list[str],
    design: str = Experiment.Design.AB,
    shares: list[float] | None = None,
    epsilon: float = 0.0,
    salt: str = "",
) -> Experiment:
    permissions.permission_require(user=user, permission=permissions.EXPERIMENTS)
    methods = [m.strip() for m in methods if m and m.strip()]
    if len(methods) < 2 or len(set(methods)) != len(methods):
        raise ValidationError({"methods": "choose two or more different served methods"})
    for method in methods:
        try:
            job_for(method)
        except ListError as error:
            raise ValidationError({"methods": str(error)}) from None
    if design not in Experiment.Design.values:
        raise ValidationError({"design": f"one of {', '.join(Experiment.Design.values)}"})
    if design == Experiment.Design.INTERLEAVING and len(methods) != 2:
        raise ValidationError({"methods": "team-draft interleaving compares exactly two"})
    shares = shares or [1.0] * len(methods)
    if len(shares) != len(methods) or any(s <= 0 for s in shares):
        raise ValidationError({"shares": "one positive share per method"})
    if not 0.0 <= epsilon <= 0.5:
        raise ValidationError({"epsilon": "exploration between 0 and 0.5"})
    if design == Experiment.Design.INTERLEAVING and epsilon:
        raise ValidationError({"epsilon": "interleaving does not explore"})
    total = float(sum(shares))
    arms = [
        {"method": m, "share": round(s / total, 6)} for m, s in zip(methods, shares, strict=True)
    ]
    try:
        with transaction.atomic():
            return Experiment.objects.create(
                name=(name or "").strip()[:100] or " vs ".join(methods),
                design=design,
                arms=arms,
                salt=(salt or secrets.token_hex(8))[:32],
                epsilon=epsilon,
                created_by=user,
            )
    except IntegrityError:
        raise ValidationError({"name": "an experiment is running already: stop it first"}) from None


def experiment_stop(*, user, experiment: Experiment, winner: str = "") -> Experiment:
    """Stop it; a winner (one of its methods) becomes what the API serves by default."""
    permissions.permission_require(user=user, permission=permissions.EXPERIMENTS)
    if winner and winner not in experiment.methods:
        raise ValidationError({"winner": f"{winner!r} is not an arm of {experiment}"})
    if experiment.status == Experiment.Status.RUNNING:
        experiment.status = Experiment.Status.STOPPED
        experiment.stopped_at = timezone.now()
    if winner:
        experiment.winner = winner
    experiment.save(update_fields=["status", "stopped_at", "winner"])
    return experiment


def activated_winner() -> str:
    """The method the latest stopped experiment made the default, if it still serves."""
    latest = (
        Experiment.objects.filter(status=Experiment.Status.STOPPED)
        .exclude(winner="")
        .order_by("-stopped_at", "-id")
        .first()
    )
    if latest is None:
        return ""
    try:
        job_for(latest.winner)
    except ListError:
        return ""
    return latest.winner


def arm_of(experiment: Experiment, who: str) -> int:
    from recengine.online import arm_for

    return arm_for(who, experiment.salt, [arm["share"] for arm in experiment.arms])
