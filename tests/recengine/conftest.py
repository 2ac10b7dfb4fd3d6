import pytest


@pytest.fixture(autouse=True)
def media_root(tmp_path):
    """Override tests/conftest.py's Django-settings fixture: recengine never touches
    Django, and this lets these tests run with ``-p no:django`` too."""
    return tmp_path / "media"
