"""`manage.py bench_load`: requests/s and p50/p95/p99 of the collector and compare pages
under gunicorn and under runserver, at 8 connections, on a 10,000-work gallery.

The gallery is the one bench_pages prepares (demo gallery with small images; popularity,
visrank and random trained in-process), in its own folder with its own SQLite database
(--folder, reused by the next run). Each server is started in turn on a free port with
DEBUG off, a curator logs in, and wrk (/usr/bin/wrk) drives it for --duration seconds
with a Lua script that sends the session cookie and cycles through many collectors,
after an untimed --warm-up run. Prints a table and the gunicorn / runserver ratios, and
writes JSON with --out.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from webapp.curation.load_bench import WRK, ServerRun, free_port, wrk_run, wrk_script
from webapp.curation.page_bench import TARGET_P95_MS, PageSession, gallery_steps, page_urls
from webapp.servers import gunicorn_command, runserver_command

SERVERS = ("gunicorn", "runserver")
# name in the report -> page_urls' name for it
PAGES = {"collector page": "collector page", "compare page": "side by side (3 methods)"}
TARGET_PAGE, TARGET_SERVER = "collector page", "gunicorn"
URLS_PER_PAGE = 1000
WORKERS_LINE = r"(\d+) workers x (\d+) threads"  # gunicorn_conf.when_ready's line
WARMED_LINE = r"warm-up(:| failed)"  # webapp/curation/warm_up.py, once per worker


class Command(BaseCommand):
    help = "Load-test the collector and compare pages under gunicorn and runserver with wrk."

    def add_arguments(self, parser):
        parser.add_argument("--artworks", type=int, default=10_000)
        parser.add_argument("--collectors", type=int, default=2_000)
        parser.add_argument("--image-size", type=int, default=32)
        parser.add_argument("--duration", type=float, default=60, help="seconds per run (60)")
        parser.add_argument("--warm-up", type=float, default=5, help="untimed seconds first")
        parser.add_argument("--connections", type=int, default=8)
        parser.add_argument("--wrk-threads", type=int, default=2)
        parser.add_argument("--servers", default=",".join(SERVERS), help="gunicorn,runserver")
        parser.add_argument("--folder", help="gallery folder (default: VAR_DIR/bench-load)")
        parser.add_argument("--out", help="write the report as JSON here")

    def handle(self, *args, **options):
        if not Path(WRK).exists():
            raise CommandError(f"{WRK} is missing: apt-get install wrk")
        servers = [s.strip() for s in options["servers"].split(",") if s.strip()]
        unknown = sorted(set(servers) - set(SERVERS))
        if unknown or not servers:
            raise CommandError(f"--servers takes {', '.join(SERVERS)}, not {options['servers']!r}")
        if options["connections"] < options["wrk_threads"]:
            raise CommandError("--connections must be at least --wrk-threads")
        folder = Path(options["folder"] or Path(settings.VAR_DIR) / "bench-load").resolve()
        folder.mkdir(parents=True, exist_ok=True)
        env = _environment(folder)
        plan = self._prepare(folder, env, options)
        urls = page_urls(plan, URLS_PER_PAGE)
        load_before = os.getloadavg()
        try:
            results = {
                name: self._measure(name, folder, env, plan, urls, options) for name in servers
            }
        except RuntimeError as error:  # a server that stopped or never answered, wrk failing
            raise CommandError(str(error)) from None
        load_after = os.getloadavg()
        report = {
            "command": "manage.py bench_load " + " ".join(sys.argv[2:]),
            "gallery": plan["gallery"],
            "cpus": os.cpu_count(),
            "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "duration_s": options["duration"],
            "connections": options["connections"],
            "wrk_threads": options["wrk_threads"],
            "database": "SQLite (DEBUG off)",
            "servers": results,
            "ratio_gunicorn_over_runserver": _ratios(results),
            "target": _target(results),
        }
        self._print(report)
        if options["out"]:
            Path(options["out"]).write_text(json.dumps(report, indent=2) + "\n")
        failed = [
            f"{server} {page}: {row['not_200']} answers not 200, errors {row['errors']}"
            for server, result in results.items()
            for page, row in result["pages"].items()
            if row["not_200"] or any(row["errors"].values())
        ]
        if failed:
            raise CommandError("some requests failed:\n" + "\n".join(failed))

    # ------------------------------------------------------------------ the gallery
    def _prepare(self, folder: Path, env: dict, options) -> dict:
        """bench_pages' gallery and trainings in `folder`, made once; a later run with the
        same sizes reuses them."""
        manage = [sys.executable, "manage.py"]
        plan_file = folder / "plan.json"
        if plan_file.exists():
            plan = json.loads(plan_file.read_text())
            made = plan["gallery"]
            if (made["artworks"], made["collectors"]) != (
                options["artworks"],
                options["collectors"],
            ):
                raise CommandError(
                    f"{folder} holds a gallery of {made['artworks']} works and "
                    f"{made['collectors']} collectors, not {options['artworks']} and "
                    f"{options['collectors']}: choose another --folder or delete this one"
                )
            steps = [["migrate", "-v", "0"]]
        else:
            steps = gallery_steps(folder, options)
        steps.append(["collectstatic", "--noinput", "-v", "0"])
        for step in steps:
            started = time.perf_counter()
            result = subprocess.run(
                manage + step, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True
            )
            if result.returncode:
                raise CommandError(f"{step[0]} failed:\n{result.stdout}\n{result.stderr}")
            self.stderr.write(f"  {step[0]}: {time.perf_counter() - started:.0f} s")
        return json.loads(plan_file.read_text())

    # ------------------------------------------------------------------ one server
    def _measure(self, name: str, folder: Path, env: dict, plan: dict, urls, options) -> dict:
        port = free_port()
        command = (
            gunicorn_command("127.0.0.1", port)
            if name == "gunicorn"
            else runserver_command("127.0.0.1", port)
        )
        server = ServerRun(name, command, env, settings.BASE_DIR, folder / f"{name}.log", port)
        with server:
            server.wait_until_up()
            warmed_after = None
            if name == "gunicorn":
                # Every worker loads the served models in the background at start; measure
                # once they all have, so no worker's loading runs during the timed load.
                server.wait_for_log(WORKERS_LINE, 1)
                warmed_after = server.wait_for_log(WARMED_LINE, _workers(server)[0])
            session = PageSession(server.base_url)
            session.log_in(plan["username"], plan["password"])
            # The first collector page a curator opens after the start, then another
            # collector's: runserver loads the models on the first; gunicorn has already.
            first_url, second_url = urls[PAGES[TARGET_PAGE]][:2]
            first = session.get(first_url)[2]
            first_after = time.monotonic() - server.started_at
            second = session.get(second_url)[2]
            cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
            pages = {}
            for page, source in PAGES.items():
                script = folder / f"wrk-{name}-{page.split()[0]}.lua"
                script.write_text(wrk_script(urls[source], cookie))
                drive = dict(
                    base_url=server.base_url,
                    script=script,
                    connections=options["connections"],
                    threads=options["wrk_threads"],
                )
                if options["warm_up"] > 0:
                    wrk_run(duration_s=options["warm_up"], **drive)
                pages[page] = wrk_run(duration_s=options["duration"], **drive)
                self.stderr.write(f"  {name} {page}: {pages[page]['requests_per_s']} req/s")
            memory = server.memory_mb()
        workers, threads = _workers(server)
        return {
            "command": " ".join(command),
            "workers": workers,
            "threads": threads,
            "answered_after_s": server.answered_after_s,
            "warmed_up_after_s": warmed_after,
            "first_collector_page_ms": round(first * 1000, 1),
            "first_collector_page_after_start_s": round(first_after, 2),
            "second_collector_page_ms": round(second * 1000, 1),
            # after the load: the largest process is a worker holding the served models
            "memory_mb": {
                "processes": len(memory),
                "total": round(sum(memory.values()), 1),
                "largest": max(memory.values(), default=None),
            },
            "pages": pages,
        }

    def _print(self, report: dict) -> None:
        header = f"{'server':10s} {'page':15s} {'req/s':>7s} {'p50':>7s} {'p95':>7s} {'p99':>7s}"
        self.stdout.write(header + " (ms)")
        for server, result in report["servers"].items():
            for page, row in result["pages"].items():
                self.stdout.write(
                    f"{server:10s} {page:15s} {row['requests_per_s']:7.1f} {row['p50_ms']:7.1f} "
                    f"{row['p95_ms']:7.1f} {row['p99_ms']:7.1f}"
                )
        for page, ratio in report["ratio_gunicorn_over_runserver"].items():
            self.stdout.write(
                f"gunicorn / runserver, {page}: {ratio['requests_per_s']:.2f} x the requests/s, "
                f"{ratio['p95_ms']:.2f} x the p95"
            )
        target = report["target"]
        if target["p95_ms"] is not None:
            verdict = "met" if target["met"] else "MISSED"
            self.stdout.write(
                f"target {verdict}: {TARGET_PAGE} p95 {target['p95_ms']:.0f} ms under "
                f"{TARGET_SERVER} (target < {TARGET_P95_MS:.0f} ms) at "
                f"{report['connections']} connections; load average "
                f"{report['load_average_before_after'][0]} -> "
                f"{report['load_average_before_after'][1]} on {report['cpus']} CPUs"
            )


def _workers(server: ServerRun) -> tuple[int, int | None]:
    """(processes, threads each) as gunicorn logged them (webapp/gunicorn_conf.py);
    runserver is one process."""
    found = re.search(WORKERS_LINE, server.log.read_text(errors="replace"))
    return (int(found.group(1)), int(found.group(2))) if found else (1, None)


def _environment(folder: Path) -> dict:
    """Every process of the benchmark on the folder's own database and files."""
    env = {
        **os.environ,
        "VITRINE_VAR_DIR": str(folder),
        "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
        "MEDIA_ROOT": str(folder / "media"),
        "VITRINE_ARTEFACTS_ROOT": str(folder / "artefacts"),
        "STATIC_ROOT": str(folder / "staticfiles"),
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    for name in (
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "CELERY_BROKER_URL",
        "VITRINE_S3_BUCKET",
        "VITRINE_ENV",
        "SECRET_KEY",
    ):
        env.pop(name, None)
    return env


def _ratios(results: dict) -> dict:
    if not set(SERVERS) <= set(results):
        return {}
    ratios = {}
    for page in PAGES:
        fast, slow = results["gunicorn"]["pages"][page], results["runserver"]["pages"][page]
        ratios[page] = {
            "requests_per_s": round(fast["requests_per_s"] / max(slow["requests_per_s"], 1e-9), 2),
            "p95_ms": round(fast["p95_ms"] / max(slow["p95_ms"], 1e-9), 2),
        }
    return ratios


def _target(results: dict) -> dict:
    row = results.get(TARGET_SERVER, {}).get("pages", {}).get(TARGET_PAGE)
    return {
        "page": TARGET_PAGE,
        "server": TARGET_SERVER,
        "target_p95_ms": TARGET_P95_MS,
        "p95_ms": row["p95_ms"] if row else None,
        "met": bool(row and row["p95_ms"] < TARGET_P95_MS),
    }
