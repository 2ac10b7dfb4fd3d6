"""A real Celery worker process, sharing the test database, media folder and broker."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

from tests.subprocess_env import subprocess_env

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf["PASSWORD"] else "")
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


@pytest.fixture
def worker_env(settings, tmp_path):
    """Point the site and the worker at the same media, artefacts, broker folder and a fresh
    queue."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    env = {
        **subprocess_env(),
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "VITRINE_ARTEFACTS_ROOT": str(settings.VITRINE_ARTEFACTS_ROOT),
        "VITRINE_VAR_DIR": str(tmp_path / "var"),
        "VITRINE_QUEUE": queue,
        "PYTHONUNBUFFERED": "1",
    }
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        broker_dir = tmp_path / "broker"
        for folder in ("queue", "processed", "control"):
            (broker_dir / folder).mkdir(parents=True)
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
            "data_folder_in": str(broker_dir / "queue"),
            "data_folder_out": str(broker_dir / "queue"),
            "processed_folder": str(broker_dir / "processed"),
            "control_folder": str(broker_dir / "control"),
            "store_processed": False,
        }
        env["VITRINE_BROKER_DIR"] = str(broker_dir)
    return env


def start_worker(env: dict, name: str, log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery",
        "worker",
        "-Q",
        env["VITRINE_QUEUE"],
        "--concurrency",
        "1",
        "--pool",
        "prefork",
        "--loglevel",
        "INFO",
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    log = log_path.open("wb")
    # Its own process group, so a test can kill the worker and its pool children at once.
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def workers(worker_env, tmp_path):
    """Start named workers on demand (extra environment allowed); all stopped at the end."""
    started = []

    def start(name: str, **extra_env) -> subprocess.Popen:
        log_path = tmp_path / f"{name}.log"
        process = start_worker({**worker_env, **extra_env}, name, log_path)
        process.log_path = log_path
        started.append(process)
        return process

    yield start
    for process in started:
        stop_worker(process)


@pytest.fixture
def worker(worker_env, tmp_path):
    log_path = tmp_path / "worker.log"
    process = start_worker(worker_env, "w1", log_path)
    process.log_path = log_path
    yield process
    stop_worker(process)
