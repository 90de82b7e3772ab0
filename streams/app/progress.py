"""A progress bar on stderr for `hopsharbor replay` (no dependency: one line, redrawn in place).

On a terminal the line is redrawn at most every `interval` seconds; otherwise (a log file) a line is
printed every 10 %. Called from the runner's progress callback with each finished key.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        width: int = 30,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interval = interval
        self.clock = clock
        self.done = 0
        self.outcomes: Counter[str] = Counter()
        self.started = clock()
        self._last_draw = 0.0
        self._last_decile = -1
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, key: str, outcome: str) -> None:
        self.done += 1
        self.outcomes[outcome] += 1
        now = self.clock()
        if self._tty:
            if now - self._last_draw >= self.interval or self.done == self.total:
                self._last_draw = now
                self.stream.write("\r" + self.line())
                self.stream.flush()
        else:
            decile = self.done * 10 // max(1, self.total)
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(self.line() + "\n")

    @property
    def rate(self) -> float:
        elapsed = self.clock() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        filled = self.width * self.done // max(1, self.total)
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} keys"
            f"  {self.rate:.1f}/s  ({outcomes})"
        )

    def close(self) -> None:
        if self._tty:
            self.stream.write("\n")
        self.stream.flush()
