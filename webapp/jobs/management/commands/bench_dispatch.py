"""`manage.py bench_dispatch`: time from a staff click to the job running on an idle worker.

Self-contained: a temporary database and media folder, a small demo gallery, and one
real worker process on the configured broker kind (the filesystem transport by default,
Redis with --broker redis://...). Each of --jobs trainings is created the way the
"Train" button does it (saved, then sent on commit), and the time until the worker has
claimed it (status running) is measured, after the site process has loaded the engine
registry once; the next job starts once the worker is idle again. Prints p50 / p99
and writes JSON with --out.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class Command(BaseCommand):
    help = "Measure click-to-running latency of training jobs on an idle worker."

    def add_arguments(self, parser):
        parser.add_argument("--jobs", type=int, default=20)
        parser.add_argument("--broker", default="", help="e.g. redis://127.0.0.1:6379/14")
        parser.add_argument("--out")
        parser.add_argument("--inner", action="store_true", help=argparse_hidden())

    def handle(self, *args, jobs, broker, out, inner, **options):
        if inner:
            return self._measure(jobs, out)
        with tempfile.TemporaryDirectory() as folder:
            env = {
                **os.environ,
                "VITRINE_VAR_DIR": folder,
                "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
                "MEDIA_ROOT": f"{folder}/media",
                "VITRINE_ARTEFACTS_ROOT": f"{folder}/artefacts",
                "PYTHONUNBUFFERED": "1",
            }
            env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            if broker:
                env["CELERY_BROKER_URL"] = broker
            else:
                env.pop("CELERY_BROKER_URL", None)
            manage = [sys.executable, "manage.py"]
            for step in (
                ["migrate", "-v", "0"],
                ["make_demo_gallery", "--artworks", "60", "--collectors", "15"],
            ):
                subprocess.run(
                    manage + step, env=env, cwd=settings.BASE_DIR, check=True, capture_output=True
                )
            log = Path(folder) / "worker.log"
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "workers.celery",
                    "worker",
                    "-Q",
                    "cpu",
                    "--concurrency",
                    "1",
                    "-n",
                    "bench@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel",
                    "INFO",
                ],
                env=env,
                cwd=settings.BASE_DIR,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + 60
                while b"ready." not in log.read_bytes():
                    if time.monotonic() > deadline or worker.poll() is not None:
                        raise CommandError(f"the worker did not start:\n{log.read_text()}")
                    time.sleep(0.2)
                args = manage + ["bench_dispatch", "--inner", "--jobs", str(jobs)]
                if out:
                    args += ["--out", str(Path(out).resolve())]
                result = subprocess.run(
                    args, env=env, cwd=settings.BASE_DIR, text=True, capture_output=True
                )
                self.stdout.write(result.stdout)
                if result.returncode:
                    raise CommandError(result.stderr)
            finally:
                worker.terminate()
                worker.wait(timeout=30)

    def _measure(self, jobs: int, out: str | None) -> None:
        from django.contrib.auth.models import User

        from webapp.jobs.methods import trainable_models
        from webapp.jobs.models import TrainingJob
        from webapp.jobs.services import training_job_create
        from webapp.permissions import staff_group_ensure

        # The site imports the engine's registry once per process (the first page listing
        # methods does it); that one-off cost is not the dispatch being measured.
        trainable_models()
        # The temporary database's staff member clicks, as on the site.
        user, _ = User.objects.get_or_create(username="bench-staff")
        user.groups.add(staff_group_ensure())
        latencies = []
        for _ in range(jobs):
            started = time.perf_counter()
            with transaction.atomic():  # the Train button: saved, then sent on commit
                job = training_job_create(method="popularity", user=user)
            while TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.QUEUED).exists():
                time.sleep(0.002)
            latencies.append(time.perf_counter() - started)
            deadline = time.monotonic() + 60
            while not TrainingJob.objects.get(pk=job.pk).is_finished:  # idle before the next
                if time.monotonic() > deadline:
                    raise CommandError(f"job {job.pk} did not finish")
                time.sleep(0.01)
        values = np.asarray(latencies) * 1000
        report = {
            "broker": settings.CELERY_BROKER_URL.split("@")[-1],
            "jobs": jobs,
            "p50_ms": round(float(np.percentile(values, 50)), 1),
            "p99_ms": round(float(np.percentile(values, 99)), 1),
            "mean_ms": round(float(values.mean()), 1),
            "max_ms": round(float(values.max()), 1),
        }
        self.stdout.write(
            f"click to running on an idle worker ({report['broker']}, {jobs} jobs): "
            f"p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms"
        )
        if out:
            Path(out).write_text(json.dumps(report, indent=2))


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS
