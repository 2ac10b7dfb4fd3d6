"""What the curator pages load on first use, loaded when a web process starts instead.

A fresh process otherwise spends its first collector page (14 to 20 s on two cores)
importing torch and faiss and reading every model it serves. gunicorn's
post_worker_init hook (webapp/gunicorn_conf.py) calls warm_up_in_background() once per
worker: the worker answers at once, and a page that needs a model still loading waits for
that model's lock rather than loading it again.
"""

import logging
import threading
import time

from django.db import connections

logger = logging.getLogger(__name__)
_started = threading.Lock()
_thread: threading.Thread | None = None


def pages_warm_up() -> dict:
    """Import the engine and load every served model with its index, the collector page's
    default method (with its job's model when that job is not the active one) and the
    visual neighbours' feature vectors. Returns what it loaded, for the log."""
    from webapp.curation.selectors.default_method import default_method
    from webapp.curation.selectors.visual import active_feature_space
    from webapp.jobs.serving import served_models_warm_up

    started = time.perf_counter()
    jobs = served_models_warm_up()
    default = default_method()
    if default is not None and default.job.pk not in {job.pk for job in jobs}:
        jobs += served_models_warm_up([default.job])
    space = active_feature_space()
    return {
        "jobs": [job.pk for job in jobs],
        "default": default.value if default is not None else None,
        "feature_set": space.feature_set.pk if space is not None else None,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _run() -> None:
    try:
        report = pages_warm_up()
    except Exception:  # e.g. a database not migrated yet: the pages will say so themselves
        logger.warning("warm-up failed; pages load their models on first use", exc_info=True)
    else:
        logger.info(
            "warm-up: %d served models loaded in %.1f s (default %s)",
            len(report["jobs"]),
            report["seconds"],
            report["default"] or "none yet",
        )
    finally:
        connections.close_all()  # this thread's own connections (they are per thread)


def warm_up_in_background() -> threading.Thread:
    """Start the warm-up in a daemon thread, once per process; returns that thread."""
    global _thread
    with _started:
        if _thread is None:
            _thread = threading.Thread(target=_run, name="vitrine-warm-up", daemon=True)
            _thread.start()
        return _thread
