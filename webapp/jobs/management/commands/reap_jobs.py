"""`manage.py reap_jobs`: requeue (or fail) running jobs whose worker stopped beating."""

from django.core.management.base import BaseCommand

from webapp.jobs.reaping import jobs_reap


class Command(BaseCommand):
    help = "Requeue running jobs whose worker is gone; fail those out of attempts."

    def handle(self, *args, **options):
        outcome = jobs_reap()
        self.stdout.write(f"requeued {outcome['requeued']}, failed {outcome['failed']}")
