"""Progress reporting for long-running calls: tqdm when installed, a plain stderr line otherwise.

``progress`` arguments across the package take the same three values:

- ``None`` (default): report only when stderr is a terminal, and only once
  the work has run for a couple of seconds (short calls stay silent).
- ``True``: always report, from the start, even into a pipe or a log file.
- ``False``: never report.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, Optional, TextIO

try:
    from tqdm import tqdm as _tqdm
except ImportError:  # tqdm is optional (extra "dask")
    _tqdm = None

#: Seconds of work before a bar appears in the automatic mode (``progress=None``).
AUTO_DELAY = 2.0
#: Smallest interval between two plain lines, in seconds: on a terminal the
#: line is redrawn in place, in a pipe each update is a new line.
PLAIN_INTERVAL_TTY = 0.2
PLAIN_INTERVAL_PIPE = 1.0


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _format_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


class _PlainBar:
    """A minimal stand-in for tqdm: ``desc: 42% 1.2/2.9 GB 0.9 GB/s`` on stderr."""

    def __init__(self, total: int, desc: str, delay: float, stream: TextIO) -> None:
        self.total = total
        self.desc = desc
        self.delay = delay
        self.stream = stream
        self.tty = _is_tty(stream)
        self.interval = PLAIN_INTERVAL_TTY if self.tty else PLAIN_INTERVAL_PIPE
        self.done = 0
        self.start = time.monotonic()
        self.last_draw: Optional[float] = None

    def _line(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        percent = 100.0 * self.done / self.total if self.total else 100.0
        rate = _format_bytes(self.done / elapsed)
        return (
            f"{self.desc}: {percent:3.0f}% {_format_bytes(self.done)}/{_format_bytes(self.total)} "
            f"{rate}/s {elapsed:.1f}s"
        )

    def _draw(self, now: float, final: bool = False) -> None:
        end = "\n" if final or not self.tty else ""
        prefix = "\r" if self.tty else ""
        self.stream.write(prefix + self._line(now) + end)
        self.stream.flush()
        self.last_draw = now

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.start < self.delay:
            return
        if self.last_draw is None or now - self.last_draw >= self.interval:
            self._draw(now)

    def close(self) -> None:
        # A final line only when something was shown, so short calls stay silent.
        if self.last_draw is not None:
            self._draw(time.monotonic(), final=True)


class Progress:
    """A byte counter shown as a bar; use as a context manager and call ``update(nbytes)``.

    Disabled bars cost one attribute test per update.
    """

    def __init__(
        self, total: int, desc: str, progress: Optional[bool], stream: Optional[TextIO] = None
    ) -> None:
        if progress not in (None, True, False):
            raise TypeError(f"progress must be None, True or False, got {progress!r}")
        stream = sys.stderr if stream is None else stream
        enabled = progress is True or (progress is None and _is_tty(stream))
        delay = AUTO_DELAY if progress is None else 0.0
        self._bar: Any = None
        if not enabled:
            return
        if _tqdm is not None:
            self._bar = _tqdm(
                total=total,
                desc=desc,
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                delay=delay,
                file=stream,
                dynamic_ncols=True,
                leave=True,
            )
        else:
            self._bar = _PlainBar(total, desc, delay, stream)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()
