"""Who may do what: the permissions the services check, and the staff group that holds them.

The services (webapp.jobs.services, webapp.catalogue.services) call `permission_require`
with the acting user; the site's views, the admin and the management commands all reach
the work through them, so a permission is checked the same way wherever the click or the
command comes from. The is_staff flag grants none of these (it only opens the admin);
a superuser holds every permission, as everywhere in Django.
"""

import os

from django.core.exceptions import PermissionDenied

TRAIN = "jobs.train_job"  # training and feature-extraction jobs alike
CANCEL = "jobs.cancel_job"
REQUEUE = "jobs.requeue_job"
SERVE = "jobs.serve_job"
DELETE = "jobs.delete_trainingjob"  # Django's own delete permission on the model
IMPORT = "catalogue.import_gallery"
API_TOKENS = "api.manage_token"
EXPERIMENTS = "api.manage_experiment"

ACTIONS = {
    TRAIN: "train models or extract features",
    CANCEL: "cancel jobs",
    REQUEUE: "requeue jobs",
    SERVE: "choose the served model",
    DELETE: "delete jobs and their files",
    IMPORT: "import a gallery",
    API_TOKENS: "create or revoke API tokens",
    EXPERIMENTS: "start or stop experiments",
}

STAFF_GROUP = "Vitrine staff"
# The group holds the actions above and what the admin needs to show and edit the
# catalogue and the jobs; job rows stay read-only there (the worker writes them).
STAFF_PERMISSIONS = (
    *ACTIONS,
    "jobs.view_trainingjob",
    "jobs.view_artefact",
    *(
        f"catalogue.{action}_{model}"
        for model in ("artist", "artwork", "collector", "interaction")
        for action in ("view", "add", "change", "delete")
    ),
    "catalogue.view_featureset",
    "api.view_apiclient",
    "api.view_experiment",
    "api.view_impression",
    # Locked-out logins: staff may see them and unlock by deleting the attempts.
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
)

#: Management commands act as this user when --user is not given.
USER_ENV = "VITRINE_USER"


def permission_require(*, user, permission: str) -> None:
    """Raise PermissionDenied, naming the user, the action and the permission, unless
    `user` (active) holds `permission`."""
    if user is not None and user.has_perm(permission):  # has_perm is False when inactive
        return
    who = getattr(user, "username", "") or "Nobody logged in"
    raise PermissionDenied(
        f"{who} may not {ACTIONS[permission]}: that needs the {permission} permission "
        f"(staff rights: the “{STAFF_GROUP}” group holds it)."
    )


def staff_group_ensure():
    """The staff group with exactly STAFF_PERMISSIONS (created or brought up to date);
    run after migrate, when the permission rows exist."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    wanted = [name.split(".", 1) for name in STAFF_PERMISSIONS]
    found = Permission.objects.filter(
        content_type__app_label__in={app for app, _ in wanted},
        codename__in={codename for _, codename in wanted},
    ).select_related("content_type")
    by_name = {f"{p.content_type.app_label}.{p.codename}": p for p in found}
    missing = sorted(set(STAFF_PERMISSIONS) - set(by_name))
    if missing:
        raise LookupError(f"permissions not in the database (run migrate): {', '.join(missing)}")
    group.permissions.set([by_name[name] for name in STAFF_PERMISSIONS])
    return group


# --- management commands: who acts -------------------------------------------------------


def user_argument_add(parser) -> None:
    """The --user option every command that trains, cancels or imports takes."""
    parser.add_argument(
        "--user",
        dest="acting_user",
        default=os.environ.get(USER_ENV) or None,
        help=f"username of the person acting (default: ${USER_ENV}); needs the permission",
    )


def command_user(username: str | None):
    """The active user named by --user, or a CommandError saying what is wrong."""
    from django.contrib.auth import get_user_model
    from django.core.management.base import CommandError

    if not username:
        raise CommandError(f"say who acts: --user USERNAME (or set {USER_ENV})")
    User = get_user_model()
    user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(f"--user {username!r}: no such user")
    if not user.is_active:
        raise CommandError(f"--user {username!r}: the account is inactive")
    return user
