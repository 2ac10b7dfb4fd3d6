"""The site under gunicorn, as in production and the demo: webapp/gunicorn_conf.py, the
test database, WhiteNoise serving the collected static files, and each worker loading the
served models at start."""

import urllib.request

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from tests.acting import trainer
from webapp.catalogue.models import Collector
from webapp.curation.load_bench import ServerRun, free_port
from webapp.curation.page_bench import PageSession
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create
from webapp.servers import gunicorn_command

from .conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_gunicorn_serves_a_logged_in_page_static_files_and_warms_up(
    small_gallery, curator, worker_env, settings, tmp_path
):
    job = training_job_create(user=trainer(), method="popularity", enqueue=False)
    assert training_job_run(job_id=job.pk) == "succeeded"
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    env = {
        **worker_env,
        "STATIC_ROOT": str(settings.STATIC_ROOT),
        "DEBUG": "0",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
    }
    port = free_port()
    server = ServerRun(
        "gunicorn", gunicorn_command("127.0.0.1", port), env, ROOT, tmp_path / "g.log", port
    )
    with server:
        server.wait_until_up()
        # One worker: its warm-up line says it loaded the one served model.
        assert server.wait_for_log(r"warm-up(:| failed)", 1) is not None, server.log_tail()
        assert "warm-up: 1 served models loaded" in server.log_tail()

        session = PageSession(server.base_url)
        session.log_in("curator", "pw-curator-1")
        collector = Collector.objects.filter(interactions__kind="purchase").first()
        path = reverse("curation:collector-detail", args=[collector.pk])
        status, body, _ = session.get(f"{path}?method=popularity")
        assert status == 200
        assert escape(collector.name) in body.decode()
        assert f"job #{job.pk}" in body.decode()

        # WhiteNoise: a collected file, with DEBUG off and no web server in front.
        with urllib.request.urlopen(server.base_url + "/static/vendor/htmx.min.js") as response:
            assert response.status == 200
            assert "max-age" in response.headers["Cache-Control"]
        # Pages still need the login.
        with urllib.request.urlopen(server.base_url + path) as response:
            assert "/accounts/login/" in response.url
    assert server.process.returncode is not None
