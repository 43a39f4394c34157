"""The build's progress on a terminal: one line redrawn in place, and nothing but its step lines elsewhere."""

from __future__ import annotations

import shutil
import sys
import time


class TerminalBar:
    """A `build(progress=...)` callable: ("embedding", 120, 450) draws "embedding  120/450 [#####.....]  27%  3 s".

    On a terminal the line is redrawn in place (at most ten times a second) and cleared by `close()`, so the build's
    summary line takes its place. Anywhere else (a log, a pipe) only the uncounted steps (total 0, such as the
    one-off model export) are printed, each as one plain line: no carriage returns, no partial bars.
    """

    WIDTH = 24

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._drawn_at = 0.0
        self._drawn = False

    def __call__(self, what: str, done: int, total: int) -> None:
        if not total:
            self._clear()
            self.stream.write(what + "\n")
            self.stream.flush()
            return
        now = time.monotonic()
        if not self.live or (done < total and now - self._drawn_at < 0.1):
            return
        filled = self.WIDTH * done // total
        line = (f"{what} {done:>{len(str(total))}}/{total} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                f"{100 * done // total:3d}%  {now - self.started:.0f} s")
        columns = shutil.get_terminal_size((80, 24)).columns
        self.stream.write("\r" + line[:columns - 1] + "\x1b[K")
        self.stream.flush()
        self._drawn, self._drawn_at = True, now

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def close(self) -> None:
        """Clear the bar's line (the caller prints the summary next)."""
        self._clear()
