"""`manage.py rundemo` starts the site under gunicorn (runserver with --dev) and a worker
whose start says nothing it need not; the processes themselves are not started here."""

from io import StringIO

import pytest
from django.core.management import call_command

from webapp.curation.management.commands.rundemo import Command
from webapp.servers import ROOT_WARNING

pytestmark = pytest.mark.django_db


@pytest.fixture
def spawned(monkeypatch, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    started = []
    monkeypatch.setattr(
        Command, "_spawn", lambda self, command, env=None: started.append((command, env))
    )
    monkeypatch.setattr(Command, "_supervise", lambda self, children, extra=(): None)
    return started


def test_the_demo_serves_with_gunicorn_and_a_quiet_worker(spawned, monkeypatch, settings):
    monkeypatch.setattr("webapp.curation.management.commands.rundemo.is_root", lambda: True)
    monkeypatch.setattr("webapp.servers.is_root", lambda: True)
    out = StringIO()
    call_command("rundemo", "--artworks", "20", "--collectors", "5", "--port", "8123", stdout=out)
    (worker, worker_env), (site, _), (shop, _) = spawned
    assert worker[1:3] == ["-m", "celery"]
    assert worker.index("--quiet") < worker.index("worker")  # no start-up banner
    assert worker_env["PYTHONWARNINGS"].endswith(f"ignore:{ROOT_WARNING}")
    assert site[1:3] == ["-m", "gunicorn"]
    assert site[site.index("--bind") + 1] == "127.0.0.1:8123"
    assert site[-1] == "webapp.wsgi"
    assert "runs as root" in out.getvalue() and "under gunicorn" in out.getvalue()
    # The simulated shop shops through the API of the server just started, as staff, once
    # the arms' models exist.
    assert shop[1:3] == ["manage.py", "simulate_shop"]
    assert shop[shop.index("--url") + 1] == "http://127.0.0.1:8123/"
    assert shop[shop.index("--user") + 1] == "staff" and "--wait" in shop
    assert "/api/v1/docs" in out.getvalue() and "/experiments/" in out.getvalue()
    assert (settings.STATIC_ROOT / "vendor" / "htmx.min.js").exists()  # collected for WhiteNoise

    spawned.clear()
    monkeypatch.setattr("webapp.curation.management.commands.rundemo.is_root", lambda: False)
    out = StringIO()
    call_command("rundemo", "--dev", "--no-shop", "--port", "8124", stdout=out)
    assert len(spawned) == 2  # --no-shop: the worker and the site only
    assert spawned[1][0][1:3] == ["manage.py", "runserver"]
    assert spawned[1][0][-1] == "127.0.0.1:8124"
    assert "runs as root" not in out.getvalue()
    assert "Django's development server" in out.getvalue()
