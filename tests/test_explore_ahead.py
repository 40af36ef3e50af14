"""clef.explore.DrawAhead: drawn results kept by key, the next ones made on a background thread."""
from __future__ import annotations

import threading

import pytest

from clef import explore
from clef.explore import DrawAhead


def test_get_makes_once_and_keeps_the_most_recent():
    calls = []
    d = DrawAhead(max_items=2)

    def make(v):
        return lambda: calls.append(v) or v * 10

    assert d.get("a", make(1)) == 10 and d.get("a", make(99)) == 10
    d.get("b", make(2))
    d.get("a", make(99))  # "a" used last: "b" is the one dropped next
    d.get("c", make(3))
    assert len(d) == 2 and calls == [1, 2, 3]
    assert d.get("b", make(4)) == 40 and calls == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="at least 1"):
        DrawAhead(max_items=0)


def test_ahead_is_made_on_another_thread_and_waited_for_not_made_twice():
    started, release = threading.Event(), threading.Event()
    threads = []

    def slow():
        threads.append(threading.current_thread().name)
        started.set()
        release.wait(5)
        return "png"

    d = DrawAhead()
    d.ahead("next", slow)
    d.ahead("next", slow)  # pending: not submitted again
    assert started.wait(5)
    release.set()
    assert d.get("next", lambda: pytest.fail("made again although made ahead")) == "png"
    assert threads == [threads[0]] and threads[0].startswith("clef-draw-ahead")
    d.ahead("next", slow)  # kept: nothing to do
    assert len(threads) == 1


def test_a_failure_ahead_is_raised_by_get():
    d = DrawAhead()

    def bad():
        raise ValueError("low cut above high cut")

    d.ahead("k", bad)
    with pytest.raises(ValueError, match="low cut above high cut"):
        d.get("k", bad)
    assert d.get("k", lambda: "fixed") == "fixed"


def test_background_jobs_once_per_key_in_turn_on_a_daemon_thread():
    jobs = explore.BackgroundJobs("test-jobs")
    release, order = threading.Event(), []
    first = jobs.start("a", lambda: (release.wait(10), order.append("a")))
    second = jobs.start("b", order.append, "b")
    assert jobs.start("b", order.append, "again") is second  # once per key
    failing = jobs.start("c", lambda: 1 / 0)
    assert not second.done()  # waits for the first
    release.set()
    second.result(timeout=10)
    assert first.done() and order == ["a", "b"]
    assert isinstance(failing.exception(timeout=10), ZeroDivisionError)
    assert jobs.start("c", lambda: 1) is failing  # a failure is kept, not retried
    jobs.forget("c")
    assert jobs.start("c", lambda: 1).result(timeout=10) == 1
    assert jobs._thread.daemon  # a server's exit does not wait for a long job
