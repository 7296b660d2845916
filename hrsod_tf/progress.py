"""Progress bars for the project's long loops: a live bar on a terminal, a line now and then in a log file.

    for image in progress_bar(images, desc="evaluating", unit="img"):
        ...
    bar = progress_bar(total=steps, initial=start, desc="train gsn", unit="step")
    bar.update(1); bar.set_postfix(loss="0.2134", refresh=False); bar.close()

On a terminal (or in a notebook) it is tqdm's bar, redrawn in place with the rate and the time left. Written
to anything else (``python train.py > train.log 2>&1``, a CI log, a scheduler's output file), a redraw is a
line of its own, so a redrawn bar would fill the log with thousands of them; there it writes one line at
each tenth of the total and at least every `LOG_LINE_SECONDS` seconds while work goes on, then one at the
end, each with the count, the elapsed and remaining time, the rate and the postfix:

    train gsn: 150/300 step (50%), 01:05 elapsed, 01:05 left, 2.31step/s, loss=0.2134

No TensorFlow imported here: tqdm only.
"""

from __future__ import annotations

import re
import sys
import time

from tqdm import tqdm as _terminal_tqdm
from tqdm.auto import tqdm as _auto_tqdm

__all__ = ["LOG_LINE_SECONDS", "LogLineProgress", "progress_bar"]

#: Longest wait between two lines of a bar written to a log file, in seconds (while its work goes on).
LOG_LINE_SECONDS = 30.0
_LINE_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f}%), {elapsed} elapsed, {remaining} left, " \
               "{rate_fmt}{postfix}"
_LINE_FORMAT_NO_TOTAL = "{desc}: {n_fmt} {unit}, {elapsed} elapsed, {rate_fmt}{postfix}"


def progress_bar(iterable=None, *, total: int | None = None, desc: str = "", unit: str = "it", initial: int = 0,
                 enabled: bool = True, leave: bool = True, file=None):
    """A progress bar over `iterable`, or, without one, advanced by hand with ``update(n)``.

    Args:
        iterable: what to iterate over (the bar closes when it is exhausted), or None.
        total: the expected count (default: ``len(iterable)`` when it has one); None: unknown.
        desc, unit: the bar's label and the unit of the count ("img", "step", ...).
        initial: the count the bar starts from (e.g. the step a resumed training starts at).
        enabled: False gives a bar that shows nothing (the same methods, so callers need no branch).
        leave: keep the terminal bar on screen when closed (a log file keeps every line anyway).
        file: the stream to write to (default: sys.stderr); whether it is a terminal decides the form.

    Returns:
        An object with tqdm's `update(n)`, `set_postfix(**values)`, `close()`, iteration and ``with``.
    """
    if not enabled:
        return _terminal_tqdm(iterable, total=total, disable=True)
    stream = sys.stderr if file is None else file
    if _is_interactive(stream):
        return _auto_tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, leave=leave, file=stream,
                          dynamic_ncols=True)
    return LogLineProgress(iterable, total=total, desc=desc, unit=unit, initial=initial, file=stream)


def _is_interactive(stream) -> bool:
    """A terminal, or a notebook (where tqdm.auto draws a widget)."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
    return "ipykernel" in sys.modules


class LogLineProgress:
    """A progress bar for a stream that is not a terminal: complete lines, written at each tenth of the total,
    at least every `interval` seconds while the count moves, and at `close` (see the module docstring).

    Args:
        iterable, total, desc, unit, initial, file: as `progress_bar`'s (`file` is required here).
        interval: longest wait between two lines while the count moves, in seconds.
        clock: the time source, in seconds (monotonic).
    """

    def __init__(self, iterable=None, *, total: int | None = None, desc: str = "", unit: str = "it",
                 initial: int = 0, file=None, interval: float = LOG_LINE_SECONDS, clock=time.monotonic):
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc or "", unit
        self.file, self.interval, self.clock = file if file is not None else sys.stderr, interval, clock
        self.initial = self.n = self.written_n = initial
        self.started = self.written_at = clock()
        self.postfix = ""
        self.lines_written = 0
        self.closed = False

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def update(self, n: int = 1) -> None:
        """Adds `n` to the count; writes a line when a new tenth of the total is reached or `interval` passed."""
        self.n += n
        now = self.clock()
        if self._tenth(self.n) > self._tenth(self.written_n) or now - self.written_at >= self.interval:
            self._write_line(now)

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **values) -> None:
        """Values shown after the rate (``loss=0.2134``), in the next line written; `refresh` is tqdm's, unused."""
        values = {**(ordered_dict or {}), **values}
        self.postfix = ", ".join(f"{key}={str(value).strip()}" for key, value in values.items())

    def close(self) -> None:
        """Writes the last line, unless the count has not moved since the last one written."""
        if self.closed:
            return
        self.closed = True
        if self.n != self.written_n or not self.lines_written:
            self._write_line(self.clock())

    def _tenth(self, count: int) -> int:
        return int(10 * count // self.total) if self.total else 0

    def _write_line(self, now: float) -> None:
        line = _terminal_tqdm.format_meter(
            self.n, self.total, now - self.started, prefix=self.desc, unit=self.unit, postfix=self.postfix,
            initial=self.initial, bar_format=_LINE_FORMAT if self.total else _LINE_FORMAT_NO_TOTAL)
        self.file.write(re.sub(r" {2,}", " ", line) + "\n")
        self.file.flush()
        self.written_n, self.written_at = self.n, now
        self.lines_written += 1
