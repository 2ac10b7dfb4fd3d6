"""`manage.py rundemo`: the whole demo in one command, stopped with Ctrl-C.

Migrates, generates the demo gallery when the database is empty, creates the demo
logins, collects the static files, starts one Celery worker and the site under gunicorn
(Django's runserver with --dev), queues the default trainings that have not run yet, and
prints where to go.
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
from webapp.permissions import staff_group_ensure
from webapp.servers import (
    gunicorn_command,
    is_root,
    runserver_command,
    worker_command,
    worker_environment,
)

DEMO_USERS = (
    # (username, password env var, default password, is_staff)
    ("curator", "VITRINE_CURATOR_PASSWORD", "curator-demo", False),
    ("staff", "VITRINE_STAFF_PASSWORD", "staff-demo", True),
)
DEMO_STAFF = "staff"


def demo_users_ensure() -> list[tuple[str, str, bool]]:
    """Create the demo logins once; a second run keeps their passwords as they are.

    Neither is a superuser: the staff login may train, cancel, requeue, serve, delete and
    import because it is in the "Vitrine staff" group (webapp/permissions.py), and the
    curator holds no permission at all. Every run puts the accounts back in that state.
    """
    User = get_user_model()
    group = staff_group_ensure()
    created = []
    for username, env_name, default, is_staff in DEMO_USERS:
        password = os.environ.get(env_name, default)
        user, made = User.objects.get_or_create(username=username)
        if made:
            user.set_password(password)
        user.is_staff, user.is_superuser = is_staff, False
        user.save()
        user.user_permissions.clear()
        user.groups.set([group] if is_staff else [])
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
        parser.add_argument("--no-shop", action="store_true", help="do not run the simulated shop")
        parser.add_argument("--shop-visits", type=int, default=600)
        parser.add_argument(
            "--dev", action="store_true", help="serve with Django's runserver instead of gunicorn"
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
            queue = settings.CELERY_TASK_DEFAULT_QUEUE
            if is_root():
                self.stdout.write(
                    "The demo's worker runs as root, as this shell does; in production run "
                    "workers as an unprivileged user (docs/operations.md)."
                )
            children.append(self._spawn(worker_command(queue, "demo@%h"), env=worker_environment()))
            host, port = options["host"], options["port"]
            server = (
                runserver_command(host, port) if options["dev"] else gunicorn_command(host, port)
            )
            children.append(self._spawn(server))
            self.stdout.write(
                f"Started a worker on queue {queue} and the site under "
                + ("Django's development server." if options["dev"] else "gunicorn.")
            )
        with transaction.atomic():
            queued = default_training_jobs_create(
                user=get_user_model().objects.get(username=DEMO_STAFF), only_missing=True
            )
        if queued:
            self.stdout.write("Queued training: " + ", ".join(j.method for j in queued))
        else:
            self.stdout.write("Default methods already trained or queued; nothing new to train.")

        url = f"http://{options['host']}:{options['port']}/"
        shop = None
        if not options["no_serve"] and not options["no_shop"]:
            # The simulated shop waits for its arms' models, then shops through the API of
            # the server just started; it ends on its own, the site stays up.
            shop = self._spawn(
                [
                    sys.executable,
                    "manage.py",
                    "simulate_shop",
                    "--url",
                    url,
                    "--user",
                    DEMO_STAFF,
                    "--wait",
                    "3600",
                    "--visits",
                    str(options["shop_visits"]),
                ]
            )
            self.stdout.write(
                "The simulated shop starts once VisRank and CuratorNet are trained: "
                f"{url}experiments/ shows its experiment, {url}methods/ the off-policy estimates."
            )
        self.stdout.write(self.style.SUCCESS(f"\nVitrine is at {url}"))
        for username, password, is_staff in users:
            role = "staff (admin, training)" if is_staff else "curator"
            self.stdout.write(f"  {role:24s} login: {username} / {password}")
        self.stdout.write(f"  jobs: {url}jobs/   admin: {url}admin/")
        if options["no_serve"]:
            return
        self.stdout.write(f"  API: {url}api/v1/docs (tokens: admin, API clients)")
        self.stdout.write("Press Ctrl-C to stop the worker and the site.\n")
        self._supervise(children, extra=[shop] if shop else [])

    def _spawn(self, command: list[str], env: dict | None = None) -> subprocess.Popen:
        # Own process group, so Ctrl-C reaches us once and we stop the children in order.
        return subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, start_new_session=True)

    def _supervise(self, children: list[subprocess.Popen], extra=()) -> None:
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
            for child in [*children, *extra]:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for child in [*children, *extra]:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stdout.write("Stopped.")
