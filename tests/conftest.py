import os

import pytest

# Nothing is downloaded in tests: the hub is offline before huggingface_hub is imported
# (it reads this once), so a test that asks for hub weights fails at once, not after retries.
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test writes media into its own temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def artefacts_root(settings, tmp_path):
    """And its job artefacts and feature sets into another, apart from the images."""
    settings.VITRINE_ARTEFACTS_ROOT = tmp_path / "artefacts"
    settings.VITRINE_ARTEFACTS_ROOT.mkdir()
    return settings.VITRINE_ARTEFACTS_ROOT


@pytest.fixture(autouse=True)
def no_heartbeat_in_unit_tests(settings):
    """A test's transaction holds SQLite's write lock, so a heartbeat thread would only
    wait for it; worker processes in integration tests beat as configured."""
    settings.VITRINE_HEARTBEAT_S = 3600


def services_configured() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get(
        "CELERY_BROKER_URL", ""
    ).startswith("redis")


@pytest.fixture
def require_services():
    """PostgreSQL and Redis: skipped on a laptop without them, never in CI."""
    if not services_configured():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(
                "CI=true but DATABASE_URL / CELERY_BROKER_URL do not point at PostgreSQL and Redis"
            )
        pytest.skip("set DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://… to run")


@pytest.fixture
def small_gallery(db):
    """A demo gallery small enough for unit tests: 40 works, 10 collectors, 32 px images."""
    from webapp.catalogue.demo_gallery import demo_gallery_create

    demo_gallery_create(n_artworks=40, n_collectors=10, seed=3, image_size=32)


@pytest.fixture
def curator(django_user_model):
    return django_user_model.objects.create_user("curator", password="pw-curator-1")


@pytest.fixture
def staff(django_user_model):
    """Like the demo's staff login: is_staff opens the admin, the "Vitrine staff" group
    grants the permissions; not a superuser."""
    from webapp.permissions import staff_group_ensure

    user = django_user_model.objects.create_user("staff", password="pw-staff-1", is_staff=True)
    user.groups.add(staff_group_ensure())
    return user


@pytest.fixture
def fresh_feature_spaces():
    """Test databases reuse primary keys, so no cached index, vectors or map layout of
    one test's feature set may survive into another's."""
    from webapp.curation.selectors import catalogue_map, image_search, visual

    def clear():
        for module in (image_search, visual):
            module._spaces.clear()
        catalogue_map._layouts.clear()

    clear()
    yield
    clear()
