"""How the site is served: gunicorn's settings as measured best (docs/benchmarks.md, "The
site under load"), and what keeps a collector page cheap under load."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection

from tests.subprocess_env import subprocess_env
from webapp.catalogue.selectors import artworks_available

ROOT = Path(__file__).resolve().parents[2]
READ_CONF = (
    "import json, os, runpy; conf = runpy.run_path('webapp/gunicorn_conf.py'); "
    "names = 'bind workers threads worker_class worker_connections keepalive preload_app "
    "control_socket_disable accesslog'.split(); "
    "print(json.dumps({**{n: conf[n] for n in names}, 'omp': os.environ['OMP_NUM_THREADS']}))"
)


def gunicorn_conf(**env: str) -> dict:
    clean = subprocess_env(
        drop=("WEB_CONCURRENCY", "WEB_THREADS", "HOST", "PORT", "ACCESS_LOG", "OMP_NUM_THREADS")
    )
    result = subprocess.run(
        [sys.executable, "-c", READ_CONF],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_gunicorn_defaults_one_worker_per_core_with_two_threads_each():
    conf = gunicorn_conf()
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["workers"] == max(2, len(os.sched_getaffinity(0)))
    assert conf["threads"] == 2 and conf["worker_class"] == "gthread"
    assert conf["accesslog"] is None and conf["control_socket_disable"] is True
    assert conf["preload_app"] is False  # models load after the fork, in each worker


def test_a_gunicorn_worker_takes_no_more_connections_than_it_has_threads():
    """Else one worker can hold every kept-alive connection while the others idle."""
    conf = gunicorn_conf(WEB_CONCURRENCY="3", WEB_THREADS="3", HOST="0.0.0.0", PORT="9000")
    assert (conf["workers"], conf["threads"], conf["worker_connections"]) == (3, 3, 3)
    assert conf["keepalive"] == 0
    assert conf["bind"] == "0.0.0.0:9000"
    assert gunicorn_conf(ACCESS_LOG="1")["accesslog"] == "-"


def test_gunicorn_workers_run_one_blas_thread_unless_the_operator_says():
    assert gunicorn_conf()["omp"] == "1"
    assert gunicorn_conf(OMP_NUM_THREADS="4")["omp"] == "4"


@pytest.mark.django_db
def test_unsold_works_are_found_without_scanning_every_event():
    if connection.vendor != "sqlite":
        pytest.skip("the query plan checked is SQLite's")
    sql, params = artworks_available().values_list("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = [row[-1] for row in cursor.fetchall()]
    events = [step for step in plan if " U0 " in f"{step} "]
    assert events, plan
    assert all(step.startswith("SEARCH U0 USING COVERING INDEX") for step in events), plan
    assert all("(kind=?)" in step for step in events), plan


def test_the_cache_keeps_a_pixel_sample_for_every_work_of_a_large_gallery():
    """10,000 works' samples and 2,000 collectors' palettes fit; Django's default (300)
    evicted them, and every collector page decoded its works' images again."""
    cache.clear()
    try:
        cache.set_many({f"vitrine:test:{i}": b"x" for i in range(12_000)})
        assert cache.get("vitrine:test:0") == b"x"
    finally:
        cache.clear()
