"""Exceptions shared by the site and the workers; no Django models imported here, so the
Celery task module can name them at import time."""


class TransientJobError(Exception):
    """Raised to Celery so it retries the delivery with backoff; the job is queued again."""
