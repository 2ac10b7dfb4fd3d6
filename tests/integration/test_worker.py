"""End to end through a real broker and a real worker process."""

import pytest
from django.db import connection
from django.urls import reverse

from webapp.jobs.models import TrainingJob

from .waiting import wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_for(job_id: int, worker) -> TrainingJob:
    return wait_for_job(job_id, [worker])


def test_training_sent_from_staff_page_is_served_on_collector_page(
    small_gallery, worker, client, staff, curator
):
    client.force_login(staff)
    response = client.post(reverse("curation:job-train"), {"method": "visrank"})
    assert response.status_code == 302
    job = TrainingJob.objects.get()
    assert job.status == TrainingJob.Status.QUEUED

    job = wait_for(job.pk, worker)
    assert job.status == TrainingJob.Status.SUCCEEDED, job.error
    assert job.worker and job.attempts == 1
    assert 0.0 <= job.metrics["AUC"] <= 1.0 and "Recall@20" in job.metrics
    model = job.model_artefact
    assert model.sha256 and model.size > 0 and job.is_active

    from webapp.catalogue.models import Collector

    collector = Collector.objects.filter(interactions__kind="purchase").first()
    client.force_login(curator)
    page = client.get(
        reverse("curation:collector-detail", args=[collector.pk]), {"method": "visrank"}
    )
    assert page.status_code == 200
    recommendations = page.context["recommendations"]
    assert recommendations.job.pk == job.pk
    assert len(recommendations.items) > 0
    owned = set(collector.interactions.exclude(kind="view").values_list("artwork_id", flat=True))
    for rec in recommendations.items:
        assert not rec.artwork.is_sold and rec.artwork.pk not in owned
        assert rec.because is not None  # VisRank names the consumed work behind each pick
    assert recommendations.items[0].artwork.title in page.content.decode()


@pytest.mark.services
def test_ci_runs_against_postgresql_and_redis(
    require_services, small_gallery, worker, staff, client
):
    """In CI this proves the integration above ran on the real servers, not the defaults."""
    from django.conf import settings

    assert connection.vendor == "postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    client.force_login(staff)
    client.post(reverse("curation:job-train"), {"method": "popularity"})
    job = wait_for(TrainingJob.objects.get().pk, worker)
    assert job.status == TrainingJob.Status.SUCCEEDED, job.error


def test_a_pretrained_cnn_trains_in_a_real_worker_and_drives_recommendations(
    small_gallery, worker, client, curator, staff
):
    """The installed EfficientNet-Lite0, converted by the worker on first use, extracts
    features inside a Celery prefork child (a daemonic process: no DataLoader children),
    and the VisRank trained on them serves the collector page."""
    from webapp.catalogue.models import Collector
    from webapp.jobs.services import training_job_create

    job = training_job_create(
        method="visrank", params={"features": "efficientnet_lite0_imagenet"}, user=staff
    )
    job = wait_for(job.pk, worker)
    assert job.status == TrainingJob.Status.SUCCEEDED, job.error
    feature_set = job.feature_set
    assert feature_set.name == "efficientnet_lite0_imagenet" and feature_set.dim == 1280
    assert feature_set.params["weights"]["kind"] == "file"
    assert feature_set.source.startswith("efficientnet_lite0 (ImageNet) (")
    collector = Collector.objects.filter(interactions__kind="purchase").first()
    client.force_login(curator)
    page = client.get(
        reverse("curation:collector-detail", args=[collector.pk]), {"method": f"job:{job.pk}"}
    )
    assert page.context["recommendations"].job.pk == job.pk
    assert len(page.context["recommendations"].items) > 0
