"""`manage.py bench_pages`: p50 / p95 of every curator page on a 10,000-work gallery.

Self-contained, like bench_dispatch: a temporary SQLite database and media folder, the
demo gallery (small images: the pages, not the painter, are measured), popularity,
visrank and random trained in-process (training_job_run, no worker), then the site
started with `runserver --noreload` (DEBUG off) on 127.0.0.1 and each page requested
--requests times over HTTP by a logged-in client, after one warm-up request per page.
Prints a table and writes JSON with --out. --folder keeps the prepared gallery, so a
second run skips the minutes of preparation.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from webapp.curation.page_bench import (
    TARGET_P95_MS,
    PageSession,
    gallery_steps,
    measure,
    page_urls,
)

BENCH_USER = "bench-curator"


class Command(BaseCommand):
    help = "Measure p50/p95 latency of the curator pages on a generated 10,000-work gallery."

    def add_arguments(self, parser):
        parser.add_argument("--artworks", type=int, default=10_000)
        parser.add_argument("--collectors", type=int, default=2_000)
        parser.add_argument("--image-size", type=int, default=32)
        parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
        parser.add_argument("--out", help="write the report as JSON here")
        parser.add_argument("--folder", help="prepare (or reuse) the gallery in this folder")
        parser.add_argument("--prepare", action="store_true", help=_hidden())

    def handle(self, *args, **options):
        if options["prepare"]:
            return self._prepare(Path(options["folder"]))
        if options["folder"]:
            folder = Path(options["folder"]).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            return self._run(folder, options)
        with tempfile.TemporaryDirectory(prefix="vitrine-bench-pages-") as folder:
            return self._run(Path(folder), options)

    # ------------------------------------------------------------------ outer process
    def _run(self, folder: Path, options) -> None:
        env = {
            **os.environ,
            "VITRINE_VAR_DIR": str(folder),
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
            "MEDIA_ROOT": str(folder / "media"),
            "VITRINE_ARTEFACTS_ROOT": str(folder / "artefacts"),
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("DJANGO_ALLOW_ASYNC_UNSAFE", "CELERY_BROKER_URL", "VITRINE_S3_BUCKET"):
            env.pop(name, None)
        manage = [sys.executable, "manage.py"]
        plan_file = folder / "plan.json"
        if not plan_file.exists():
            steps = gallery_steps(folder, options)
            for step in steps:
                started = time.perf_counter()
                self.stderr.write(f"{step[0]} …")
                result = subprocess.run(
                    manage + step, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True
                )
                if result.returncode:
                    raise CommandError(f"{step[0]} failed:\n{result.stdout}\n{result.stderr}")
                self.stderr.write(f"  {step[0]}: {time.perf_counter() - started:.0f} s")
        else:
            subprocess.run(manage + ["migrate", "-v", "0"], env=env, cwd=settings.BASE_DIR)
        plan = json.loads(plan_file.read_text())
        port = _free_port()
        log = folder / "runserver.log"
        server = subprocess.Popen(
            manage + ["runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_up(base, server, log)
            session = PageSession(base)
            session.log_in(plan["username"], plan["password"])
            load_before = os.getloadavg()
            urls = page_urls(plan, options["requests"])
            self.stdout.write(
                f"{'page':32s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} {'first ms':>9s}"
            )
            pages = measure(session, urls, progress=self._row)
            load_after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(timeout=30)
        report = {
            "command": "manage.py bench_pages " + " ".join(sys.argv[2:]),
            "gallery": plan["gallery"],
            "server": "manage.py runserver --noreload (DEBUG off, SQLite)",
            "cpus": os.cpu_count(),
            "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "target_p95_ms": TARGET_P95_MS,
            "all_under_target": all(p["p95_ms"] < TARGET_P95_MS for p in pages.values()),
            "pages": pages,
        }
        verdict = "all pages under" if report["all_under_target"] else "SOME PAGES OVER"
        self.stdout.write(
            f"{verdict} {TARGET_P95_MS:.0f} ms at p95 ({plan['gallery']['artworks']} works, "
            f"{plan['gallery']['collectors']} collectors; load average "
            f"{report['load_average_before_after'][0]} -> {report['load_average_before_after'][1]}"
            f" on {report['cpus']} CPUs)"
        )
        if options["out"]:
            Path(options["out"]).write_text(json.dumps(report, indent=2))

    def _row(self, name: str, row: dict) -> None:
        self.stdout.write(
            f"{name:32s} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f} {row['max_ms']:8.1f} "
            f"{row['first_ms']:9.1f}"
        )

    # ------------------------------------------------------------------ inner process
    def _prepare(self, folder: Path) -> None:
        """Train the compared methods and write the plan: ids to request and a login."""
        from django.contrib.auth.models import User
        from django.db.models import Count, Q

        from webapp.catalogue.models import Artist, Artwork, Collector
        from webapp.curation.selectors.artworks import catalogue_facets
        from webapp.jobs.running import training_job_run
        from webapp.jobs.services import training_job_create
        from webapp.permissions import staff_group_ensure

        trainer, _ = User.objects.get_or_create(username="bench-staff")
        trainer.groups.add(staff_group_ensure())
        jobs = {}
        for method in ("popularity", "visrank", "random"):
            job = training_job_create(method=method, user=trainer, enqueue=False)
            if training_job_run(job_id=job.pk) != "succeeded":
                job.refresh_from_db()
                raise CommandError(f"training {method} failed: {job.error}")
            jobs[method] = job.pk
        password = secrets.token_urlsafe(16)
        User.objects.filter(username=BENCH_USER).delete()
        User.objects.create_user(BENCH_USER, password=password)
        consumed = Count("interactions", filter=Q(interactions__kind__in=["purchase", "like"]))
        collectors = list(
            Collector.objects.annotate(n=consumed).filter(n__gte=2).values_list("pk", flat=True)
        )
        facets = catalogue_facets()
        titles = Artwork.objects.values_list("title", flat=True)[:500]
        plan = {
            "username": BENCH_USER,
            "password": password,
            "jobs": jobs,
            "gallery": {
                "artworks": Artwork.objects.count(),
                "collectors": Collector.objects.count(),
                "artists": Artist.objects.count(),
            },
            "artworks": list(Artwork.objects.exclude(image="").values_list("pk", flat=True)),
            "collectors": collectors,
            "collector_pages": Collector.objects.count() // 50,
            "artists": [pk for pk, _ in facets.artists],
            "media": facets.media,
            "tags": facets.tags,
            "words": sorted({w for t in titles for w in t.split() if w.isalpha() and len(w) > 3})[
                :50
            ],
        }
        (folder / "plan.json").write_text(json.dumps(plan))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CommandError(f"runserver stopped:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "/accounts/login/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise CommandError(f"runserver did not answer within 90 s:\n{log.read_text()[-3000:]}")


def _hidden():
    import argparse

    return argparse.SUPPRESS
