"""Background jobs: slow, pure work (e.g. reading every report of a 100k cohort, about a minute)
run once per key, in turn, on one daemon thread, so a page can show what it has meanwhile and
ask whether each job has ended."""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any


class BackgroundJobs:
    """Jobs by key, each run once (a failure is kept, not retried), in the order started.

    The thread is a daemon: a server stopping mid-job does not wait for it (a
    ``ThreadPoolExecutor``'s worker would hold the exit until the job ends).
    """

    def __init__(self, name: str = "clef-jobs"):
        self.name = name
        self._futures: dict[Hashable, Future] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, key: Hashable, make: Callable[..., Any], *args: Any) -> Future:
        """``make(*args)``'s future under ``key``: started now unless it was started before."""
        with self._lock:
            fut = self._futures.get(key)
            if fut is None:
                fut = self._futures[key] = Future()
                self._queue.put((fut, make, args))
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._thread.start()
        return fut

    def forget(self, key: Hashable) -> None:
        """Drop ``key``'s job: the next :meth:`start` makes it anew (e.g. after its data changed)."""
        with self._lock:
            self._futures.pop(key, None)

    def _run(self) -> None:
        while True:
            fut, make, args = self._queue.get()
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(make(*args))
                except BaseException as exc:  # noqa: BLE001 - kept: result() raises it
                    fut.set_exception(exc)
