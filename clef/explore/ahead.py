"""Draw ahead: results of slow, pure drawing functions kept by key, the likely next ones made on a
background thread while the user looks at the current one (the viewer's ▶: the next window's
traces and topomap are ready before the click)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class DrawAhead:
    """A bounded cache of drawn results, some of them made ahead on one background thread.

    Parameters
    ----------
    max_items : int
        Results kept (least recently used dropped first).

    Notes
    -----
    ``make`` must be pure: a key always names the same result, whichever thread makes it. A
    result being made ahead is waited for, not made twice; one whose making failed ahead is made
    again by :meth:`get`, so its error reaches the caller.
    """

    def __init__(self, max_items: int = 32):
        if max_items < 1:
            raise ValueError(f"max_items={max_items} must be at least 1")
        self.max_items = max_items
        self._done: OrderedDict[Hashable, Any] = OrderedDict()
        self._pending: dict[Hashable, Future] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clef-draw-ahead")

    def _keep(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._done[key] = value
            self._done.move_to_end(key)
            while len(self._done) > self.max_items:
                self._done.popitem(last=False)

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The result under ``key``: kept, being made ahead (waited for), or made now."""
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return self._done[key]
            pending = self._pending.get(key)
        if pending is not None and pending.exception() is None:  # (waits for it)
            return pending.result()
        value = make()  # (a failure ahead is made again here, where its error is raised)
        self._keep(key, value)
        return value

    def ahead(self, key: Hashable, make: Callable[[], Any]) -> None:
        """Start making ``key``'s result on the background thread unless it is kept or pending."""
        with self._lock:
            if key in self._done or key in self._pending:
                return
            future = self._pool.submit(make)
            self._pending[key] = future
        future.add_done_callback(lambda f: self._settle(key, f))

    def _settle(self, key: Hashable, future: Future) -> None:
        if future.exception() is None:
            self._keep(key, future.result())
        with self._lock:
            self._pending.pop(key, None)

    def __len__(self) -> int:
        return len(self._done)
