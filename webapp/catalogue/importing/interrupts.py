"""Signals during the write phase: SIGINT, SIGTERM and SIGHUP become an exception, so the
transaction rolls back and the staged files are removed instead of the process just dying.

Only where nobody else has a say: in the main thread, and only for a signal still at its
default (Python's KeyboardInterrupt handler for SIGINT, SIG_DFL for the others). A worker
or server that installed its own handlers keeps them; whatever they raise is cleaned up
the same way, and a process killed outright is cleaned up by the next import
(staging.staging_cleanup).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class ImportInterrupted(KeyboardInterrupt):
    """The import was stopped by a signal. `committed` says whether its transaction had
    committed first (then the import is complete); otherwise nothing was written."""

    def __init__(self, signum: int, committed: bool = False):
        self.signum = signum
        self.committed = committed
        super().__init__(f"import interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """What a shell reports for a process ended by this signal."""
        return 128 + self.signum


def _is_default(signum: int, handler) -> bool:
    if signum == signal.SIGINT:
        return handler is signal.default_int_handler
    return handler is signal.SIG_DFL


@contextmanager
def interrupts_raise(committed: Callable[[], bool] = lambda: False) -> Iterator[None]:
    """While inside, SIGINT/SIGTERM/SIGHUP raise ImportInterrupted, once: later ones are
    ignored so the clean-up runs to its end. `committed()` says, when the signal comes,
    whether the import's transaction has committed already."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    ours = [signum for signum, handler in previous.items() if _is_default(signum, handler)]
    raised = False

    def handler(signum, frame):
        nonlocal raised
        if raised:  # the clean-up is running; the first signal already stops the import
            return
        raised = True
        raise ImportInterrupted(signum, committed=committed())

    for signum in ours:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum in ours:
            signal.signal(signum, previous[signum])


@contextmanager
def signals_held() -> Iterator[Callable[[], None]]:
    """Yield `hold()`: after it is called, SIGINT/SIGTERM/SIGHUP are blocked until the
    block ends, and then delivered. The write phase holds them from just before its
    commit until the staged files are in place, so a signal cannot land between the two."""
    held: list = []

    def hold() -> None:
        if not held and hasattr(signal, "pthread_sigmask"):
            held.append(signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS))

    try:
        yield hold
    finally:
        if held:
            signal.pthread_sigmask(signal.SIG_SETMASK, held[0])
