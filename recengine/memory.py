"""Memory facts: what is free before a big allocation, and the peak while work runs."""

from __future__ import annotations

import os
import resource
import threading
import time


def available_bytes() -> int:
    """Memory this process could still take: MemAvailable on Linux, else free pages."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size now (Linux /proc), or the peak so far where /proc is missing."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def gigabytes(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GB"


class PeakMemory:
    """Context manager sampling this process's RSS every ``interval`` seconds.

    peak: the highest RSS seen (bytes), start: the RSS on entry. The process-wide
    ru_maxrss cannot be reset between models, hence the sampler.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> PeakMemory:
        self.start = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def wait_a_moment() -> None:
    """Give the sampler a chance to see a short-lived peak (tests)."""
    time.sleep(0.05)
