import pytest


@pytest.fixture(autouse=True)
def media_root(tmp_path):
    """Override tests/conftest.py's Django-settings fixtures: recengine never touches
    Django, and this lets these tests run with ``-p no:django`` too."""
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def artefacts_root(tmp_path):
    return tmp_path / "artefacts"
