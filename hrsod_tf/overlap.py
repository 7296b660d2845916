"""Work on the next items while the caller works on this one, in threads, the results handed back in order.

    decoded = overlapped_map(read, files, ahead=1)          # the next file is read while this one is used
    for image in decoded: ...

A folder of photos run one at a time leaves a core idle whenever one-core work runs: reading and decoding a
file, the edge colours of a cut-out, encoding and writing a PNG. Overlapping that work with the networks of
another photo fills the gap. TensorFlow, NumPy, OpenCV, the runtimes and numba release the GIL, so threads
suffice, and they share one copy of the model.

What stays as it is one at a time: the results (and whatever a call raises) come back in the items' order; at
most `ahead` items beyond the one handed back are started (bounded memory); when the caller stops early (Ctrl-C,
an error, or it closes the generator), items not started are dropped and the generator ends only once the
running calls have returned, so none of them is cut short.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["overlapped_map"]

Item = TypeVar("Item")
Result = TypeVar("Result")


def overlapped_map(function: Callable[[Item], Result], items: Iterable[Item], ahead: int = 1) -> Iterator[Result]:
    """Yields ``function(item)`` for each item, in the items' order, the calls running in worker threads.

    Args:
        function: what to run on each item; what it raises is raised here, at its item's turn.
        items: drawn in the calling thread, one before each wait for a result: when `items` is itself a generator
            doing work (say, the networks on the photo a decoding map hands it), that work overlaps the calls.
        ahead: items started beyond the one whose result is awaited, at most (so at most ``ahead + 1`` calls run
            at once); 0: each call in the calling thread, one at a time.
    """
    if ahead <= 0:
        yield from map(function, items)
        return
    pool = ThreadPoolExecutor(max_workers=ahead + 1, thread_name_prefix="overlapped_map")
    window = collections.deque()
    try:
        for item in items:
            window.append(pool.submit(function, item))
            if len(window) > ahead:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        for future in window:  # ended early: what has not started never will; running calls are waited for
            future.cancel()
        pool.shutdown(wait=True)
