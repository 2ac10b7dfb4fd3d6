"""The admin hides and refuses each job action a user lacks the permission for, and the
job page shows only the buttons the job's state and the user's permissions allow, inside
the polled status partial so they follow the job."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.webapp.permission_fixtures import JOB_ACTIONS, done, holding, job_for, served_untouched
from webapp import permissions
from webapp.jobs.models import TrainingJob

pytestmark = pytest.mark.django_db
Status = TrainingJob.Status
CHANGELIST = "admin:jobs_trainingjob_changelist"
VIEW = "jobs.view_trainingjob"  # enough to open the list: what is refused is the action

# the site's action -> the admin action doing the same
ADMIN_ACTIONS = {
    "cancel": "cancel",
    "requeue": "requeue",
    "activate": "activate",
    "delete": "delete_with_artefacts",
}
BUTTONS = ("Cancel", "Requeue", "Serve this model", "Delete job and files")


def admin_action(client, action: str, job: TrainingJob):
    return client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [job.pk], "index": 0}
    )


def offered_actions(client) -> set[str]:
    """The actions in the changelist's menu (no menu at all when none is allowed)."""
    form = client.get(reverse(CHANGELIST)).context["action_form"]
    return set() if form is None else {name for name, _ in form.fields["action"].choices if name}


@pytest.mark.parametrize("action", JOB_ACTIONS)
def test_the_admin_hides_and_refuses_an_action_without_its_permission(
    action, client, django_user_model, django_capture_on_commit_callbacks
):
    job = job_for(action)
    client.force_login(holding(django_user_model, VIEW))
    assert ADMIN_ACTIONS[action] not in offered_actions(client)
    with django_capture_on_commit_callbacks() as sent:
        admin_action(client, ADMIN_ACTIONS[action], job)
    assert not done(action, job) and not sent
    if action in ("activate", "delete"):
        assert served_untouched()


@pytest.mark.parametrize("action", JOB_ACTIONS)
def test_the_admin_offers_and_runs_an_action_with_its_permission(
    action, client, django_user_model, django_capture_on_commit_callbacks
):
    job = job_for(action)
    client.force_login(holding(django_user_model, VIEW, JOB_ACTIONS[action][0]))
    assert ADMIN_ACTIONS[action] in offered_actions(client)
    with django_capture_on_commit_callbacks():
        response = admin_action(client, ADMIN_ACTIONS[action], job)
    assert response.status_code == 302 and done(action, job)
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(said) == 1 and said[0].endswith(f" #{job.pk}.")  # a deleted job named too


def test_the_admin_refuses_training_and_extraction_without_the_train_permission(
    client, django_user_model, django_capture_on_commit_callbacks
):
    job = TrainingJob.objects.create(method="popularity", status=Status.SUCCEEDED)
    client.force_login(holding(django_user_model, VIEW))
    assert not {"run_again", "train_default_methods"} & offered_actions(client)
    assert "Train all default methods" not in client.get(reverse(CHANGELIST)).content.decode()
    admin_action(client, "run_again", job)
    client.post(reverse("admin:jobs_trainingjob_train_defaults"))
    extract = {"kind": "extract", "method": "handcrafted", "params": "{}"}
    assert client.post(reverse("admin:jobs_trainingjob_add"), extract).status_code == 403
    assert list(TrainingJob.objects.all()) == [job]

    client.force_login(holding(django_user_model, VIEW, permissions.TRAIN, username="trains"))
    assert {"run_again", "train_default_methods"} <= offered_actions(client)
    with django_capture_on_commit_callbacks():
        admin_action(client, "run_again", job)
        client.post(reverse("admin:jobs_trainingjob_add"), extract)
    assert TrainingJob.objects.filter(kind="train").count() == 2
    assert TrainingJob.objects.get(kind="extract").method == "handcrafted"


def test_the_admin_never_deletes_a_running_job(client, staff):
    running = TrainingJob.objects.create(method="popularity", status=Status.RUNNING)
    client.force_login(staff)
    delete = reverse("admin:jobs_trainingjob_delete", args=[running.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert TrainingJob.objects.filter(pk=running.pk).exists()


# -------------------------------------------------------------------------------- buttons


def buttons(client, job: TrainingJob) -> set[str]:
    html = client.get(reverse("curation:job-status", args=[job.pk])).content.decode()
    return {label for label in BUTTONS if f">{label}</button>" in html}


@pytest.mark.parametrize(
    "fields,expected",
    [
        ({"status": Status.QUEUED}, {"Cancel", "Delete job and files"}),
        ({"status": Status.RUNNING}, {"Cancel"}),
        ({"status": Status.RUNNING, "cancel_requested": True}, set()),
        ({"status": Status.SUCCEEDED}, {"Serve this model", "Delete job and files"}),
        ({"status": Status.SUCCEEDED, "is_active": True}, {"Delete job and files"}),
        ({"status": Status.SUCCEEDED, "kind": "extract"}, {"Delete job and files"}),
        ({"status": Status.FAILED}, {"Requeue", "Delete job and files"}),
        ({"status": Status.CANCELLED}, {"Requeue", "Delete job and files"}),
    ],
)
def test_the_status_partial_shows_the_buttons_the_state_allows(fields, expected, client, staff):
    job = TrainingJob.objects.create(method="popularity", **fields)
    client.force_login(staff)
    assert buttons(client, job) == expected


def test_buttons_follow_the_job_as_the_partial_polls(client, staff):
    job = TrainingJob.objects.create(method="popularity", status=Status.RUNNING)
    client.force_login(staff)
    page = client.get(reverse("curation:job-detail", args=[job.pk])).content.decode()
    assert page.count(">Cancel</button>") == 1  # once, inside the polled partial
    assert 'hx-get="' + reverse("curation:job-status", args=[job.pk]) in page
    TrainingJob.objects.filter(pk=job.pk).update(status=Status.CANCELLED)
    assert buttons(client, job) == {"Requeue", "Delete job and files"}
    TrainingJob.objects.filter(pk=job.pk).update(status=Status.QUEUED)
    assert buttons(client, job) == {"Cancel", "Delete job and files"}
    TrainingJob.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED)
    assert buttons(client, job) == {"Serve this model", "Delete job and files"}


def test_only_the_buttons_the_user_may_press_are_shown(client, curator, django_user_model):
    failed = TrainingJob.objects.create(method="popularity", status=Status.FAILED)
    queued = TrainingJob.objects.create(method="popularity", status=Status.QUEUED)
    client.force_login(curator)
    assert buttons(client, failed) == buttons(client, queued) == set()
    client.force_login(holding(django_user_model, permissions.CANCEL))  # is_staff, one right
    assert buttons(client, failed) == set() and buttons(client, queued) == {"Cancel"}
    jobs_page = client.get(reverse("curation:job-list")).content.decode()
    assert "Train all default methods" not in jobs_page
