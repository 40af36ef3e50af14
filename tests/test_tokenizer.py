"""clef.tokenizer: multitaper kernel vs MNE, patching round trip, batching, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mne.time_frequency import psd_array_multitaper

from clef.channels import STANDARD_CHANNELS
from clef.errors import BadSignal, InvalidRecording, TooFewChannels, TooShort
from clef.session import Session
from clef.tokenizer import MultitaperTokenizer, TokenizerConfig
from clef.tokenizer import tokenizer as mt
from clef.tokenizer.patching import PatchLayout, patch, unpatch

RTOL = 1e-5


def mne_windows(x: np.ndarray, cfg: TokenizerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Reference: MNE's psd_array_multitaper on every window, (channels, windows, freqs)."""
    n, step = cfg.n_window, cfg.n_step
    n_win = (x.shape[-1] - n) // step + 1
    windows = np.stack([x[:, w * step: w * step + n] for w in range(n_win)], axis=1)
    psd, freqs = psd_array_multitaper(
        windows, cfg.sfreq, fmin=cfg.fmin, fmax=cfg.fmax, bandwidth=2 * cfg.nw * cfg.sfreq / n,
        adaptive=False, low_bias=True, normalization="length", verbose=False)
    return psd, freqs


def assert_matches_mne(x: np.ndarray, cfg: TokenizerConfig) -> None:
    tok = MultitaperTokenizer(cfg)
    ours = tok.spectrogram(x)
    ref, freqs = mne_windows(x, cfg)
    assert isinstance(ours, np.ndarray) and ours.dtype == np.float64
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(tok.freqs, freqs)
    rel = np.abs(ours - ref) / np.abs(ref)
    assert rel.max() < RTOL, f"max relative error {rel.max():.2e}"


# ---- kernel vs MNE ---------------------------------------------------------------------------
@pytest.mark.parametrize("sfreq, window_s", [(200.0, 4.0), (200.0, 4.005), (201.0, 4.0)])
def test_spectrogram_matches_mne_random(sfreq, window_s):
    cfg = TokenizerConfig(sfreq=sfreq, window_s=window_s)
    assert cfg.n_window % 2 == (1 if window_s == 4.005 else 0)
    x = np.random.default_rng(0).standard_normal((3, int(30 * sfreq))) * 2e-5 + 1e-4  # DC offset
    assert_matches_mne(x, cfg)


@pytest.mark.parametrize("window_s", [4.0, 4.005])
def test_spectrogram_matches_mne_full_range(window_s):
    """DC and (even length) Nyquist bins use MNE's one-sided scaling."""
    cfg = TokenizerConfig(window_s=window_s, fmin=0.0, fmax=100.0)
    assert cfg.freq_slice.start == 0 and cfg.n_freqs_full == cfg.n_window // 2 + 1
    x = np.random.default_rng(11).standard_normal((2, 4000)) * 1e-5
    assert_matches_mne(x, cfg)


@pytest.mark.parametrize("window_s", [4.0, 4.0 + 1 / 160])  # 640 (even) and 641 (odd) samples
def test_spectrogram_matches_mne_real_eeg(eegmmidb_edf, window_s):
    import mne

    raw = mne.io.read_raw_edf(eegmmidb_edf, preload=True, verbose=False)
    assert raw.info["sfreq"] == 160
    x = raw.get_data()[:8, : 160 * 40]  # 8 channels, 40 s, volts, float64
    cfg = TokenizerConfig(sfreq=160.0, window_s=window_s, fmin=1.0, fmax=45.0)
    assert_matches_mne(x, cfg)


def test_float32_path_close_to_mne():
    """float32 (the tokenize path) vs MNE in float64: documented tolerance 1e-3 relative."""
    cfg = TokenizerConfig()
    x = np.random.default_rng(1).standard_normal((2, 6000)) * 3e-5
    ours = MultitaperTokenizer(cfg).spectrogram(x.astype(np.float32))
    ref, _ = mne_windows(x.astype(np.float32).astype(np.float64), cfg)
    assert ours.dtype == np.float32
    assert (np.abs(ours - ref) / ref).max() < 1e-3


def test_tapers_follow_mne_low_bias_rule():
    tapers, eig = mt.dpss_tapers(800, 2.0)
    assert tapers.shape == (3, 800)  # K = 2NW - 1
    assert np.all(eig > 0.9)
    from mne.time_frequency import dpss_windows

    ref, ref_eig = dpss_windows(800, 2.0, 4, sym=False, low_bias=True)
    np.testing.assert_array_equal(tapers, ref)
    np.testing.assert_array_equal(eig, ref_eig)


def test_numpy_and_torch_inputs_agree():
    tok = MultitaperTokenizer(TokenizerConfig())
    x = (np.random.default_rng(2).standard_normal((2, 19, 4000)) * 1e-5).astype(np.float32)
    a = tok.spectrogram(x)
    b = tok.spectrogram(torch.from_numpy(x))
    assert isinstance(a, np.ndarray) and isinstance(b, torch.Tensor)
    assert a.shape == (2, 19, tok.n_windows(4000), 159)
    np.testing.assert_array_equal(a, b.numpy())
    np.testing.assert_array_equal(tok.spectrogram(x[0]), a[0])  # (C, S) -> (C, W, F)
    ta, tb = tok.tokenize(x), tok.tokenize(torch.from_numpy(x))
    assert torch.equal(ta.values, tb.values) and torch.equal(ta.mask, tb.mask)


def test_chunked_equals_unchunked():
    x = torch.from_numpy(np.random.default_rng(3).standard_normal((19, 9000)).astype(np.float32))
    one = MultitaperTokenizer(TokenizerConfig(), chunk_bytes=1).spectrogram(x)  # 1 window per chunk
    some = MultitaperTokenizer(TokenizerConfig(), chunk_bytes=7 * 19 * 3 * 800 * 4).spectrogram(x)
    whole = MultitaperTokenizer(TokenizerConfig(), chunk_bytes=2**40).spectrogram(x)
    assert torch.equal(one, whole) and torch.equal(some, whole)


def test_memory_bounded_by_chunks(monkeypatch):
    """Every FFT block stays within the chunk budget, so a 24-hour session stays far under 2 GB."""
    sizes = []
    real_rfft = torch.fft.rfft

    def spy(t, *a, **k):
        sizes.append(t.numel() * t.element_size())
        return real_rfft(t, *a, **k)

    monkeypatch.setattr(mt.torch.fft, "rfft", spy)
    budget = 4 * 19 * 3 * 800 * 4  # 4 windows of 19 channels
    x = torch.randn(19, 40 * 200)
    mt.multitaper_power(x, n_window=800, n_step=400, nw=2.0, freq_slice=slice(2, 161),
                        chunk_bytes=budget)
    assert len(sizes) == -(-19 // 4) and max(sizes) <= budget
    # Default budgets: a chunk (tapered block + complex spectrum + demeaned copy) is < 3x budget.
    assert 3 * max(mt.CPU_CHUNK_BYTES, mt.GPU_CHUNK_BYTES) < 2 * 2**30


# ---- config ----------------------------------------------------------------------------------
def test_config_dict_and_hash():
    cfg = TokenizerConfig.base()
    assert TokenizerConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.hash() == TokenizerConfig(sfreq=200).hash()  # int/float spelling does not matter
    assert len(cfg.hash()) == 12 and cfg.hash() != TokenizerConfig.tiny().hash()
    assert cfg.hash() != TokenizerConfig(db_scale=20.0).hash()
    with pytest.raises(ValueError, match="unknown keys"):
        TokenizerConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="channel_groups"):
        TokenizerConfig(channel_groups="lobes")


@pytest.mark.parametrize("preset, limit", [("base", 2048), ("tiny", 512)])
def test_presets_token_budget(preset, limit):
    tok = MultitaperTokenizer(getattr(TokenizerConfig, preset)())
    assert 0 < tok.n_tokens(20 * 60) <= limit
    assert tok.n_tokens(20 * 60) > tok.n_tokens(10 * 60)
    assert tok.n_regions == 5 and tok.patch_dim == 1200
    assert tok.n_tokens(tok.token_span_s) == tok.n_regions * tok.n_bands
    assert tok.n_tokens(tok.token_span_s - 0.5) == 0


# ---- patching --------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [TokenizerConfig.base(), TokenizerConfig.tiny(),
                                 TokenizerConfig(channel_groups="channels", n_bands=3,
                                                 windows_per_patch=5)])
@pytest.mark.parametrize("n_win", [37, 60])
def test_patch_round_trip_exact(cfg, n_win):
    layout = PatchLayout.from_config(cfg)
    gen = torch.Generator().manual_seed(n_win)  # seeded: the test must not depend on test order
    vol = torch.randn(19, n_win, cfg.n_freqs, generator=gen)
    vol[vol == 0] = 1.0  # exact zeros mark padding below; randn can (rarely) draw one
    values, t, r, b = patch(vol, layout)
    assert values.shape == (layout.n_tokens(n_win), layout.patch_dim)
    assert torch.equal(unpatch(values, t, r, b, layout, n_win), vol)
    perm = torch.randperm(values.shape[0], generator=gen)  # placement uses the indices, not the order
    assert torch.equal(unpatch(values[perm], t[perm], r[perm], b[perm], layout, n_win), vol)
    # padding (missing region channels, last band bins) sits exactly where `valid` says
    valid = layout.valid()[r, b]  # (n_tokens, patch_dim)
    full = t < t.max()  # last time patch may hold zero-filled windows
    assert torch.all(values[full][~valid[full]] == 0)
    assert torch.all(values[full][valid[full]] != 0)


def test_region_tokens_hold_region_channels():
    cfg = TokenizerConfig.base()
    layout = PatchLayout.from_config(cfg)
    vol = torch.zeros(19, 6, cfg.n_freqs)
    vol[STANDARD_CHANNELS.index("T7")] = 1.0  # left temporal only
    values, _t, r, _b = patch(vol, layout)
    hot = set(r[values.abs().sum(1) > 0].tolist())
    assert hot == {layout.group_names.index("left_temporal")}


@pytest.mark.parametrize("preset", ["base", "tiny"])
def test_tokenize_untokenize_exact(preset):
    tok = MultitaperTokenizer(getattr(TokenizerConfig, preset)())
    x = (np.random.default_rng(4).standard_normal((19, 200 * 75)) * 1e-5).astype(np.float32)
    tokens = tok.tokenize(x)
    n_win = tok.n_windows(x.shape[1])
    vol = tok.volume(x)
    assert tokens.values.dtype == torch.float32 and tokens.time_patch_s == tok.time_patch_s
    assert torch.equal(tok.untokenize(tokens, 0, n_windows=n_win), vol)
    if preset == "base":  # no pooling: the volume is the normalized spectrogram itself
        spec = torch.from_numpy(tok.spectrogram(x))
        assert torch.equal(vol, tok.normalize(spec.clone()))
        torch.testing.assert_close(tok.to_power(vol), spec, rtol=1e-4, atol=0)


def test_freq_pool_is_mean_power():
    tok = MultitaperTokenizer(TokenizerConfig.tiny())
    x = np.random.default_rng(5).standard_normal((19, 6000)) * 1e-5
    spec = tok.spectrogram(x)  # (C, W, 159) float64
    pooled = np.stack([spec[..., i: i + 4].mean(-1) for i in range(0, 159, 4)], -1)
    ref = np.clip(10 * np.log10(pooled / 200.0 / 1e-12), -60, None) / 10.0
    np.testing.assert_allclose(tok.volume(x).numpy(), ref, rtol=1e-5, atol=1e-6)
    assert len(tok.volume_freqs) == 40 and tok.volume_freqs[0] == pytest.approx(0.875)


# ---- batching, sessions, errors --------------------------------------------------------------
def test_padding_mask_for_variable_lengths():
    tok = MultitaperTokenizer(TokenizerConfig.base())
    rng = np.random.default_rng(6)
    seconds = [14, 50, 31]
    xs = [(rng.standard_normal((19, s * 200)) * 1e-5).astype(np.float32) for s in seconds]
    batch = tok.tokenize(xs)
    counts = [tok.n_tokens(s) for s in seconds]
    assert batch.values.shape == (3, max(counts), tok.patch_dim)
    assert batch.mask.sum(1).tolist() == counts
    for i, x in enumerate(xs):
        n = counts[i]
        assert batch.mask[i, :n].all() and not batch.mask[i, n:].any()
        assert torch.all(batch.values[i, n:] == 0)
        alone = tok.tokenize(x)
        assert torch.equal(batch.values[i, :n], alone.values[0])
        assert torch.equal(batch.time_idx[i, :n], alone.time_idx[0])
    assert batch.time_idx[1].max() == tok.layout.n_time_patches(tok.n_windows(50 * 200)) - 1


def test_batch_array_equals_list():
    tok = MultitaperTokenizer(TokenizerConfig.tiny())
    x = (np.random.default_rng(7).standard_normal((2, 19, 200 * 40)) * 1e-5).astype(np.float32)
    a, b = tok.tokenize(x), tok.tokenize([x[0], x[1]])
    assert torch.equal(a.values, b.values) and torch.equal(a.mask, b.mask)


def test_session_input_reorders_channels():
    tok = MultitaperTokenizer(TokenizerConfig.base())
    x = (np.random.default_rng(8).standard_normal((19, 200 * 20)) * 1e-5).astype(np.float32)
    perm = np.random.default_rng(9).permutation(19)
    s = Session(x[perm], 200.0, [STANDARD_CHANNELS[i] for i in perm], {"session_id": "s1"})
    assert torch.equal(tok.tokenize(s).values, tok.tokenize(x).values)
    assert torch.equal(tok.tokenize([s, s]).values[1], tok.tokenize(x).values[0])


def test_too_short_raises():
    tok = MultitaperTokenizer(TokenizerConfig.base())
    n = int(tok.token_span_s * 200)
    with pytest.raises(TooShort, match="token span"):
        tok.tokenize(np.zeros((19, n - 1), np.float32))
    assert tok.tokenize(np.zeros((19, n), np.float32)).mask.sum() == tok.n_regions * tok.n_bands


def test_wrong_rate_names_preprocess():
    tok = MultitaperTokenizer(TokenizerConfig.base())
    s = Session(np.zeros((19, 256 * 30), np.float32), 256.0, list(STANDARD_CHANNELS), {})
    with pytest.raises(InvalidRecording, match=r"clef\.io\.preprocess\(session, sfreq=200\)"):
        tok.tokenize(s)
    with pytest.raises(InvalidRecording, match="256"):
        tok.spectrogram(np.zeros((19, 8000)), sfreq=256)


def test_bad_channels_and_values():
    tok = MultitaperTokenizer(TokenizerConfig.base())
    with pytest.raises(TooFewChannels, match="19 standard"):
        tok.tokenize(np.zeros((18, 4000), np.float32))
    s = Session(np.zeros((18, 4000), np.float32), 200.0, list(STANDARD_CHANNELS[:18]), {})
    with pytest.raises(TooFewChannels, match="O2"):
        tok.tokenize(s)
    x = np.zeros((19, 4000), np.float32)
    x[3, 10] = np.nan
    with pytest.raises(BadSignal, match="NaN"):
        tok.tokenize(x)
    x[3, 10], x[5, 7] = np.inf, -np.inf  # +Inf and -Inf sum to NaN: still caught
    with pytest.raises(BadSignal, match="Inf"):
        tok.tokenize(x)
    x[5, 7] = 0.0
    with pytest.raises(BadSignal, match="Inf"):
        tok.tokenize(x)
    big = np.full((19, 4000), 3e34, np.float32)  # the sum overflows; every sample is finite
    assert tok.tokenize(big).n_tokens > 0


def test_flat_channel_hits_floor():
    tok = MultitaperTokenizer(TokenizerConfig.base())
    x = (np.random.default_rng(10).standard_normal((19, 4000)) * 1e-5).astype(np.float32)
    x[0] = 0.0
    vol = tok.volume(x)
    assert torch.all(vol[0] == -6.0) and torch.isfinite(vol).all()
