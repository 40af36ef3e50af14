"""SessionIndex: exact = brute force, ANN recall, filters, persistence, text/recording search."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from clef.errors import CheckpointMismatch, InvalidQuery, InvalidStore
from clef.index import IndexConfig, SessionIndex, steer, text_vector
from clef.model import CLEFModel, ModelConfig
from clef.store import EmbeddingStore, model_fingerprint

TINY = {
    "name": "test-tiny", "embed_dim": 16,
    "tokenizer": {"preset": "tiny", "windows_per_patch": 2, "freq_pool": 8},
    "encoder": {"d_model": 32, "n_layers": 2, "n_heads": 2, "max_tokens": 256},
    "decoder": {"d_model": 16, "n_layers": 1, "n_heads": 2},
    "text": {"backbone": "hashing", "hash_dim": 64},
    "ehr": {"code_dim": 8, "hidden": 16},
}


def clustered(n, dim=32, n_clusters=20, seed=0, n_queries=0):
    """Unit vectors from anisotropic Gaussian clusters (decaying spectrum) + held-out queries."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, dim))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    scales = 0.25 * (np.arange(1, dim + 1) ** -0.7)  # per-axis spread
    rots = [np.linalg.qr(rng.normal(size=(dim, dim)))[0] for _ in range(n_clusters)]
    total = n + n_queries
    lab = rng.integers(0, n_clusters, total)
    noise = rng.normal(size=(total, dim)) * scales
    x = np.stack([centers[c] + rots[c] @ z for c, z in zip(lab, noise)]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x[:n], x[n:], lab[:n]


def brute_topk(x, q, k, mask=None):
    s = x @ q
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    order = np.argsort(-s, kind="stable")[:k]
    return order[np.isfinite(s[order])], s[order]


def meta(n, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "session_id": [f"s{i:05d}" for i in range(n)],
        "site": rng.choice(["A", "B", "C"], n),
        "age": np.where(rng.random(n) < 0.05, np.nan, rng.uniform(1, 90, n)),
        "sex": rng.choice(["F", "M"], n),
        "setting": rng.choice(["outpatient", "emu", "icu"], n),
        "diagnoses": [list(rng.choice(["G40.3", "G40.909", "I63.9", "F20"], rng.integers(0, 3),
                                      replace=False)) for _ in range(n)],
        "medications": [list(rng.choice(["lorazepam", "levetiracetam", "propofol"],
                                        rng.integers(0, 2), replace=False)) for _ in range(n)],
    })


def labels_of(sessions, seed=0):
    rng = np.random.default_rng(seed)
    n = len(sessions)
    return pd.DataFrame({"session_id": sessions["session_id"],
                         "seizure": pd.array(rng.choice([0, 1, None], n, p=[.6, .3, .1]),
                                             dtype="Int8")})


@pytest.mark.parametrize("n", [999, 1000])
def test_exact_equals_brute_force(n):
    x, q, _ = clustered(n, n_queries=5, seed=n)
    idx = SessionIndex.from_vectors(x, meta(n))
    assert idx.kind == "flat"
    for qi in q:
        for k in (1, 10):
            res = idx.by_vector(qi, k)
            rows, scores = brute_topk(x, qi, k)
            assert res["session_id"].tolist() == [f"s{i:05d}" for i in rows]
            np.testing.assert_allclose(res["score"], scores, atol=1e-5)
            assert res["rank"].tolist() == list(range(1, k + 1))


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_ann_recall_at_10(kind):
    x, q, _ = clustered(6000, n_queries=200, seed=1)
    idx = SessionIndex.from_vectors(x, kind=kind)
    assert idx.kind == kind and idx.manifest["index"]["tuned_recall"] >= 0.95
    hits = 0
    for qi in q:
        got = set(idx.by_vector(qi, 10)["session_id"].astype(int))
        hits += len(got & set(brute_topk(x, qi, 10)[0].tolist()))
    assert hits / (10 * len(q)) >= 0.95


def test_auto_kind_and_override():
    x, _, _ = clustered(3000, seed=2)
    assert SessionIndex.from_vectors(x, config=IndexConfig(flat_max=5000)).kind == "flat"
    auto = SessionIndex.from_vectors(x, config=IndexConfig(flat_max=1000))
    assert auto.kind == "ivf" and auto.manifest["index"]["nprobe"] >= 1
    assert SessionIndex.from_vectors(x, kind="flat", config=IndexConfig(flat_max=10)).kind == "flat"
    with pytest.raises(ValueError, match="kind"):
        SessionIndex.from_vectors(x, kind="lsh")


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_filters_correct_and_full(kind):
    n = 4000
    x, q, _ = clustered(n, n_queries=3, seed=3)
    s = meta(n)
    lab = labels_of(s)
    # exact_subset_max=0 forces the filtered ANN path (and its exact fallback)
    idx = SessionIndex.from_vectors(x, s, labels=lab, kind=kind,
                                    config=IndexConfig(exact_subset_max=0))
    cases = [
        ({"site": "B"}, s["site"] == "B"),
        ({"site": ["A", "C"], "sex": "F"}, s["site"].isin(["A", "C"]) & (s["sex"] == "F")),
        ({"age": (30, 50)}, s["age"].between(30, 50)),
        ({"age": (None, 10)}, s["age"] <= 10),
        ({"diagnosis": "G40"}, s["diagnoses"].map(lambda d: any(c.startswith("G40") for c in d))),
        ({"diagnosis": ["I63.9", "F20"]},
         s["diagnoses"].map(lambda d: bool({"I63.9", "F20"} & set(d)))),
        ({"medication": "Lorazepam", "setting": "icu"},
         s["medications"].map(lambda m: "lorazepam" in m) & (s["setting"] == "icu")),
        ({"task": "seizure"}, (lab["seizure"] == 1).fillna(False)),
        ({"task": {"seizure": 0}, "site": "A"}, (lab["seizure"] == 0).fillna(False)
         & (s["site"] == "A")),
    ]
    for filters, want in cases:
        want = want.to_numpy(dtype=bool)
        mask = idx.filter_mask(**filters)
        np.testing.assert_array_equal(mask, want)
        assert want.sum() >= 10
        for qi in q:
            res = idx.by_vector(qi, 10, **filters)
            assert len(res) == 10  # still k results when enough match
            rows = res["session_id"].str[1:].astype(int).to_numpy()
            assert want[rows].all()
            exact_rows, _ = brute_topk(x, qi, 10, want)
            overlap = len(set(rows) & set(exact_rows)) / 10
            assert overlap >= (1.0 if kind == "flat" else 0.8)
    # a filter matching fewer than k sessions returns all of them, best first
    few = np.flatnonzero(idx.filter_mask(age=(0, 1.5)))
    assert 0 < len(few) < 50
    res = idx.by_vector(q[0], 50, age=(0, 1.5))
    assert sorted(res["session_id"].str[1:].astype(int)) == sorted(few.tolist())
    assert res["score"].is_monotonic_decreasing
    assert idx.by_vector(q[0], 5, site="nowhere").empty
    with pytest.raises(InvalidQuery, match="unknown task"):
        idx.by_vector(q[0], 5, task="nope")


def test_by_session_excludes_itself_and_metadata_joined():
    x, _, _ = clustered(500, seed=4)
    s = meta(500)
    idx = SessionIndex.from_vectors(x, s)
    res = idx.by_session("s00007", 5)
    assert "s00007" not in res["session_id"].tolist() and len(res) == 5
    rows, _ = brute_topk(x, x[7], 6)
    assert res["session_id"].tolist() == [f"s{i:05d}" for i in rows if i != 7][:5]
    first = s.set_index("session_id").loc[res["session_id"].iloc[0]]
    assert res["site"].iloc[0] == first["site"] and res["age"].iloc[0] == first["age"]
    assert idx.by_session("s00007", 3, exclude_self=False)["session_id"].iloc[0] == "s00007"
    with pytest.raises(InvalidQuery, match="not in this index"):
        idx.by_session("zzz")
    with pytest.raises(InvalidQuery, match="dimension"):
        idx.by_vector(np.ones(5))
    with pytest.raises(InvalidQuery, match="zero"):
        idx.by_vector(np.zeros(32))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CLEFModel(ModelConfig.from_dict(TINY).resolve()).eval()


def _planted_store(tmp_path, model, text, n=300, n_planted=5, seed=0):
    """A store whose first n_planted sessions sit next to the text embedding of `text`."""
    rng = np.random.default_rng(seed)
    t = text_vector(text, model)
    x = rng.normal(size=(n, len(t))).astype(np.float32)
    x[:n_planted] = t + rng.normal(size=(n_planted, len(t))) * 0.05
    rng.shuffle(x_rows := np.arange(n))
    x = x[x_rows]
    planted = {f"s{i:05d}" for i in np.flatnonzero(x_rows < n_planted)}
    st = EmbeddingStore.write(tmp_path / "store", x, meta(n), model_info=model_fingerprint(model))
    return st, planted


def test_text_search_ranks_planted_first(tmp_path, model):
    st, planted = _planted_store(tmp_path, model, "left temporal sharp waves")
    idx = SessionIndex.build(st)
    res = idx.by_text("left temporal sharp waves", model, k=10)
    assert set(res["session_id"][:5]) == planted
    assert res["score"].iloc[4] > res["score"].iloc[5] + 0.3
    with pytest.raises(InvalidQuery, match="empty"):
        idx.by_text("   ", model)
    # filters apply to text search too
    res_b = idx.by_text("left temporal sharp waves", model, k=3, site="B")
    assert (res_b["site"] == "B").all()


def test_save_load_and_mismatch_refused(tmp_path, model):
    st, _ = _planted_store(tmp_path, model, "benzodiazepine effect")
    idx = SessionIndex.build(st, kind="hnsw")
    idx.save(tmp_path / "idx", created_by="test")
    loaded = SessionIndex.load(tmp_path / "idx", model=model)
    assert loaded.kind == "hnsw" and len(loaded) == len(st)
    pd.testing.assert_frame_equal(loaded.by_session("s00003", 7), idx.by_session("s00003", 7))
    torch.manual_seed(1)
    other = CLEFModel(ModelConfig.from_dict(TINY).resolve()).eval()
    with pytest.raises(CheckpointMismatch) as e:
        SessionIndex.load(tmp_path / "idx", model=other)
    msg = str(e.value)
    assert st.manifest["model_sha256"] in msg
    assert model_fingerprint(other)["model_sha256"] in msg and "clef index" in msg
    with pytest.raises(CheckpointMismatch):
        loaded.by_text("benzodiazepine effect", other)
    bigger = CLEFModel(ModelConfig.from_dict({**TINY, "embed_dim": 24}).resolve()).eval()
    with pytest.raises(CheckpointMismatch, match="24-dimensional"):
        SessionIndex.load(tmp_path / "idx", model=bigger)
    (tmp_path / "idx" / "sessions.parquet").write_bytes(b"changed")
    with pytest.raises(InvalidStore, match="checksum"):
        SessionIndex.load(tmp_path / "idx")


def test_steer_moves_towards_and_away(model):
    rng = np.random.default_rng(0)
    v = rng.normal(size=16)
    c = text_vector("benzodiazepine effect", model)
    unit = v / np.linalg.norm(v)
    towards = steer(v, "benzodiazepine effect", 0.8, model=model)
    away = steer(v, c, -0.8)
    assert np.isclose(np.linalg.norm(towards), 1.0) and np.isclose(np.linalg.norm(away), 1.0)
    assert towards @ c > unit @ c > away @ c
    np.testing.assert_allclose(steer(v, c, 0.0), unit, atol=1e-6)
    with pytest.raises(InvalidQuery, match="model"):
        steer(v, "concept", 0.5)


def test_by_recording_finds_itself(tmp_path, model):
    import mne
    from mne.export import export_raw

    from clef.embed import embed_recording

    names = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5",
             "P3", "Pz", "P4", "T6", "O1", "O2"]
    rng = np.random.default_rng(0)
    raw = mne.io.RawArray(rng.normal(size=(19, 200 * 60)) * 20e-6,
                          mne.create_info(names, 200.0, "eeg"), verbose="error")
    export_raw(str(tmp_path / "r.edf"), raw, verbose="error")
    v = embed_recording(model, tmp_path / "r.edf")
    x = rng.normal(size=(100, 16)).astype(np.float32)
    x[42] = v
    st = EmbeddingStore.write(tmp_path / "st", x, meta(100), model_info=model_fingerprint(model))
    res = SessionIndex.build(st).by_recording(tmp_path / "r.edf", model, k=3)
    assert res["session_id"].iloc[0] == "s00042" and res["score"].iloc[0] > 0.999
    from clef.errors import InvalidRecording

    (tmp_path / "bad.edf").write_bytes(b"0" * 100)
    with pytest.raises(InvalidRecording):
        SessionIndex.build(st).by_recording(tmp_path / "bad.edf", model)


def test_cli_index_and_query(tmp_path, model):
    from typer.testing import CliRunner

    from clef.cli import app

    x, _, _ = clustered(300, dim=16, seed=5)
    s = meta(300)
    EmbeddingStore.write(tmp_path / "st", x, s, model_info=model_fingerprint(model))
    runner = CliRunner()
    res = runner.invoke(app, ["index", "--store", str(tmp_path / "st"), "--out",
                              str(tmp_path / "idx"), "--no-map", "--quiet"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["query", "--index", str(tmp_path / "idx"), "--session", "s00010",
                              "-k", "4", "--site", "A", "--csv"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(__import__("io").StringIO(res.output))
    assert len(table) == 4 and (table["site"] == "A").all()
    assert "s00010" not in table["session_id"].tolist()
    exp = SessionIndex.load(tmp_path / "idx").by_session("s00010", 4, site="A")
    assert table["session_id"].tolist() == exp["session_id"].tolist()
    res = runner.invoke(app, ["query", "--index", str(tmp_path / "idx"), "--text", "spikes"])
    assert res.exit_code != 0 and "--checkpoint" in res.output
