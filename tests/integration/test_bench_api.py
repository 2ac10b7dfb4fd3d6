"""`manage.py bench_api` end to end on a tiny gallery: gunicorn started twice (impressions
logged, then not), driven by wrk through the API with a token, events posted, and the
report written. Only its shape and that every answer succeeded are checked: the numbers
depend on the machine."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.subprocess_env import subprocess_env

from .conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt install wrk)")
def test_bench_api_reports_latency_with_and_without_impression_logging(tmp_path):
    out = tmp_path / "api.json"
    command = [
        sys.executable,
        "manage.py",
        "bench_api",
        "--sizes",
        "40",
        "--duration",
        "2",
        "--warm-up",
        "1",
        "--connections",
        "2",
        "--folder",
        str(tmp_path),
        "--out",
        str(out),
    ]
    env = subprocess_env(drop=("DATABASE_URL", "VITRINE_ARTEFACTS_ROOT", "MEDIA_ROOT"))
    result = subprocess.run(
        command, cwd=ROOT, env={**env, "WEB_CONCURRENCY": "1"}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    size = report["sizes"]["40"]
    assert size["artworks"] == 40 and size["collectors"] > 0
    for label in ("impressions logged", "impressions not logged"):
        assert set(size[label]["recommendations"]) == {"visrank", "popularity"}
        for row in size[label]["recommendations"].values():
            assert row["requests"] > 0 and row["not_200"] == 0
            assert not any(row["errors"].values())
            assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
    events = size["impressions logged"]["events"]
    assert events["requests"] > 0 and events["not_200"] == 0
    assert set(size["logging_cost"]["visrank"]) == {
        "p50_ms",
        "p95_ms",
        "throughput_ratio_on_over_off",
    }
    assert report["target"] == {"checked": False, "why": "100000 works were not measured"}
    assert "impression logging costs" in result.stdout

    # The logged run really wrote its lists and events (warm-up requests add more).
    import sqlite3

    with sqlite3.connect(tmp_path / "w40" / "bench.sqlite3") as db:
        impressions = db.execute("select count(*) from api_impression").fetchone()[0]
        events_stored = db.execute("select count(*) from api_apievent").fetchone()[0]
    logged = sum(r["requests"] for r in size["impressions logged"]["recommendations"].values())
    assert impressions >= logged  # wrk's count leaves out answers after its deadline
    assert events_stored >= events["requests"]
