import pytest

from tests.acting import trainer


@pytest.fixture(autouse=True)
def fresh_api_caches():
    """Test databases reuse primary keys: no table of candidates or served model of one
    test may answer in another."""
    from webapp.api import candidates
    from webapp.jobs import serving

    def clear():
        candidates.catalogue_table_forget()
        for cache in (serving._cache, serving._index_cache, serving._newest_seen):
            cache.clear()

    clear()
    yield
    clear()


@pytest.fixture(autouse=True)
def clear_rate_counts():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr("webapp.jobs.services.training_job_enqueue", lambda *, job_id: None)
    sent = []
    monkeypatch.setattr(
        "webapp.api.works.artwork_describe_enqueue", lambda *, artwork_id: sent.append(artwork_id)
    )
    return sent


def train(method: str, **params):
    from webapp.jobs.models import TrainingJob
    from webapp.jobs.running import training_job_run
    from webapp.jobs.services import training_job_create

    job = training_job_create(user=trainer(), method=method, params=params)
    assert training_job_run(job_id=job.pk) == "succeeded", TrainingJob.objects.get(pk=job.pk).error
    job.refresh_from_db()
    return job


@pytest.fixture
def served(small_gallery, no_broker):
    """Popularity and VisRank trained and served on the small gallery."""
    return {m: train(m) for m in ("popularity", "visrank")}


@pytest.fixture
def tokens(db):
    """One token per scope, and one with both."""
    from webapp.api.tokens import api_client_create

    made = {}
    for name, scopes in (("reader", ["read"]), ("writer", ["write"]), ("shop", ["read", "write"])):
        made[name] = api_client_create(user=trainer_with_tokens(), name=name, scopes=scopes)[1]
    return made


def trainer_with_tokens():
    from webapp.permissions import staff_group_ensure

    user = trainer()
    user.groups.add(staff_group_ensure())
    return user


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
