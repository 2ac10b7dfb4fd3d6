"""The command lines that start Vitrine's processes: the site under gunicorn (production,
the demo, the load benchmark) or Django's runserver (development), and a Celery worker."""

import os
import sys
from pathlib import Path

GUNICORN_CONF = Path(__file__).with_name("gunicorn_conf.py")
# Celery warns at length, once per start, when a worker runs as root; the demo prints one
# line of its own instead (worker_environment). Matched from the message's start.
ROOT_WARNING = "You're running the worker with superuser privileges"


def gunicorn_command(host: str, port: int) -> list[str]:
    """gunicorn with webapp/gunicorn_conf.py, bound to host:port."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(GUNICORN_CONF),
        "--bind",
        f"{host}:{port}",
        "webapp.wsgi",
    ]


def runserver_command(host: str, port: int) -> list[str]:
    """Django's development server (no autoreload: a supervisor stops it by its pid)."""
    return [sys.executable, "manage.py", "runserver", "--noreload", f"{host}:{port}"]


def worker_command(queue: str, name: str) -> list[str]:
    """One Celery worker process on a queue; --quiet drops the start-up banner."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery",
        "--quiet",
        "worker",
        "-Q",
        queue,
        "--concurrency",
        "1",
        "--loglevel",
        "INFO",
        "-n",
        name,
    ]


def worker_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a worker the demo starts: as it is, plus a warnings filter
    for Celery's superuser warning when running as root (a container, a fresh VM)."""
    env = dict(os.environ if environ is None else environ)
    if is_root():
        ignore = f"ignore:{ROOT_WARNING}"
        env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS"), ignore]))
    return env


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
