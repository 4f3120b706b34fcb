"""Progress of an evaluation: units done out of the total, rate and time left.

The runner reports to a :class:`ProgressReporter`; the command line draws a bar on stderr
(:class:`TerminalProgress`), the app hands the same figures to Gradio's progress.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressReporter:
    """Receives progress; this base class ignores it (for library callers and tests)."""

    def start(self, total: int, already_done: int) -> None:
        """``total`` units in the evaluation, ``already_done`` of them stored before it started."""

    def advance(self, failed: bool = False) -> None:
        """One more unit finished (``failed``: it or one of its metrics failed)."""

    def close(self) -> None:
        """The run ended (or was interrupted)."""


class ProgressCounter(ProgressReporter):
    """Counts units and derives the rate (of units done in this run) and the time left."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.total = 0
        self.done = 0
        self.failed = 0
        self.started_done = 0
        self.started_s = clock()

    def start(self, total: int, already_done: int) -> None:
        self.total, self.done, self.started_done = total, already_done, already_done
        self.started_s = self.clock()

    def advance(self, failed: bool = False) -> None:
        self.done += 1
        self.failed += int(failed)

    @property
    def rate_per_s(self) -> float | None:
        elapsed = self.clock() - self.started_s
        finished = self.done - self.started_done
        return finished / elapsed if finished and elapsed > 0 else None

    @property
    def eta_s(self) -> float | None:
        rate = self.rate_per_s
        return None if rate is None else (self.total - self.done) / rate

    def describe(self) -> str:
        """``120/400 units, 3.2/s, 1m27s left, 2 failed``."""
        parts = [f"{self.done}/{self.total} units"]
        rate, eta = self.rate_per_s, self.eta_s
        parts.append("-/s" if rate is None else f"{rate:.3g}/s")
        parts.append("-- left" if eta is None else f"{format_duration(eta)} left")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts)


class TerminalProgress(ProgressCounter):
    """A one-line bar on a terminal (redrawn at most every ``interval_s``), plain lines elsewhere."""

    WIDTH = 30

    def __init__(self, stream: TextIO = sys.stderr, interval_s: float = 0.5) -> None:
        super().__init__()
        self.stream = stream
        self.interval_s = interval_s if stream.isatty() else max(interval_s, 10.0)
        self._last_draw_s = 0.0

    def start(self, total: int, already_done: int) -> None:
        super().start(total, already_done)
        self._draw(force=True)

    def advance(self, failed: bool = False) -> None:
        super().advance(failed)
        self._draw(force=self.done == self.total)

    def close(self) -> None:
        if self.stream.isatty():
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw_s < self.interval_s:
            return
        self._last_draw_s = now
        filled = self.WIDTH if not self.total else round(self.WIDTH * self.done / self.total)
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.describe()}"
        if self.stream.isatty():
            self.stream.write(f"\r{line}\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def format_duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h07m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class CallbackProgress(ProgressCounter):
    """Hands (done, total, description) to a function after every unit: Gradio's progress in the app."""

    def __init__(self, report: Callable[[int, int, str], None]) -> None:
        super().__init__()
        self.report = report

    def start(self, total: int, already_done: int) -> None:
        super().start(total, already_done)
        self.report(self.done, self.total, self.describe())

    def advance(self, failed: bool = False) -> None:
        super().advance(failed)
        self.report(self.done, self.total, self.describe())
