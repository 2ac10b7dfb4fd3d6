"""gunicorn's settings for Vitrine, in one place:

    uv run gunicorn -c webapp/gunicorn_conf.py webapp.wsgi

HOST and PORT choose the address (127.0.0.1:8000; put a reverse proxy that terminates
HTTPS in front), WEB_CONCURRENCY the worker processes, WEB_THREADS the threads in each,
ACCESS_LOG=1 a one-line access log on stderr. Each worker loads the served models at
start, in the background (post_worker_init below).
"""

import os
from pathlib import Path


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# The checkout, so `webapp.wsgi` imports whatever directory gunicorn was started from.
chdir = str(Path(__file__).resolve().parent.parent)
# A page's work is Python and numpy on one core (scoring, templates), so processes, not
# threads, make use of the cores; a second thread per process keeps a slow page (a first
# model load, a photo search) from holding up every page behind it (more threads only
# contend for the process's GIL: 2 x 4 served 57 collector pages/s against 61 for 2 x 2).
# Every process holds its own copy of the served models, which bounds the count.
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, _cores()))
threads = int(os.environ.get("WEB_THREADS") or 2)
worker_class = "gthread"
# A worker takes no more connections than it has threads, so a busy one leaves the next
# connection to an idle one: by default a gthread worker accepts up to 1,000 and serves
# them in turn, and with kept-alive connections one worker could end up holding all of
# them while the others idle (half the throughput, p95 390 ms against 169 ms measured
# with wrk at 8 connections, docs/benchmarks.md). Hence no keep-alive either: a reverse
# proxy in front opens a connection per request to its upstream by default anyway.
worker_connections = threads
keepalive = 0
# Models load in each worker after the fork (no preload): torch and faiss threads and the
# warm-up's locks do not survive a fork, and a restarted worker loads the current models.
preload_app = False
timeout = 120  # a worker silent this long is restarted; the first photo search is slow
graceful_timeout = 30
# The heartbeat file on a memory file system: on a disk it can stall a worker (gunicorn's
# FAQ, "blocking os.fchmod").
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn's control socket lives at one fixed path per user: two servers on one machine
# (the demo and a benchmark, say) would take it from each other.
control_socket_disable = True
# One numpy/torch thread per worker unless the operator says otherwise: the workers
# already share the cores between them, and more threads each only fight over the same
# cores under load. Set here, in the master, so workers have it before importing numpy.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
errorlog = "-"
accesslog = "-" if os.environ.get("ACCESS_LOG", "") in ("1", "true", "yes", "on") else None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


def post_worker_init(worker) -> None:
    """The app is loaded (Django is set up): start loading the served models."""
    from webapp.curation.warm_up import warm_up_in_background

    warm_up_in_background()


def when_ready(server) -> None:
    server.log.info(
        "%d workers x %d threads (WEB_CONCURRENCY, WEB_THREADS)",
        server.cfg.workers,
        server.cfg.threads,
    )
