"""A work listed through the API is described by a real worker, then recommended as a
cold work: the worker job, the broker and the API's "pending" answer, end to end."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.api.conftest import bearer, train
from webapp.catalogue.models import Artwork, Collector

from .waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_listed_work_is_described_by_the_worker_then_recommended(
    small_gallery, worker, client, monkeypatch
):
    from tests.acting import trainer
    from webapp.api.tokens import api_client_create

    monkeypatch.setattr("webapp.jobs.services.training_job_enqueue", lambda *, job_id: None)
    visrank = train("visrank")
    token = api_client_create(user=trainer(), name="shop", scopes=["read", "write"])[1]
    # A colour close to a collector's own works, so VisRank has a reason to rank it.
    collector = Collector.objects.filter(interactions__kind="purchase").first()
    answer = client.post(
        "/api/v1/works",
        {
            "image": SimpleUploadedFile("new.png", _png((200, 40, 40))),
            "external_id": "api-new-1",
            "title": "New red",
            "artist": "Someone New",
            "price": "300",
        },
        **bearer(token),
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["features"] == "pending"

    def ready():
        return (
            client.get("/api/v1/works/api-new-1", **bearer(token)).json()["features"] != "pending"
        )

    wait_until(ready, "the worker to describe the listed work", processes=[worker])
    assert client.get("/api/v1/works/api-new-1", **bearer(token)).json()["features"] == "ready"
    work = Artwork.objects.get(external_id="api-new-1")
    assert not work.features_pending and not work.features_error

    # Now a cold work VisRank can rank: it is among the candidates of a collector's list.
    listed = client.get(
        f"/api/v1/collectors/{collector.external_id}/recommendations",
        {"method": "visrank", "k": 100},
        **bearer(token),
    ).json()
    assert listed["policy"]["job"] == visrank.pk
    assert "api-new-1" in [item["work"] for item in listed["items"]]
