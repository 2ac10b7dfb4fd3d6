import pytest
from django.urls import reverse

from tests.acting import trainer
from webapp.catalogue.models import Collector
from webapp.jobs.models import TrainingJob
from webapp.jobs.running import training_job_run

pytestmark = pytest.mark.django_db

CURATOR_PAGES = ["curation:collector-list", "curation:job-list"]


@pytest.mark.parametrize("name", CURATOR_PAGES)
def test_curator_pages_need_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_collector_and_job_pages_need_login(client, small_gallery):
    collector = Collector.objects.first()
    for url in [reverse("curation:collector-detail", args=[collector.pk])]:
        assert client.get(url).status_code == 302


def test_collector_list_shows_collectors(client, curator, small_gallery):
    client.force_login(curator)
    response = client.get(reverse("curation:collector-list"))
    assert response.status_code == 200
    assert len(response.context["page"]) == 10


def test_curator_cannot_start_training(client, curator):
    client.force_login(curator)
    response = client.post(reverse("curation:job-train"), {"method": "popularity"})
    assert response.status_code == 403 and "jobs.train_job" in response.content.decode()
    assert not TrainingJob.objects.exists()
    assert (
        "Train all default methods" not in client.get(reverse("curation:job-list")).content.decode()
    )


def test_training_needs_a_post_with_csrf(staff):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    response = strict.post(reverse("curation:job-train"), {"method": "popularity"})
    assert response.status_code == 403
    assert strict.get(reverse("curation:job-train")).status_code == 405
    assert not TrainingJob.objects.exists()


def test_staff_queues_a_job_sent_on_commit(
    client, staff, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        "webapp.jobs.services.training_job_enqueue", lambda *, job_id: sent.append(job_id)
    )
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("curation:job-train"), {"method": "popularity"})
    job = TrainingJob.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "curation:job-detail", args=[job.pk]
    )
    assert len(callbacks) == 1 and sent == [job.pk]
    assert job.status == TrainingJob.Status.QUEUED


def test_unknown_method_is_refused_with_a_message(client, staff):
    client.force_login(staff)
    response = client.post(reverse("curation:job-train"), {"method": "nope"}, follow=True)
    assert "unknown method" in response.content.decode()
    assert not TrainingJob.objects.exists()


def test_collector_page_shows_purchases_and_available_recommendations(
    client, curator, small_gallery, django_capture_on_commit_callbacks
):
    from webapp.jobs.services import training_job_create

    job = training_job_create(user=trainer(), method="visrank")
    assert training_job_run(job_id=job.pk) == "succeeded"
    collector = Collector.objects.filter(interactions__kind="purchase").distinct().first()
    client.force_login(curator)
    response = client.get(reverse("curation:collector-detail", args=[collector.pk]))
    assert response.status_code == 200
    consumed = list(response.context["consumed"])
    assert [i.timestamp for i in consumed] == sorted(i.timestamp for i in consumed)
    recs = response.context["recommendations"].items
    assert 0 < len(recs) <= 20
    owned = {i.artwork_id for i in consumed}
    assert all(not r.artwork.is_sold and r.artwork.pk not in owned for r in recs)
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    html = response.content.decode()
    assert consumed[0].artwork.title in html and recs[0].artwork.title in html


def test_job_status_partial_polls_only_while_running(client, curator):
    job = TrainingJob.objects.create(
        method="popularity", status=TrainingJob.Status.RUNNING, progress=0.4
    )
    client.force_login(curator)
    html = client.get(reverse("curation:job-status", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="40"' in html
    job.status = TrainingJob.Status.SUCCEEDED
    job.save()
    html = client.get(reverse("curation:job-status", args=[job.pk])).content.decode()
    assert "hx-trigger" not in html


def test_admin_add_form_queues_a_job(
    client, staff, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("webapp.jobs.services.training_job_enqueue", lambda *, job_id: None)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:jobs_trainingjob_add"),
            {"kind": "train", "method": "popularity", "params": "{}"},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = TrainingJob.objects.get()
    assert job.method == "popularity" and job.status == TrainingJob.Status.QUEUED


def test_admin_train_defaults_button(client, staff, small_gallery, monkeypatch):
    monkeypatch.setattr("webapp.jobs.services.training_job_enqueue", lambda *, job_id: None)
    client.force_login(staff)
    response = client.post(reverse("admin:jobs_trainingjob_train_defaults"))
    assert response.status_code == 302
    methods = set(TrainingJob.objects.values_list("method", flat=True))
    assert {"popularity", "visrank", "oracle"} <= methods


def test_admin_needs_staff(client, curator):
    client.force_login(curator)
    response = client.post(reverse("admin:jobs_trainingjob_train_defaults"))
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert not TrainingJob.objects.exists()


def test_a_reference_line_is_labelled_on_the_job_pages_and_never_chosen_by_default(
    client, staff, small_gallery
):
    from django.utils.html import escape

    from recengine import model_info
    from webapp.jobs.methods import default_methods, method_references
    from webapp.jobs.services import training_job_create

    label = model_info("oracle")["reference"]
    assert method_references() == {"oracle": label}  # the registry says so, not a name here
    assert default_methods()[-1] == "oracle"  # trained with the defaults, as a reference
    for method in ("oracle", "popularity"):
        training_job_run(job_id=training_job_create(user=trainer(), method=method).pk)
    oracle = TrainingJob.objects.get(method="oracle")
    client.force_login(staff)
    pages = [
        client.get(reverse("curation:job-list")),
        client.get(reverse("curation:job-detail", args=[oracle.pk])),
        client.get(reverse("curation:job-new", args=["train", "oracle"])),
    ]
    for response in pages:
        html = response.content.decode()
        assert escape(label) in html
        assert "ceiling" not in html.lower() and "upper line" not in html.lower()
    options = pages[0].content.decode().split('id="train-method"')[1].split("</select>")[0]
    assert options.index('value="popularity"') < options.index('value="oracle"')
    collector = Collector.objects.filter(interactions__kind="purchase").first()
    detail = reverse("curation:collector-detail", args=[collector.pk])
    shown = client.get(detail)
    assert shown.context["method"] == "popularity"  # the reference is never the default
    menu = shown.content.decode().split('id="method"')[1].split("</select>")[0]
    assert escape(f"oracle (serving, job #{oracle.pk}, {label})") in menu
    assert shown.context["default"].job.method == "popularity"  # measured, not the oracle
    asked = client.get(detail, {"method": "oracle"})
    assert asked.context["method"] == "oracle" and 'data-testid="reference"' in (
        asked.content.decode()
    )
