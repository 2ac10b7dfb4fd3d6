"""`manage.py bench_api`: the shop's API under gunicorn on 127.0.0.1, driven by wrk for a
fixed duration and number of connections: a collector's top 20 (p50/p95/p99, requests/s)
at each catalogue size, with impression logging on and off (its cost, measured in the same
run), and event ingestion. Target: p95 < 50 ms for the top 20 at 100,000 works.

Each size has its own folder and SQLite database (bench_pages' gallery: the demo generator
with small images, popularity, visrank and random trained), reused by the next run.
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

from webapp.api.api_bench import api_script, event_body, recommendation_paths
from webapp.curation.load_bench import WRK, ServerRun, free_port, wrk_run
from webapp.curation.management.commands.bench_load import (
    WARMED_LINE,
    WORKERS_LINE,
    _environment,
    _workers,
)
from webapp.curation.page_bench import gallery_steps
from webapp.servers import gunicorn_command

TARGET = {"artworks": 100_000, "p95_ms": 50.0}
PATHS = 2000


class Command(BaseCommand):
    help = "Latency and throughput of the API under gunicorn, with wrk (bounded)."

    def add_arguments(self, parser):
        parser.add_argument("--sizes", default="10000,100000", help="catalogue sizes")
        parser.add_argument("--duration", type=float, default=20, help="seconds per run")
        parser.add_argument("--warm-up", type=float, default=3)
        parser.add_argument("--connections", type=int, default=8)
        parser.add_argument("--wrk-threads", type=int, default=2)
        parser.add_argument(
            "--methods",
            default="visrank,popularity",
            help="the methods asked for, in turn (the target is read on the first)",
        )
        parser.add_argument("--k", type=int, default=20)
        parser.add_argument("--folder", help="galleries' folder (default VAR_DIR/bench-api)")
        parser.add_argument("--out", help="write the report as JSON here")
        parser.add_argument("--describe", action="store_true", help="(internal)")

    def handle(self, *args, **options):
        if options["describe"]:
            return self._describe()
        if not Path(WRK).exists():
            raise CommandError(f"{WRK} is missing: apt-get install wrk")
        root = Path(options["folder"] or Path(settings.VAR_DIR) / "bench-api").resolve()
        sizes = [int(s) for s in options["sizes"].split(",") if s.strip()]
        load_before = os.getloadavg()
        results = {}
        try:
            for size in sizes:
                results[str(size)] = self._size(root / f"w{size}", size, options)
        except RuntimeError as error:
            raise CommandError(str(error)) from None
        report = {
            "command": "manage.py bench_api " + " ".join(sys.argv[2:]),
            "cpus": os.cpu_count(),
            "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "database": "SQLite (DEBUG off)",
            "duration_s": options["duration"],
            "connections": options["connections"],
            "methods": _methods(options),
            "k": options["k"],
            "sizes": results,
            "target": self._target(results),
        }
        self._print(report)
        if options["out"]:
            Path(options["out"]).write_text(json.dumps(report, indent=2) + "\n")

    # ------------------------------------------------------------------ one size
    def _size(self, folder: Path, size: int, options) -> dict:
        folder.mkdir(parents=True, exist_ok=True)
        env = _environment(folder)
        manage = [sys.executable, "manage.py"]
        steps = [["migrate", "-v", "0"]]
        if not (folder / "plan.json").exists():
            steps = gallery_steps(
                folder, {"artworks": size, "collectors": max(10, size // 5), "image_size": 32}
            )
        for step in steps:
            started = time.perf_counter()
            done = subprocess.run(
                manage + step, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True
            )
            if done.returncode:
                raise CommandError(f"{step[0]} failed:\n{done.stdout}\n{done.stderr}")
            self.stderr.write(f"  {size}: {step[0]} {time.perf_counter() - started:.0f} s")
        made = subprocess.run(
            manage
            + [
                "api_token",
                "create",
                f"bench {time.time():.0f}",
                "--scope",
                "read",
                "--scope",
                "write",
                "--per-minute",
                "100000000",
                "--user",
                "bench-staff",
            ],
            env=env,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
        )
        found = re.search(r"(vt_[A-Za-z0-9_-]+)", made.stdout)
        if not found:
            raise CommandError(f"could not make a token:\n{made.stdout}\n{made.stderr}")
        token = found.group(1)
        described = subprocess.run(
            manage + ["bench_api", "--describe"],
            env=env,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
        )
        plan = json.loads(described.stdout.strip().splitlines()[-1])
        paths = {
            m: recommendation_paths(plan["collectors"], m, options["k"], PATHS)
            for m in _methods(options)
        }
        result = {"artworks": plan["artworks"], "collectors": len(plan["collectors"])}
        for logging in (True, False):
            label = "impressions logged" if logging else "impressions not logged"
            run_env = {**env, "VITRINE_LOG_IMPRESSIONS": "1" if logging else "0"}
            result[label] = self._serve(
                folder, run_env, label, token, paths, plan, options, events=logging
            )
        on = result["impressions logged"]["recommendations"]
        off = result["impressions not logged"]["recommendations"]
        result["logging_cost"] = {
            m: {
                "p50_ms": round(on[m]["p50_ms"] - off[m]["p50_ms"], 1),
                "p95_ms": round(on[m]["p95_ms"] - off[m]["p95_ms"], 1),
                "throughput_ratio_on_over_off": round(
                    on[m]["requests_per_s"] / max(off[m]["requests_per_s"], 1e-9), 3
                ),
            }
            for m in on
        }
        return result

    def _serve(self, folder, env, label, token, paths, plan, options, *, events: bool) -> dict:
        port = free_port()
        command = gunicorn_command("127.0.0.1", port)
        tag = "on" if env["VITRINE_LOG_IMPRESSIONS"] == "1" else "off"
        server = ServerRun(
            "gunicorn", command, env, settings.BASE_DIR, folder / f"gunicorn-{tag}.log", port
        )
        drive = dict(connections=options["connections"], threads=options["wrk_threads"])
        with server:
            server.wait_until_up()
            server.wait_for_log(WORKERS_LINE, 1)
            server.wait_for_log(WARMED_LINE, _workers(server)[0])
            out = {"recommendations": {}}
            for method, method_paths in paths.items():
                script = folder / f"wrk-recommend-{tag}-{method}.lua"
                script.write_text(api_script(paths=method_paths, token=token))
                run = dict(base_url=server.base_url, script=script, **drive)
                if options["warm_up"] > 0:
                    wrk_run(duration_s=options["warm_up"], **run)
                row = wrk_run(duration_s=options["duration"], **run)
                out["recommendations"][method] = row
                self.stderr.write(
                    f"  {plan['artworks']} works, {method}, {label}: {row['requests_per_s']} req/s"
                )
            if events:
                script = folder / "wrk-events.lua"
                body = event_body(plan["collectors"][0], plan["works"][0])
                script.write_text(
                    api_script(
                        paths=["/api/v1/events"],
                        token=token,
                        event_body=body,
                        run=f"{time.time():.0f}",
                    )
                )
                out["events"] = wrk_run(
                    base_url=server.base_url, script=script, duration_s=options["duration"], **drive
                )
            out["workers"], out["threads"] = _workers(server)
        rows = [(f"recommendations ({m})", r) for m, r in out["recommendations"].items()]
        rows += [("events", out["events"])] if "events" in out else []
        for name, row in rows:
            if row["not_200"] or any(row["errors"].values()):
                raise RuntimeError(
                    f"{label} {name}: {row['not_200']} failed answers, "
                    f"errors {row['errors']}\n{server.log_tail()}"
                )
        return out

    def _describe(self) -> None:
        """(in the gallery's own process) collectors with a profile, and works to view."""
        from django.db.models import Count, Q

        from webapp.catalogue.models import Artwork, Collector

        consumed = Count("interactions", filter=Q(interactions__kind__in=["purchase", "like"]))
        collectors = list(
            Collector.objects.annotate(n=consumed)
            .filter(n__gte=2)
            .values_list("external_id", flat=True)[:5000]
        )
        works = list(
            Artwork.objects.filter(is_sold=False).values_list("external_id", flat=True)[:10]
        )
        self.stdout.write(
            json.dumps(
                {"artworks": Artwork.objects.count(), "collectors": collectors, "works": works}
            )
        )

    def _target(self, results: dict) -> dict:
        row = results.get(str(TARGET["artworks"]))
        if row is None:
            return {"checked": False, "why": f"{TARGET['artworks']} works were not measured"}
        method = next(iter(row["impressions logged"]["recommendations"]))
        p95 = row["impressions logged"]["recommendations"][method]["p95_ms"]
        return {
            "checked": True,
            "method": method,
            "p95_ms": p95,
            "target_ms": TARGET["p95_ms"],
            "met": p95 < TARGET["p95_ms"],
        }

    def _print(self, report: dict) -> None:
        self.stdout.write(
            f"{'works':>7s} {'what':44s} {'req/s':>7s} {'p50':>7s} {'p95':>7s} {'p99':>7s} (ms)"
        )
        for size, result in report["sizes"].items():
            for label in ("impressions logged", "impressions not logged"):
                for method, row in result[label]["recommendations"].items():
                    self._row(size, f"top {report['k']}, {method} ({label})", row)
            self._row(size, "events in", result["impressions logged"]["events"])
            for method, cost in result["logging_cost"].items():
                self.stdout.write(f"{size:>7s} impression logging costs ({method}): {cost}")
        target = report["target"]
        if target.get("checked"):
            verdict = "met" if target["met"] else "MISSED"
            self.stdout.write(
                f"target p95 < {target['target_ms']} ms at {TARGET['artworks']} works "
                f"({target['method']}): {target['p95_ms']} ms, {verdict}"
            )

    def _row(self, size: str, what: str, row: dict) -> None:
        self.stdout.write(
            f"{size:>7s} {what:44s} {row['requests_per_s']:7.1f} {row['p50_ms']:7.1f} "
            f"{row['p95_ms']:7.1f} {row['p99_ms']:7.1f}"
        )


def _methods(options) -> list[str]:
    return [m.strip() for m in options["methods"].split(",") if m.strip()]
