"""CohortMap: UMAP fit keeps clusters apart, save/load without pickle, transform without refit."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clef.maps import CohortMap, MapConfig, _knn_graph
from clef.store import EmbeddingStore, read_parquet_metadata


def clustered(n, dim=24, n_clusters=4, seed=0, spread=0.25):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, dim))
    lab = np.arange(n) % n_clusters
    x = centers[lab] + rng.normal(size=(n, dim)) * spread
    return x.astype(np.float32), lab, centers


def knn_purity(xy, lab, k=10):
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    nn = np.argsort(d, axis=1)[:, 1:k + 1]
    return float((lab[nn] == lab[:, None]).mean())


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    x, lab, centers = clustered(400)
    ids = [f"s{i}" for i in range(len(x))]
    st = EmbeddingStore.write(tmp_path_factory.mktemp("st"), x, pd.DataFrame({"session_id": ids}),
                              model_info={"model_sha256": "f" * 64, "model_name": "m"})
    cmap = CohortMap.fit(st, config=MapConfig(n_epochs=100), progress=False)
    return cmap, x, lab, centers


@pytest.mark.slow  # first UMAP fit in a process compiles numba kernels (~15 s)
def test_fit_separates_clusters(fitted):
    cmap, _, lab, _ = fitted
    xy = cmap.xy
    assert xy.shape == (400, 2) and np.isfinite(xy).all()
    assert knn_purity(xy, lab) > 0.95
    assert cmap.coords["session_id"].tolist() == [f"s{i}" for i in range(400)]
    assert cmap.params["model_sha256"] == "f" * 64 and cmap.params["metric"] == "cosine"


@pytest.mark.slow
def test_save_load_no_pickle(fitted, tmp_path):
    cmap, x, _, _ = fitted
    cmap.save(tmp_path / "map")
    assert sorted(p.name for p in (tmp_path / "map").iterdir()) == ["anchors.npy", "map.json",
                                                                     "map.parquet"]
    meta = read_parquet_metadata(tmp_path / "map" / "map.parquet")
    assert meta["n_neighbors"] == 15 and meta["min_dist"] == 0.1 and meta["seed"] == 0
    assert json.loads((tmp_path / "map" / "map.json").read_text())["params"]["count"] == 400
    anchors = np.load(tmp_path / "map" / "anchors.npy", allow_pickle=False)
    assert anchors.dtype == np.float16 and anchors.shape == (400, 24)
    loaded = CohortMap.load(tmp_path / "map")
    np.testing.assert_array_equal(loaded.xy, cmap.xy)
    new = x[:5] + 0.01
    np.testing.assert_allclose(loaded.transform(new), cmap.transform(new), atol=1e-5)


@pytest.mark.slow
def test_transform_places_without_refit(fitted):
    cmap, x, lab, centers = fitted
    # a stored vector lands (almost) on its own point
    np.testing.assert_allclose(cmap.transform(x[:20]), cmap.xy[:20], atol=0.05 * np.ptp(cmap.xy))
    # new sessions land inside their own cluster
    rng = np.random.default_rng(9)
    centroids = np.stack([cmap.xy[lab == c].mean(0) for c in range(4)])
    for c in range(4):
        new = centers[c] + rng.normal(size=(10, 24)) * 0.25
        placed = cmap.transform(new)  # (10, 2)
        d = np.linalg.norm(placed[:, None, :] - centroids[None], axis=-1)  # (10, 4)
        assert (d.argmin(1) == c).all()
    assert cmap.transform(x[0]).shape == (2,)
    with pytest.raises(ValueError, match="dimension"):
        cmap.transform(np.ones(5))


@pytest.mark.slow
def test_subsample_fit_places_the_rest():
    x, lab, _ = clustered(600, seed=1)
    cmap = CohortMap.fit(x, config=MapConfig(n_epochs=60, fit_max=300, anchors_max=200),
                         progress=False)
    assert cmap.params["n_fit"] == 300 and len(cmap.anchors) == 200
    assert int(cmap.coords["anchor"].sum()) == 200
    assert np.isfinite(cmap.xy).all() and knn_purity(cmap.xy, lab) > 0.9


def test_ivf_knn_graph_close_to_exact():
    x, _, _ = clustered(3000, seed=2)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    i_ex, _ = _knn_graph(xn, 10, MapConfig(), progress=False)
    i_ivf, _ = _knn_graph(xn, 10, MapConfig(exact_knn_max=100), progress=False)
    assert (i_ex[:, 0] == np.arange(3000)).all() and (i_ivf[:, 0] == np.arange(3000)).all()
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i_ex, i_ivf)])
    assert recall >= 0.9
