"""The demo's log says what happens and nothing else: no faiss loader chatter, no kombu
host warning, no Celery superuser essay when the demo runs as root."""

import logging
import subprocess
import sys
from pathlib import Path

from tests.subprocess_env import subprocess_env
from webapp.log_filters import DropMessages
from webapp.servers import ROOT_WARNING, worker_command, worker_environment

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env if env is not None else subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


DJANGO = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'webapp.settings'); "
DJANGO += "django.setup(); "


def test_importing_faiss_under_the_site_settings_logs_nothing():
    result = run_python(DJANGO + "import faiss; print('imported', faiss.__name__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported faiss"
    assert "Could not load library" not in result.stderr
    assert "Loading faiss" not in result.stderr
    assert logging.getLogger("faiss.loader").getEffectiveLevel() == logging.WARNING


def test_a_filesystem_broker_connection_does_not_warn_about_its_host():
    result = run_python(
        DJANGO + "from kombu import Connection; print(Connection('filesystem://').info()['port'])"
    )
    assert result.returncode == 0, result.stderr
    assert "No hostname was supplied" not in result.stderr


def test_the_filter_drops_only_the_named_messages():
    drop = DropMessages(prefixes=["No hostname was supplied"])

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("kombu.connection", logging.WARNING, "", 0, message, (), None)

    assert not drop.filter(record("No hostname was supplied. Reverting to default 'localhost'"))
    assert drop.filter(record("Connection refused"))


CHECK_AS_ROOT = (
    "import os; os.getuid = os.geteuid = lambda: 0; "
    "from celery.platforms import check_privileges; check_privileges({'json'}); print('checked')"
)


def test_the_demo_worker_as_root_gets_no_superuser_warning(monkeypatch):
    monkeypatch.setattr("webapp.servers.is_root", lambda: True)
    plain = subprocess_env(drop=("PYTHONWARNINGS",))
    warned = run_python(CHECK_AS_ROOT, env=plain)
    assert ROOT_WARNING in warned.stderr  # what Celery prints without the filter
    quiet = run_python(CHECK_AS_ROOT, env=worker_environment(plain))
    assert quiet.returncode == 0 and quiet.stdout.strip() == "checked", quiet.stderr
    assert "superuser" not in quiet.stderr


def test_the_worker_filter_keeps_other_warnings_filters(monkeypatch):
    monkeypatch.setattr("webapp.servers.is_root", lambda: True)
    env = worker_environment({"PYTHONWARNINGS": "error::DeprecationWarning"})
    assert env["PYTHONWARNINGS"] == f"error::DeprecationWarning,ignore:{ROOT_WARNING}"
    monkeypatch.setattr("webapp.servers.is_root", lambda: False)
    assert "PYTHONWARNINGS" not in worker_environment({})


def test_the_demo_worker_hides_the_banner():
    command = worker_command("cpu", "demo@%h")
    assert command.index("--quiet") < command.index("worker")  # a `celery` option
