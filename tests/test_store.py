"""Embedding store: round trip, checksums, atomic writes, model fingerprints."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from clef.errors import CheckpointMismatch
from clef.model import CLEFModel, ModelConfig
from clef.store import (
    EmbeddingStore,
    InvalidStore,
    atomic_save_npy,
    atomic_write_parquet,
    check_model,
    model_fingerprint,
    read_parquet_metadata,
    state_dict_hash,
)

TINY = {
    "name": "test-tiny", "embed_dim": 16,
    "tokenizer": {"preset": "tiny", "windows_per_patch": 2, "freq_pool": 8},
    "encoder": {"d_model": 32, "n_layers": 2, "n_heads": 2, "max_tokens": 64},
    "decoder": {"d_model": 16, "n_layers": 1, "n_heads": 2},
    "text": {"backbone": "hashing", "hash_dim": 64},
    "ehr": {"code_dim": 8, "hidden": 16},
}
INFO = {"model_sha256": "a" * 64, "model_name": "m", "tokenizer_sha256": "b" * 64}


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return CLEFModel(ModelConfig.from_dict(TINY).resolve()).eval()


def sessions_df(n):
    return pd.DataFrame({"session_id": [f"s{i}" for i in range(n)],
                         "site": ["A", "B"] * (n // 2) + ["A"] * (n % 2),
                         "age": np.arange(n, dtype=float),
                         "diagnoses": [["G40.3"] if i % 3 == 0 else [] for i in range(n)]})


@pytest.mark.parametrize("n", [7, 8])
def test_round_trip(tmp_path, n):
    rng = np.random.default_rng(n)
    emb = rng.normal(size=(n, 5)).astype(np.float32) * 3
    labels = pd.DataFrame({"session_id": [f"s{i}" for i in range(n)],
                           "t1": pd.array([1, 0, None] * (n // 3) + [1] * (n % 3), dtype="Int8")})
    failures = pd.DataFrame([{"session_id": "bad", "path": "x.edf", "error_type": "TooShort",
                              "message": "too short"}])
    states = rng.normal(size=(3 * n, 5)).astype(np.float32)
    offsets = np.arange(0, 3 * n + 1, 3)
    st = EmbeddingStore.write(tmp_path / "st", emb, sessions_df(n), model_info=INFO,
                              failures=failures, labels=labels, states=states,
                              state_offsets=offsets, created_by="test")
    again = EmbeddingStore.open(tmp_path / "st", verify=True)
    ref = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    np.testing.assert_allclose(again.embeddings, ref, rtol=1e-6)
    assert again.session_ids.tolist() == [f"s{i}" for i in range(n)]
    assert again.sessions["diagnoses"].iloc[0].tolist() == ["G40.3"]
    assert again.labels["t1"].isna().sum() == labels["t1"].isna().sum()
    assert again.failures.to_dict("records") == failures.to_dict("records")
    m = again.manifest
    assert (m["count"], m["dim"], m["model_sha256"], m["created_by"]) == (n, 5, "a" * 64, "test")
    assert set(m["files"]) == {"embeddings.npy", "sessions.parquet", "failures.parquet",
                               "labels.parquet", "states.npy", "state_offsets.npy"}
    assert m["clef_version"]
    np.testing.assert_allclose(again.vector("s2"), ref[2], rtol=1e-6)
    np.testing.assert_allclose(again.states("s1"), states[3:6], rtol=1e-2, atol=1e-2)
    with pytest.raises(KeyError, match="nope"):
        again.row_of("nope")
    assert st.manifest == again.manifest


def test_verify_catches_changed_metadata(tmp_path):
    EmbeddingStore.write(tmp_path, np.eye(4, 3), sessions_df(4), model_info=INFO)
    df = pd.read_parquet(tmp_path / "sessions.parquet")
    df.loc[0, "site"] = "Z"
    df.to_parquet(tmp_path / "sessions.parquet")
    EmbeddingStore.open(tmp_path)  # opening without verify does not read checksums
    with pytest.raises(InvalidStore, match="sessions.parquet: sha256"):
        EmbeddingStore.open(tmp_path, verify=True)


def test_write_refuses_bad_input(tmp_path):
    bad = sessions_df(4)
    bad.loc[1, "session_id"] = "s0"
    with pytest.raises(ValueError, match="duplicate session ids"):
        EmbeddingStore.write(tmp_path, np.eye(4), bad, model_info=INFO)
    with pytest.raises(ValueError, match="3 embeddings but 4"):
        EmbeddingStore.write(tmp_path, np.eye(3), sessions_df(4), model_info=INFO)


def test_open_unfinished_store_says_resume(tmp_path):
    (tmp_path / "parts").mkdir()
    with pytest.raises(InvalidStore, match="run the same command again"):
        EmbeddingStore.open(tmp_path)
    with pytest.raises(InvalidStore, match="not an embedding store"):
        EmbeddingStore.open(tmp_path / "parts")


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "a.npy"
    atomic_save_npy(path, np.arange(3))

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_save_npy(path, np.arange(10))
    monkeypatch.undo()
    assert np.load(path).tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["a.npy"]  # no temporary left behind
    with pytest.raises(TypeError, match="pickle"):
        atomic_save_npy(path, np.array([{"a": 1}], dtype=object))


def test_parquet_metadata_round_trip(tmp_path):
    atomic_write_parquet(tmp_path / "x.parquet", pd.DataFrame({"a": [1]}), metadata={"k": 2})
    assert read_parquet_metadata(tmp_path / "x.parquet") == {"k": 2}


def test_fingerprint_follows_weights_not_loading(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "ck")
    loaded = CLEFModel.from_pretrained(tmp_path / "ck")
    fp, fp2 = model_fingerprint(model), model_fingerprint(loaded)
    assert fp == fp2 and fp["dim"] == 16 and fp["model_name"] == "test-tiny"
    other = tiny_model(seed=1)
    assert state_dict_hash(other) != fp["model_sha256"]
    with torch.no_grad():
        loaded.eeg_proj.weight[0, 0] += 1e-3
    assert state_dict_hash(loaded) != fp["model_sha256"]
    manifest = {**fp, "model_name": "test-tiny"}
    check_model(manifest, model, "store X", "clef embed ...")  # same model: no error
    with pytest.raises(CheckpointMismatch) as e:
        check_model(manifest, other, "store X", "clef embed ...")
    msg = str(e.value)
    assert fp["model_sha256"] in msg and model_fingerprint(other)["model_sha256"] in msg
    assert "clef embed" in msg
    with pytest.raises(CheckpointMismatch, match="32-dimensional"):
        check_model({**manifest, "dim": 32}, model, "index Y", "clef index ...")


def test_manifest_is_json_with_checksums(tmp_path):
    EmbeddingStore.write(tmp_path, np.eye(2), sessions_df(2), model_info=INFO)
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert all(len(v) == 64 for v in m["files"].values())
