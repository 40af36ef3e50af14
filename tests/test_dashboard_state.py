"""The dashboard's shared loaders (dashboard/state.py) outside a browser: what they keep between
reruns and when they look again."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboard"


@pytest.fixture(scope="module")
def state():
    sys.path.insert(0, str(DASHBOARD))
    try:
        import state as mod

        yield mod
    finally:
        sys.path.remove(str(DASHBOARD))


@pytest.fixture()
def bundle_env(find_or_build_bundle, monkeypatch):
    root = find_or_build_bundle()
    for name in ("CLEF_STORE", "CLEF_INDEX", "CLEF_CHECKPOINT", "CLEF_COHORT", "CLEF_MAP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLEF_BUNDLE", str(root))
    return root


def test_bundle_follows_the_environment(state, bundle_env, monkeypatch, tmp_path):
    from clef.errors import BundleNotFound

    b = state.bundle()
    assert Path(b.index).is_relative_to(bundle_env) and state.bundle() is b  # kept
    monkeypatch.setenv("CLEF_BUNDLE", str(tmp_path))  # another bundle: looked up again
    with pytest.raises(BundleNotFound):
        state.bundle()
    monkeypatch.setenv("CLEF_BUNDLE", str(bundle_env))
    assert state.bundle() is b


def test_native_threads_limited_again_only_after_an_import(state, monkeypatch):
    import threadpoolctl

    calls = []
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", lambda n: calls.append(n))
    monkeypatch.setitem(state._limited, "modules", -1)
    state.limit_native_threads()
    state.limit_native_threads()
    assert calls == [state.THREADS]
    monkeypatch.setitem(sys.modules, "_clef_test_new_library", types.ModuleType("x"))
    state.limit_native_threads()
    assert calls == [state.THREADS, state.THREADS]


def test_embeddings_in_memory_in_index_order(state, bundle_env):
    e = state.embeddings()
    assert not isinstance(e, np.memmap) and not e.flags.writeable and e.dtype == np.float32
    store, ids = state.store(), state.index().session_ids
    for i in (0, len(ids) - 1):
        np.testing.assert_array_equal(e[i], np.asarray(store.embeddings)[store.row_of(ids[i])])
    q = np.asarray(e[3], np.float64) + 0.1  # a query vector
    scores = state.explore.concept_scores(e, q)
    want = (e @ q) / np.linalg.norm(e, axis=1) / np.linalg.norm(q)
    np.testing.assert_allclose(scores, want, rtol=1e-5, atol=1e-6)  # float32 sums

