"""The Celery app. Start a worker with:

    celery -A workers.celery worker -Q cpu --concurrency 1 --loglevel INFO

Configuration comes from Django settings (the CELERY_ namespace in webapp/settings.py).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("vitrine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"])
