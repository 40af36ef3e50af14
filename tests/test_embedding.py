"""`clef.embedding`: the one tokenize-encode-normalise path and its unit-norm invariant."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from clef.channels import STANDARD_CHANNELS
from clef.embedding import (
    UNIT_NORM_ATOL,
    check_unit_norm,
    embed,
    embed_recording,
    embed_sessions,
    embed_sessions_shared,
    unit_normalize,
)
from clef.errors import NotUnitNorm, TooShort
from clef.model import CLEFModel, ModelConfig
from clef.session import Session

TINY = {
    "name": "test-tiny", "embed_dim": 16,
    "tokenizer": {"preset": "tiny", "windows_per_patch": 2, "freq_pool": 8},
    "encoder": {"d_model": 32, "n_layers": 2, "n_heads": 2, "max_tokens": 256},
    "decoder": {"d_model": 16, "n_layers": 1, "n_heads": 2},
    "text": {"backbone": "hashing", "hash_dim": 64},
    "ehr": {"code_dim": 8, "hidden": 16},
}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CLEFModel(ModelConfig.from_dict(TINY).resolve()).eval()


def _arrays(seconds, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((19, int(200 * s))) * 2e-5).astype(np.float32) for s in seconds]


def test_embed_equals_encoder_on_tokenizer_output(model):
    arrays = _arrays([40, 25, 33])
    got = embed(model, arrays, batch_size=2)  # (3, 16)
    assert got.shape == (3, 16) and got.dtype == np.float32
    with torch.no_grad():
        for i, a in enumerate(arrays):
            ref = model.encode_eeg(model.tokenizer.tokenize([a]), normalize=True).numpy()[0]
            np.testing.assert_allclose(got[i], ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    assert model.training is False


def test_failures_are_isolated_and_reported(model):
    arrays = _arrays([40, 5, 30])  # 5 s: shorter than one token span
    vectors, windows, errors = embed_sessions(model, arrays, batch_size=3, states=True)
    assert list(errors) == [1]
    assert np.isnan(vectors[1]).all() and np.isfinite(vectors[[0, 2]]).all()
    assert windows[1] is None and windows[0].shape[1] == 16
    np.testing.assert_allclose(np.linalg.norm(windows[0], axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(vectors[[0, 2]], embed(model, [arrays[0], arrays[2]]), atol=1e-5)
    with pytest.raises(type(errors[1])):
        embed(model, arrays)


def test_sessions_are_brought_to_the_tokenizer_rate(model):
    (a,) = _arrays([30])
    s200 = Session(a, 200.0, list(STANDARD_CHANNELS))
    up = np.repeat(a, 2, axis=1)  # 400 Hz, same content band
    s400 = Session(up, 400.0, list(STANDARD_CHANNELS))
    v = embed(model, [s200, s400])
    assert v.shape == (2, 16) and np.isfinite(v).all()


def test_shared_tokenization_equals_one_model_at_a_time(model):
    torch.manual_seed(1)
    other = CLEFModel(ModelConfig.from_dict(TINY).resolve())
    arrays = _arrays([40, 5, 30], seed=2)
    vectors, errors = embed_sessions_shared({"a": model, "b": other}, arrays, batch_size=2)
    assert list(errors) == [1]
    for name, m in (("a", model), ("b", other)):
        np.testing.assert_allclose(vectors[name][[0, 2]], embed(m, [arrays[0], arrays[2]]),
                                   atol=1e-5)
    assert other.training is True  # training flags are restored


def test_embed_recording_reads_once(model, tmp_path):
    (a,) = _arrays([30])
    calls = []

    def read(path, sfreq):
        calls.append((path, sfreq))
        return Session(a, 200.0, list(STANDARD_CHANNELS))

    v = embed_recording(model, tmp_path / "x.edf", read=read)
    assert calls == [(tmp_path / "x.edf", 200.0)]
    np.testing.assert_allclose(v, embed(model, [a])[0], atol=1e-6)

    def short(path, sfreq):
        raise TooShort(path, "only 2 s", "use a longer recording")

    with pytest.raises(TooShort):
        embed_recording(model, tmp_path / "y.edf", read=short)


def test_unit_norm_is_checked_not_recomputed():
    x = unit_normalize(np.random.default_rng(0).normal(size=(5, 8)) * 3)
    assert check_unit_norm(x, "x") is x  # float32 already: returned as is, not rescaled
    check_unit_norm(np.vstack([x, np.full((1, 8), np.nan)]), "with a failed row")
    with pytest.raises(NotUnitNorm, match="unit_normalize"):
        check_unit_norm(x * (1 + 3 * UNIT_NORM_ATOL), "scaled")
    assert unit_normalize(np.zeros((1, 3))).tolist() == [[0.0, 0.0, 0.0]]


def test_store_index_and_map_refuse_non_unit_rows(tmp_path):
    import pandas as pd

    from clef.index import SessionIndex
    from clef.store import EmbeddingStore

    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    ids = pd.DataFrame({"session_id": [f"s{i}" for i in range(6)]})
    info = {"model_sha256": "a" * 64, "model_name": "t", "tokenizer_sha256": "b" * 64}
    with pytest.raises(NotUnitNorm):
        EmbeddingStore.write(tmp_path / "a", x, ids, model_info=info, normalize=False)
    with pytest.raises(NotUnitNorm):
        SessionIndex.from_vectors(x, normalize=False)
    u = unit_normalize(x)
    st = EmbeddingStore.write(tmp_path / "b", u, ids, model_info=info, normalize=False)
    assert np.array_equal(np.asarray(st.embeddings), u)  # kept bit for bit, not re-normalised
    assert st.manifest["normalized"] is True
    idx = SessionIndex.build(st, progress=False)
    assert np.array_equal(idx.vector("s3"), u[3])
