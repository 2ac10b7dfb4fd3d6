"""Each job action and the import is a permission, checked by the services: the site, the
admin and the commands refuse a user without it, whatever their is_staff flag says."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.acting import trainer
from tests.catalogue.import_fixtures import make_gallery
from tests.subprocess_env import subprocess_env
from tests.webapp.permission_fixtures import JOB_ACTIONS, done, holding, job_for, served_untouched
from webapp import permissions
from webapp.catalogue.models import Artwork
from webapp.catalogue.services import gallery_import_by
from webapp.jobs import services
from webapp.jobs.models import TrainingJob

pytestmark = pytest.mark.django_db

SERVICES = {
    "cancel": services.training_job_cancel,
    "requeue": services.training_job_requeue,
    "activate": services.training_job_activate,
    "delete": services.training_job_delete,
}


# ------------------------------------------------------------------------------- services


@pytest.mark.parametrize("action", JOB_ACTIONS)
def test_each_job_service_refuses_a_staff_user_without_its_permission(action, django_user_model):
    job = job_for(action)
    bare_staff = holding(django_user_model)
    for user in (bare_staff, None):
        with pytest.raises(PermissionDenied, match=JOB_ACTIONS[action][0]):
            SERVICES[action](job=job, user=user)
    assert not done(action, job)
    if action in ("activate", "delete"):
        assert served_untouched()


@pytest.mark.parametrize("action", JOB_ACTIONS)
def test_the_permission_alone_lets_the_service_act(
    action, django_user_model, django_capture_on_commit_callbacks
):
    job = job_for(action)
    user = holding(django_user_model, JOB_ACTIONS[action][0], is_staff=False)
    with django_capture_on_commit_callbacks():  # a requeue is sent on commit: not here
        SERVICES[action](job=job, user=user)
    assert done(action, job)


@pytest.mark.parametrize(
    "kind,method",
    [(TrainingJob.Kind.TRAIN, "popularity"), (TrainingJob.Kind.EXTRACT, "handcrafted")],
)
def test_training_and_extraction_need_the_train_permission(kind, method, django_user_model):
    with pytest.raises(PermissionDenied, match="clerk may not train models or extract features"):
        services.training_job_create(kind=kind, method=method, user=holding(django_user_model))
    with pytest.raises(PermissionDenied, match=permissions.TRAIN):
        services.default_training_jobs_create(user=None, only_missing=True)
    assert not TrainingJob.objects.exists()
    trained_by = holding(django_user_model, permissions.TRAIN, username="trains")
    job = services.training_job_create(kind=kind, method=method, user=trained_by, enqueue=False)
    assert job.created_by == trained_by


def test_the_import_service_refuses_before_reading_a_file(tmp_path, django_user_model):
    missing = tmp_path / "nowhere.csv"  # never opened: the refusal comes first
    with pytest.raises(PermissionDenied, match=permissions.IMPORT):
        gallery_import_by(
            user=holding(django_user_model), items_path=None, interactions_path=missing
        )
    gallery = make_gallery(tmp_path)
    report = gallery_import_by(user=trainer(), **gallery.kwargs())
    assert report.artworks.created == 3 == Artwork.objects.count()


def test_training_without_the_serve_permission_never_replaces_the_served_model(
    small_gallery, django_user_model
):
    from webapp.jobs.running import training_job_run

    user = holding(django_user_model, permissions.TRAIN)
    first = services.training_job_create(method="popularity", user=user, enqueue=False)
    assert training_job_run(job_id=first.pk) == "succeeded"
    first.refresh_from_db()
    assert first.is_active  # nothing served popularity yet: the first model serves
    second = services.training_job_create(method="popularity", user=user, enqueue=False)
    assert training_job_run(job_id=second.pk) == "succeeded"
    second.refresh_from_db()
    assert not second.is_active and TrainingJob.objects.get(is_active=True) == first
    third = services.training_job_create(method="popularity", user=trainer(), enqueue=False)
    training_job_run(job_id=third.pk)
    assert TrainingJob.objects.get(is_active=True).pk == third.pk  # may serve: it does


# ----------------------------------------------------------------------------------- site


@pytest.mark.parametrize("action", JOB_ACTIONS)
def test_a_staff_user_without_the_permission_gets_403_on_the_site(
    action, client, django_user_model, django_capture_on_commit_callbacks
):
    job = job_for(action)
    client.force_login(holding(django_user_model))
    with django_capture_on_commit_callbacks() as sent:
        response = client.post(reverse("curation:job-action", args=[job.pk, action]))
    assert response.status_code == 403 and "403.html" in [t.name for t in response.templates]
    assert JOB_ACTIONS[action][0] in response.content.decode()
    assert not done(action, job) and not sent
    if action in ("activate", "delete"):
        assert served_untouched()


@pytest.mark.parametrize("action", JOB_ACTIONS)
def test_the_permission_lets_the_site_act(
    action, client, django_user_model, django_capture_on_commit_callbacks
):
    job = job_for(action)
    client.force_login(holding(django_user_model, JOB_ACTIONS[action][0], is_staff=False))
    with django_capture_on_commit_callbacks():
        response = client.post(reverse("curation:job-action", args=[job.pk, action]))
    assert response.status_code == 302 and done(action, job)


TRAIN_REQUESTS = [
    ("curation:job-train", [], {"method": "popularity"}),
    ("curation:job-train", [], {"defaults": "1"}),
    # A form with all defaults (an empty POST would only show the form again).
    ("curation:job-new", ["train", "popularity"], {"submitted": "1"}),
    ("curation:job-new", ["extract", "handcrafted"], {"submitted": "1"}),
]


@pytest.mark.parametrize("name,args,data", TRAIN_REQUESTS)
def test_training_and_extracting_on_the_site_need_the_train_permission(
    name, args, data, client, django_user_model, django_capture_on_commit_callbacks
):
    client.force_login(holding(django_user_model))
    assert client.post(reverse(name, args=args), data).status_code == 403
    assert not TrainingJob.objects.exists()
    client.force_login(holding(django_user_model, permissions.TRAIN, username="trains"))
    with django_capture_on_commit_callbacks():
        response = client.post(reverse(name, args=args), data)
    assert response.status_code == 302 and TrainingJob.objects.exists()


def test_a_curator_opening_the_training_form_sees_the_sites_403_page(client, curator):
    client.force_login(curator)
    response = client.get(reverse("curation:job-new", args=["train", "visrank"]))
    html = response.content.decode()
    assert response.status_code == 403
    assert [t.name for t in response.templates][:2] == ["403.html", "base.html"]
    assert "curator may not train models or extract features" in html
    assert "jobs.train_job" in html and 'aria-label="Main"' in html  # the site's navigation
    assert "/admin/login/" not in html and "Django administration" not in html


def test_anonymous_visitors_are_sent_to_the_sites_login_not_the_admins(client):
    response = client.get(reverse("curation:job-new", args=["train", "visrank"]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# ------------------------------------------------------------------------------- commands


def test_the_train_command_needs_a_user_who_may_train(
    django_user_model, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.delenv(permissions.USER_ENV, raising=False)
    with pytest.raises(CommandError, match="say who acts: --user USERNAME"):
        call_command("train", "popularity")
    with pytest.raises(CommandError, match="--user 'ghost': no such user"):
        call_command("train", "popularity", "--user", "ghost")
    holding(django_user_model)
    with pytest.raises(CommandError, match="clerk may not train .*jobs.train_job"):
        call_command("train", "popularity", "--user", "clerk")
    assert not TrainingJob.objects.exists()
    monkeypatch.setenv(permissions.USER_ENV, trainer().username)
    with django_capture_on_commit_callbacks():
        call_command("train", "popularity")
    assert TrainingJob.objects.get().created_by == trainer()


def test_the_import_command_needs_a_user_who_may_import(tmp_path, django_user_model, monkeypatch):
    monkeypatch.delenv(permissions.USER_ENV, raising=False)
    gallery = make_gallery(tmp_path)
    argv = gallery.argv()[2:]  # without its --user
    with pytest.raises(CommandError, match="say who acts"):
        call_command("import_gallery", *argv)
    holding(django_user_model, permissions.TRAIN)
    with pytest.raises(CommandError, match="clerk may not import a gallery.*catalogue.import"):
        call_command("import_gallery", *argv, "--user", "clerk")
    assert not Artwork.objects.exists()
    monkeypatch.setenv(permissions.USER_ENV, trainer().username)
    call_command("import_gallery", *argv, stdout=io.StringIO())
    assert Artwork.objects.count() == 3


def test_a_command_without_a_user_exits_non_zero_with_one_line():
    env = {k: v for k, v in subprocess_env().items() if k != permissions.USER_ENV}
    result = subprocess.run(
        [sys.executable, "manage.py", "train", "popularity"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"CommandError: say who acts: --user USERNAME (or set {permissions.USER_ENV})"
    ]


# ----------------------------------------------------------------------------------- demo


def test_the_demo_staff_holds_the_permissions_through_the_group_and_the_curator_none(
    django_user_model, monkeypatch
):
    from webapp.curation.management.commands.rundemo import demo_users_ensure

    monkeypatch.delenv("VITRINE_STAFF_PASSWORD", raising=False)
    # An older demo database made its staff login a superuser: the next run undoes that.
    django_user_model.objects.create_superuser("staff", password="staff-demo")
    demo_users_ensure()
    demo_users_ensure()  # a second run changes nothing
    staff = django_user_model.objects.get(username="staff")
    curator = django_user_model.objects.get(username="curator")
    assert staff.is_staff and not staff.is_superuser and staff.check_password("staff-demo")
    assert [g.name for g in staff.groups.all()] == [permissions.STAFF_GROUP]
    assert all(staff.has_perm(name) for name in permissions.STAFF_PERMISSIONS)
    assert not curator.is_staff and not curator.get_all_permissions()
