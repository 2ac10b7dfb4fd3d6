"""The pieces of `manage.py bench_load`: a server process started on a free port and
stopped again, and wrk driving it with a Lua script that sends the logged-in session's
cookie and cycles through many URLs, its summary read back as JSON."""

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

WRK = "/usr/bin/wrk"
WRK_MARKER = "WRK_JSON "

# wrk calls setup() once per thread in the main Lua state, then init/request/response in
# each thread's own state, and done() in the main state with the merged latencies; the
# threads' counters are read back through the thread objects kept in setup().
LUA = """-- written by manage.py bench_load
local paths = {%(paths)s}
local cookie = %(cookie)s
local threads = {}

function setup(thread)
  thread:set("first", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  counter = first or 0
  not_ok = 0
  wrk.headers["Cookie"] = cookie
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end

function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end

"""

# done(): one line of JSON after the marker, read back by wrk_run (shared by bench_api's
# script, which appends it to its own).
LUA_DONE = """
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + (thread:get("not_ok") or 0) end
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"requests": %%.0f, "duration_us": %%.0f, "bytes": %%.0f, "not_200": %%.0f, ' ..
    '"errors": {"connect": %%.0f, "read": %%.0f, "write": %%.0f, "status": %%.0f, ' ..
    '"timeout": %%.0f}, "latency_us": {"mean": %%.1f, "p50": %%.0f, "p90": %%.0f, ' ..
    '"p95": %%.0f, "p99": %%.0f, "max": %%.0f}}\\n',
    summary.requests, summary.duration, summary.bytes, bad,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max))
end
"""
LUA += LUA_DONE


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII is a valid Lua string literal


def wrk_script(paths: list[str], cookie: str) -> str:
    """The Lua script: every request logged in, the paths taken in turn (each wrk
    thread starting at its own offset)."""
    if not paths:
        raise ValueError("wrk needs at least one path to request")
    return LUA % {
        "paths": ", ".join(lua_string(p) for p in paths),
        "cookie": lua_string(cookie),
        "marker": WRK_MARKER,
    }


def wrk_run(
    *, base_url: str, script: Path, duration_s: float, connections: int, threads: int
) -> dict:
    """One wrk run; its summary as a dict: requests, requests_per_s and latencies in ms."""
    command = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "60s",  # wrk's default 2 s would drop slow requests from the latencies
        "-s",
        str(script),
        base_url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 120)
    lines = [line for line in result.stdout.splitlines() if line.startswith(WRK_MARKER)]
    if result.returncode or not lines:
        raise RuntimeError(
            f"wrk failed ({result.returncode}): {' '.join(command)}\n{result.stdout}\n"
            f"{result.stderr}"
        )
    raw = json.loads(lines[-1][len(WRK_MARKER) :])
    seconds = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    return {
        "requests": int(raw["requests"]),
        "seconds": round(seconds, 2),
        "requests_per_s": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "mean_ms": round(latency["mean"] / 1000, 1),
        "p50_ms": round(latency["p50"] / 1000, 1),
        "p90_ms": round(latency["p90"] / 1000, 1),
        "p95_ms": round(latency["p95"] / 1000, 1),
        "p99_ms": round(latency["p99"] / 1000, 1),
        "max_ms": round(latency["max"] / 1000, 1),
        "not_200": int(raw["not_200"]),
        "errors": {k: int(v) for k, v in raw["errors"].items()},
        "command": " ".join(command),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerRun:
    """A web server process with its log file; `with` stops it, and its children."""

    name: str
    command: list[str]
    env: dict
    cwd: Path
    log: Path
    port: int
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    answered_after_s: float | None = None
    notes: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ServerRun":
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: gunicorn's workers go with it
        )
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()

    def memory_mb(self) -> dict[int, float]:
        """Resident memory (MB) of each process in the server's group (gunicorn's master
        and workers; runserver alone), from /proc; empty where there is none."""
        found = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) != self.process.pid:  # the process group id
                    continue
                status = (stat.parent / "status").read_text()
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    found[int(stat.parent.name)] = round(int(line.split()[1]) / 1024, 1)
        return found

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def wait_for_log(self, pattern: str, count: int, timeout_s: float = 300) -> float | None:
        """Polls the log until `pattern` (a regex) matched `count` lines; returns the
        seconds from start, or None if the server stopped or timeout_s passed first."""
        compiled = re.compile(pattern, re.MULTILINE)
        deadline = self.started_at + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            if len(compiled.findall(self.log.read_text(errors="replace"))) >= count:
                return round(time.monotonic() - self.started_at, 2)
            time.sleep(0.2)
        return None

    def wait_until_up(self, path: str = "/accounts/login/", timeout_s: float = 120) -> float:
        """Polls until the server answers 200 (or stops, or timeout_s pass); returns the
        seconds from start to its first answer."""
        deadline = self.started_at + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} stopped:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
                    if response.status == 200:
                        self.answered_after_s = round(time.monotonic() - self.started_at, 2)
                        return self.answered_after_s
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(
            f"{self.name} did not answer within {timeout_s:.0f} s:\n{self.log_tail()}"
        )
