"""`manage.py bench_load` end to end on a tiny gallery: both servers started, logged in,
driven by wrk, and the report written. Only the report's shape is checked: its numbers
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
def test_bench_load_reports_both_servers_and_pages(tmp_path):
    out = tmp_path / "load.json"
    command = [
        sys.executable,
        "manage.py",
        "bench_load",
        "--artworks",
        "40",
        "--collectors",
        "10",
        "--duration",
        "2",
        "--warm-up",
        "1",
        "--folder",
        str(tmp_path / "gallery"),
        "--out",
        str(out),
    ]
    env = subprocess_env(drop=("DATABASE_URL", "VITRINE_ARTEFACTS_ROOT", "MEDIA_ROOT"))
    result = subprocess.run(
        command, cwd=ROOT, env={**env, "WEB_CONCURRENCY": "1"}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["gallery"]["artworks"] == 40 and report["gallery"]["collectors"] == 10
    assert report["connections"] == 8 and report["duration_s"] == 2
    assert set(report["servers"]) == {"gunicorn", "runserver"}
    for name, server in report["servers"].items():
        assert server["answered_after_s"] > 0
        assert server["first_collector_page_ms"] > 0 and server["second_collector_page_ms"] > 0
        assert set(server["pages"]) == {"collector page", "compare page"}
        assert server["memory_mb"]["processes"] == (2 if name == "gunicorn" else 1)
        assert server["memory_mb"]["largest"] > 0
        for row in server["pages"].values():
            assert row["requests"] > 0 and row["not_200"] == 0
            assert not any(row["errors"].values())
            assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
            assert row["requests_per_s"] > 0
    gunicorn = report["servers"]["gunicorn"]
    assert gunicorn["workers"] == 1 and gunicorn["threads"] == 2
    assert gunicorn["warmed_up_after_s"] is not None
    assert set(report["ratio_gunicorn_over_runserver"]) == {"collector page", "compare page"}
    assert report["target"]["page"] == "collector page" and "met" in report["target"]
    assert "gunicorn / runserver" in result.stdout

    # A second run reuses the prepared gallery; a different size is refused, named.
    command[command.index("--artworks") + 1] = "50"
    refused = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "holds a gallery of 40 works and 10 collectors, not 50 and 10" in refused.stderr
