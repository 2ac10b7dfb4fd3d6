"""`manage.py train METHOD ...`: queue training jobs from a script, or run them here.

manage.py train --user staff visrank popularity    # queue for the workers
manage.py train --user staff --defaults --here     # run in this process, print a table

The user (--user, or $VITRINE_USER) needs the jobs.train_job permission.
"""

import json

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from webapp.jobs.broker import broker_problem
from webapp.jobs.models import TrainingJob
from webapp.jobs.running import training_job_run
from webapp.jobs.services import JobError, default_training_jobs_create, training_job_create
from webapp.permissions import command_user, user_argument_add

SHOWN = ("AUC", "Recall@10", "NDCG@10", "Recall@20", "NDCG@20", "test_users", "fit_seconds")


class Command(BaseCommand):
    help = "Queue (or, with --here, run) training jobs for the given methods."

    def add_arguments(self, parser):
        parser.add_argument("methods", nargs="*", help="engine model names")
        parser.add_argument("--defaults", action="store_true", help="the default methods")
        parser.add_argument("--params", default="{}", help="JSON hyperparameters for every method")
        parser.add_argument("--here", action="store_true", help="run now in this process")
        parser.add_argument("--json", dest="json_path", help="with --here: write metrics here")
        user_argument_add(parser)

    def handle(self, *args, methods, defaults, params, here, json_path, acting_user, **options):
        user = command_user(acting_user)
        if not methods and not defaults:
            raise CommandError("name at least one method, or pass --defaults")
        if not here and (problem := broker_problem()):
            raise CommandError(f"{problem}; nothing was queued (start it, or use --here)")
        try:
            hyperparameters = json.loads(params)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not JSON: {exc}") from exc
        try:
            with transaction.atomic():
                jobs = default_training_jobs_create(user=user, enqueue=not here) if defaults else []
                jobs += [
                    training_job_create(
                        method=m, params=hyperparameters, user=user, enqueue=not here
                    )
                    for m in methods
                ]
        except (JobError, PermissionDenied) as exc:
            raise CommandError(str(exc)) from exc
        if not here:
            # The jobs were sent on commit; one the broker refused is failed by now.
            unsent = TrainingJob.objects.filter(
                pk__in=[j.pk for j in jobs], status=TrainingJob.Status.FAILED
            )
            if unsent:
                ids = ", ".join(f"#{j.pk}" for j in unsent)
                raise CommandError(f"{unsent[0].error.splitlines()[0]} (job {ids} failed)")
            self.stdout.write("Queued: " + ", ".join(f"#{j.pk} {j.method}" for j in jobs))
            return
        results = {}
        for job in jobs:
            with tqdm(total=100, desc=job.method, unit="%") as bar:

                def show(fraction: float, message: str, bar=bar, **details) -> None:
                    bar.update(round(100 * fraction) - bar.n)
                    bar.set_postfix_str(message[:40])

                training_job_run(job_id=job.pk, on_progress=show)
                bar.update(100 - bar.n)
            job.refresh_from_db()
            if job.status != TrainingJob.Status.SUCCEEDED:
                first_line = job.error.splitlines()[0] if job.error else ""
                self.stderr.write(f"{job.method}: {job.status} {first_line}")
                continue
            results[job.method] = {"job": job.pk, **job.metrics}
        self._table(results)
        if json_path:
            with open(json_path, "w") as handle:
                json.dump(results, handle, indent=2)

    def _table(self, results: dict) -> None:
        self.stdout.write("method".ljust(14) + "".join(name.rjust(12) for name in SHOWN))
        for method, metrics in results.items():
            cells = "".join(_cell(metrics.get(name)).rjust(12) for name in SHOWN)
            self.stdout.write(method.ljust(14) + cells)


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str("—" if value is None else value)
