"""clef.thumbnails: a session's coarse spectrogram from its tokens, and its place in the store."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clef.store import EmbeddingStore
from clef.thumbnails import THUMB_TIMES, Thumbnail, thumbnail, tokens_thumbnail
from clef.tokenizer import MultitaperTokenizer, TokenizerConfig


def test_thumbnail_puts_a_burst_in_its_time_and_frequency():
    freqs = np.arange(1.0, 41.0)  # (40,)
    density = np.full((3, 300, 40), 1e-12)  # (channels, windows, freqs): flat 0 dB
    density[:, 90:210, 8:12] = 1e-10  # 9-12 Hz at 20 dB, in windows 90-209 of 300
    th = thumbnail(density, freqs, 598.0)
    assert th.image.dtype == np.uint8 and th.image.shape == (30, THUMB_TIMES)  # rows <= 30 Hz
    assert th.freqs[-1] == 30.0 and th.span_s == 598.0
    rows, cols = np.nonzero(th.image == 255)
    assert set(th.freqs[rows]) == {9.0, 10.0, 11.0, 12.0}
    assert 90 <= cols.min() * 300 / THUMB_TIMES and (cols.max() + 1) * 300 / THUMB_TIMES <= 211
    assert (th.image[:8] == 0).all() and (th.image[12:] == 0).all()
    assert th.db_lo == pytest.approx(0.0, abs=1e-6) and th.db_hi == pytest.approx(20.0, abs=1e-6)


def test_fewer_windows_than_columns_repeat_windows():
    density = np.ones((1, 5, 4)) * np.array([1, 2, 3, 4, 5])[None, :, None] * 1e-12
    th = thumbnail(density, np.arange(4.0), 8.0, n_times=10)
    assert th.image.shape == (4, 10)
    assert (np.diff(th.image[0].astype(int)) >= 0).all()  # time order kept, each window twice


def test_from_tokens_equals_from_the_signal_without_the_padding():
    tok = MultitaperTokenizer(TokenizerConfig(sfreq=100.0))
    rng = np.random.default_rng(0)
    n = int(100 * (3 * tok.token_span_s + 7))  # three whole time patches and part of a fourth
    t = np.arange(n) / 100.0
    data = (rng.normal(0, 5e-6, (19, n)) + 2e-5 * np.sin(2 * np.pi * 10 * t)).astype(np.float32)
    tokens = tok.tokenize(data, sfreq=100.0)
    got = tokens_thumbnail(tok, tokens)
    vol = tok.volume(data, sfreq=100.0)  # (channels, windows, freqs): every real window
    want = thumbnail((tok.to_power(vol) / 100.0).double().numpy(), tok.volume_freqs,
                     float(tok.times(vol.shape[1])[-1]))
    np.testing.assert_array_equal(got.image, want.image)
    assert got.span_s == want.span_s and got.freqs[np.argmax(got.image.mean(1))] == pytest.approx(
        10, abs=1)


def test_learned_codes_give_no_thumbnail():
    tok = MultitaperTokenizer(TokenizerConfig(sfreq=100.0))
    tokens = tok.tokenize(np.zeros((19, int(100 * tok.token_span_s)), np.float32) + 1e-6,
                          sfreq=100.0)
    tokens.codes = tokens.time_idx.clone()
    assert tokens_thumbnail(tok, tokens) is None


def _store(tmp_path, thumbs):
    emb = np.eye(3, 4, dtype=np.float32)
    return EmbeddingStore.write(tmp_path / "st", emb, pd.DataFrame({"session_id": list("abc")}),
                                model_info={"model_name": "m"}, thumbnails=thumbs)


def test_store_keeps_thumbnails_and_the_missing_ones(tmp_path):
    th = Thumbnail(np.arange(12, dtype=np.uint8).reshape(3, 4), np.array([1.0, 2.0, 3.0]),
                   60.0, -3.0, 12.5)
    st = _store(tmp_path, [th, None, th])
    st.verify()
    got = EmbeddingStore.open(st.path).thumbnail("c")
    np.testing.assert_array_equal(got.image, th.image)
    np.testing.assert_allclose(got.freqs, th.freqs)
    assert (got.span_s, got.db_lo, got.db_hi) == (60.0, -3.0, 12.5)
    assert st.thumbnail("b") is None
    with pytest.raises(KeyError, match="'z'"):
        st.thumbnail("z")
    plain = _store(tmp_path, None)  # rewritten without: the files go
    assert plain.thumbnail("a") is None and not (plain.path / "thumbnails.npy").exists()


def test_store_refuses_thumbnails_that_do_not_fit(tmp_path):
    a = Thumbnail(np.zeros((3, 4), np.uint8), np.arange(3.0), 1.0, 0.0, 1.0)
    b = Thumbnail(np.zeros((2, 4), np.uint8), np.arange(2.0), 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="differ in shape"):
        _store(tmp_path, [a, b, a])
    with pytest.raises(ValueError, match="2 thumbnails for 3 sessions"):
        _store(tmp_path, [a, a])


def test_thumbnail_png_draws_low_frequencies_at_the_bottom():
    import io

    from PIL import Image

    from clef.explore import thumbnail_png

    image = np.zeros((30, THUMB_TIMES), np.uint8)
    image[-5:] = 255  # the highest frequencies bright
    png = thumbnail_png(Thumbnail(image, np.arange(1.0, 31.0), 60.0, 0.0, 10.0), 120, 60)
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    assert rgb.shape == (60, 120, 3)
    assert rgb[2].sum() > rgb[-2].sum() + 200 * 120  # Viridis: bright yellow on top, dark below


def test_a_store_without_thumbnails_gets_the_same_kind_from_the_signals():
    from clef.explore import Spectra, span_label, spectra_thumbnail

    freqs = np.arange(0.5, 40.0, 0.25)
    times = np.arange(2.0, 600.0, 2.0)
    density = np.full((19, len(times), len(freqs)), 1e-12)  # (channels, windows, freqs)
    density[:, :, (freqs >= 9) & (freqs < 11)] = 1e-10  # alpha all along
    th = spectra_thumbnail(Spectra(times, freqs, density, [f"c{i}" for i in range(19)]))
    assert th.image.shape == (int((freqs <= 30).sum()), THUMB_TIMES) and th.span_s == times[-1]
    assert 9 <= th.freqs[np.argmax(th.image.mean(axis=1))] < 11
    assert span_label(th.span_s, th.freqs[0], th.freqs[-1]) == "0-10 min, 0-30 Hz"
