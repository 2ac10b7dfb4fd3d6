"""Users holding exactly some permissions, and jobs to try each action on, for the
permission tests of the services, the site and the admin."""

from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile

from webapp import permissions
from webapp.jobs.models import TrainingJob
from webapp.storage import artefact_storage

Status = TrainingJob.Status

# action in the site's URL -> (permission, the state the job is in before)
JOB_ACTIONS = {
    "cancel": (permissions.CANCEL, Status.QUEUED),
    "requeue": (permissions.REQUEUE, Status.FAILED),
    "activate": (permissions.SERVE, Status.SUCCEEDED),
    "delete": (permissions.DELETE, Status.SUCCEEDED),
}


def holding(django_user_model, *names: str, is_staff: bool = True, username: str = "clerk"):
    """A user with exactly these permissions (none by default), given one by one."""
    user = django_user_model.objects.create_user(username, password="pw-clerk-1", is_staff=is_staff)
    for name in names:
        app, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    return django_user_model.objects.get(pk=user.pk)  # no permission cache from before


def job_for(action: str) -> TrainingJob:
    """The job an action is tried on. Serving is tried beside the model served now, and
    deleting on that served model itself, with a file, so a refusal must keep both."""
    status = JOB_ACTIONS[action][1]
    if action in ("activate", "delete"):
        served = TrainingJob.objects.create(method="popularity", status=status, is_active=True)
        artefact_storage().save(f"jobs/{served.pk}/model/weights.bin", ContentFile(b"w"))
        if action == "delete":
            return served
    return TrainingJob.objects.create(method="popularity", status=status)


def done(action: str, job: TrainingJob) -> bool:
    row = TrainingJob.objects.filter(pk=job.pk).first()
    if action == "delete":
        return row is None and not artefact_storage().exists(f"jobs/{job.pk}/model/weights.bin")
    return {
        "cancel": row.status == Status.CANCELLED,
        "requeue": row.status == Status.QUEUED,
        "activate": row.is_active,
    }[action]


def served_untouched() -> bool:
    served = TrainingJob.objects.filter(is_active=True)
    return served.count() == 1 and artefact_storage().exists(
        f"jobs/{served.get().pk}/model/weights.bin"
    )
