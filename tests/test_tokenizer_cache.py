"""clef.tokenizer.TokenCache: hits are identical, config changes miss, writes are atomic."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from clef.tokenizer import MultitaperTokenizer, TokenCache, TokenizerConfig, collate_tokens


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    return (np.random.default_rng(0).standard_normal((19, 200 * 40)) * 1e-5).astype(np.float32)


def assert_same(a, b) -> None:
    for f in ("values", "time_idx", "region_idx", "band_idx", "mask"):
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and torch.equal(x, y), f
    assert a.time_patch_s == b.time_patch_s


def test_put_get_identical(tmp_path, signal):
    cfg = TokenizerConfig.tiny()
    tokens = MultitaperTokenizer(cfg).tokenize(signal)
    cache = TokenCache(tmp_path, cfg)
    assert cache.get("s1") is None and "s1" not in cache
    path = cache.put("s1", tokens, n_windows=19)
    assert path.parent.name == cfg.hash() and path.suffix == ".safetensors"
    assert_same(cache.get("s1"), tokens)
    assert cache.n_windows("s1") == 19
    assert not list(tmp_path.rglob("*.tmp"))  # atomic write left nothing behind
    assert (tmp_path / cfg.hash() / "config.json").is_file()


def test_get_or_compute_and_config_miss(tmp_path, signal):
    cfg = TokenizerConfig.tiny()
    calls = []

    def compute():
        calls.append(1)
        return signal

    cache = TokenCache(tmp_path, cfg)
    first = cache.get_or_compute("sub/01:a", compute)  # odd characters are quoted, not paths
    second = cache.get_or_compute("sub/01:a", compute)
    assert len(calls) == 1
    assert_same(first, second)
    assert_same(first, MultitaperTokenizer(cfg).tokenize(signal))
    assert cache.n_windows("sub/01:a") == MultitaperTokenizer(cfg).n_windows(signal.shape[1])
    assert len(list((tmp_path / cfg.hash()).glob("*.safetensors"))) == 1

    other = TokenCache(tmp_path, TokenizerConfig(windows_per_patch=12, n_bands=2, freq_pool=2))
    assert other.get("sub/01:a") is None  # changed config misses
    other.get_or_compute("sub/01:a", compute)
    assert len(calls) == 2


def test_put_rejects_wrong_config_and_bad_ids(tmp_path, signal):
    tokens = MultitaperTokenizer(TokenizerConfig.tiny()).tokenize(signal)
    cache = TokenCache(tmp_path, TokenizerConfig(n_bands=3))
    with pytest.raises(ValueError, match="patch_dim"):
        cache.put("s1", tokens)
    with pytest.raises(ValueError, match="session_id"):
        cache.path("..")


def test_collate_cached_sessions(tmp_path, signal):
    cfg = TokenizerConfig.base()
    tok = MultitaperTokenizer(cfg)
    short, long_ = signal[:, : 200 * 20], signal
    cache = TokenCache(tmp_path, cfg)
    a = cache.get_or_compute("a", lambda: short)
    b = cache.get_or_compute("b", lambda: long_)
    assert_same(collate_tokens([a, b]), tok.tokenize([short, long_]))
