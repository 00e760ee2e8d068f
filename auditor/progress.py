"""Progress on stderr: a live bar on a terminal, plain lines in a CI log.

A CI log keeps every carriage return as garbage and shows nothing until a line ends, so when
stderr is not a terminal we print one whole line every `every_percent` of the work, and at
least every `every_seconds`, with elapsed time, an estimate of what is left and the figures the
caller describes; a heartbeat thread says so when one unit of work outlasts `every_seconds`
(a big model's iteration on a CPU), since CI services kill jobs that stay silent.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable

import click


class Progress:
    def __init__(self, label: str, total: int, *, describe: Callable[[dict], str | None],
                 quiet: bool = False, stream=None, every_percent: float = 5.0,
                 every_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 heartbeat: bool = True, capped: bool = False, end: int | None = None):
        """capped: `total` is a cap the work may stop short of (see `stopped`), so the time left
        is an upper bound and said so; end: the unit it ends by at the latest, if before `total`
        (an unsettled clean ends at its last stage), which the time left is counted to."""
        self.capped, self.end = capped, end
        self.label, self.total, self.describe, self.quiet = label, total, describe, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.every_percent, self.every_seconds, self.clock = every_percent, every_seconds, clock
        self.bar = None
        self.done = 0
        self.offset = 0          # units done before this process began (a resumed run)
        self.heartbeat = heartbeat
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @property
    def plain(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return not (isatty and isatty())

    def __enter__(self) -> Callable[[int, dict], None] | None:
        """The clock, bar and heartbeat start with the first update, not here: a progress opened
        for a later phase (clean's residual scan) stays silent until that phase begins."""
        if self.quiet:
            return None
        self.start = None
        return self.update

    def _begin(self) -> None:
        self.start = self.last_line = self.clock()
        self.last_percent = 0.0
        if not self.plain:
            self.bar = click.progressbar(length=self.total, label=self.label, file=self.stream,
                                         item_show_func=lambda f: f and self.describe(f),
                                         show_eta=True)
            self.bar.__enter__()
        elif self.heartbeat:
            threading.Thread(target=self._beat, daemon=True).start()

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.every_seconds / 4)):
            with self._lock:
                now = self.clock()
                if now - self.last_line >= self.every_seconds:
                    self.last_line = now
                    click.echo(f"{self.label}: {self.done}/{self.total}, {_duration(now - self.start)} "
                               f"elapsed, still working", file=self.stream)

    def update(self, done: int, figures: dict) -> None:
        """done: units finished so far (an iteration, a step)."""
        if self.start is None:
            self._begin()
            self.offset = max(0, done - 1)
        step, self.done = done - self.done, done
        if self.bar is not None:
            self.bar.update(step, figures)
            if done >= self.total:
                self._finish()
            return
        with self._lock:
            now, percent = self.clock(), 100.0 * done / max(self.total, 1)
            if (percent - self.last_percent >= self.every_percent or done == self.total
                    or now - self.last_line >= self.every_seconds):
                self.last_percent, self.last_line = percent, now
                click.echo(self.line(done, now - self.start, figures), file=self.stream)
            if done >= self.total:
                self._stop.set()    # a phase done before the run ends falls silent

    def line(self, done: int, elapsed: float, figures: dict) -> str:
        ran = done - self.offset
        end = self.total if self.end is None else self.end
        left = elapsed / ran * max(0, end - done) if ran > 0 else float("nan")
        text = (f"{self.label}: {done}/{self.total} ({100 * done / max(self.total, 1):.0f} %), "
                f"{_duration(elapsed)} elapsed, {'at most ' if self.capped else ''}"
                f"about {_duration(left)} left")
        detail = self.describe(figures) if figures else None
        return f"{text}; {detail}" if detail else text

    def _finish(self) -> None:
        """A phase done before the others: its bar ends on its own line, its heartbeat stops."""
        self._stop.set()
        self.bar.render_finish()
        self.bar = None

    def stopped(self, done: int, reason: str) -> None:
        """The work ended at `done` of `total`, for `reason`: said in a line of its own, so a CI
        log shows why a run ended short of its total."""
        if self.quiet or self.start is None:
            return
        with self._lock:
            self._stop.set()
            if self.bar is not None:
                self.bar.render_finish()
                self.bar = None
            click.echo(f"{self.label}: stopped at {done}/{self.total}, "
                       f"{_duration(self.clock() - self.start)} elapsed; {reason}", file=self.stream)

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def _duration(seconds: float) -> str:
    if seconds != seconds:   # NaN: nothing done yet to estimate from
        return "?"
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
