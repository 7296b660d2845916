"""A few items worked on at once, in threads, their results handed back in the items' order.

    for result in overlapped_map(predict_and_write, files, in_flight=2):
        report(result)                        # in the files' order, whatever finished first

A folder of photos run one at a time leaves cores idle: decoding, the edge colours of a cut-out and PNG encoding
use one core, and many of the networks' ops do not fill two. With two photos in flight the next photo's work
fills those gaps (its GSN while this one's LRN runs, its decoding while this one is written). TensorFlow, NumPy,
OpenCV, the runtimes and numba release the GIL, so threads suffice, and share one copy of the model.

What stays as one at a time: the results (and any error) come back in the items' order; at most `in_flight`
items are started and not yet handed back (bounded memory); when the caller stops early (Ctrl-C, an error, or
it closes the generator), items not started are dropped, `stop` is set so that running ones can skip what is
left of their work, and the generator returns only once they have, so nothing is written after it.
"""

from __future__ import annotations

import collections
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["default_in_flight", "overlapped_map"]

Item = TypeVar("Item")
Result = TypeVar("Result")


def default_in_flight() -> int:
    """Items in flight by default: 2 where this process may use two cores or more, else 1 (nothing to overlap)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 2 if usable >= 2 else 1


def overlapped_map(function: Callable[[Item], Result], items: Iterable[Item], in_flight: int = 2,
                   stop: threading.Event | None = None) -> Iterator[Result]:
    """Yields ``function(item)`` for each item, in the items' order, with up to `in_flight` calls running at once.

    Args:
        function: called in worker threads (in the calling thread when `in_flight` is 1: one at a time, no
            thread); what it raises is raised here, at its item's turn.
        items: consumed lazily, at most `in_flight` ahead of the caller.
        in_flight: items started and not yet handed back, at most.
        stop: set when the generator ends early (closed, or an error raised through it); `function` may check it
            to skip what is left of its work. The generator waits for the running calls before it ends.
    """
    items = iter(items)
    if in_flight <= 1:
        yield from map(function, items)
        return
    stop = stop if stop is not None else threading.Event()
    pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="overlapped_map")
    window = collections.deque(pool.submit(function, item) for item in itertools.islice(items, in_flight))
    try:
        while window:
            result = window.popleft().result()
            # the next item starts before this result is handed back: the caller's own work overlaps it too
            window.extend(pool.submit(function, item) for item in itertools.islice(items, 1))
            yield result
    finally:
        if window:  # ended early: nothing new starts; running calls see `stop` and are waited for
            stop.set()
            for future in window:
                future.cancel()
        pool.shutdown(wait=True)
