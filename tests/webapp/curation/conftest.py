import pytest
from django.core.cache import cache

from tests.acting import trainer
from webapp.jobs.models import TrainingJob
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create


@pytest.fixture(autouse=True)
def isolated(settings, tmp_path):
    """Private feature cache, and no cached facets or palettes from another test's
    gallery (test databases reuse ids, so a cache key alone cannot tell them apart)."""
    settings.VITRINE_FEATURE_CACHE = tmp_path / "feature-cache"
    cache.clear()
    yield
    cache.clear()


def train(method: str, **params) -> TrainingJob:
    job = training_job_create(user=trainer(), method=method, params=params, enqueue=False)
    assert training_job_run(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    return job


@pytest.fixture
def trained(small_gallery) -> dict[str, TrainingJob]:
    """Popularity, VisRank and Random trained on the small gallery (seconds)."""
    return {method: train(method) for method in ("popularity", "visrank", "random")}


@pytest.fixture
def curator_client(client, curator):
    client.force_login(curator)
    return client
