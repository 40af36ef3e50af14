"""Band-power features checked against Parseval and MNE's Welch PSD."""
from __future__ import annotations

import numpy as np
import pytest

from clef.features import BandPowerConfig, band_power, band_power_names, band_powers


@pytest.mark.parametrize("sfreq,n", [(200.0, 6000), (256.0, 5001)])
def test_sinusoid_power_lands_in_its_band(sfreq, n):
    t = np.arange(n) / sfreq
    amp = 40e-6  # 40 uV
    data = np.stack([amp * np.sin(2 * np.pi * 10.0 * t),  # alpha
                     amp * np.sin(2 * np.pi * 2.5 * t),  # delta
                     amp * np.sin(2 * np.pi * 20.0 * t)])  # beta
    p = band_powers(data, sfreq)  # (3, 5) uV^2
    expected = (amp * 1e6) ** 2 / 2  # mean square of a sinusoid (Parseval)
    for ch, band in [(0, 2), (1, 0), (2, 3)]:
        assert p[ch, band] == pytest.approx(expected, rel=0.03)
        assert p[ch].sum() - p[ch, band] < 0.02 * expected
    feats = band_power(data, sfreq)
    assert feats.shape == (2 * 3 * 5,)
    rel = feats[15:].reshape(3, 5)
    assert rel[0, 2] > 0.97 and rel[1, 0] > 0.97 and rel[2, 3] > 0.97
    np.testing.assert_allclose(rel.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(feats[:15].reshape(3, 5), np.log10(np.maximum(p, 1e-12)), rtol=1e-5)


def test_matches_mne_welch():
    mne_tf = pytest.importorskip("mne.time_frequency")
    rng = np.random.default_rng(0)
    sfreq = 200.0
    data = rng.standard_normal((4, 4001)) * 20e-6
    cfg = BandPowerConfig()
    p = band_powers(data, sfreq, cfg)
    psd, freqs = mne_tf.psd_array_welch(data * 1e6, sfreq, n_fft=400, n_per_seg=400, n_overlap=200,
                                        average="mean", window="hann", verbose=False)
    df = freqs[1] - freqs[0]
    for j, (_, lo, hi) in enumerate(cfg.bands):
        sel = (freqs >= lo) & (freqs < hi)
        np.testing.assert_allclose(p[:, j], psd[:, sel].sum(axis=1) * df, rtol=1e-6)


def test_batch_names_and_errors():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 1000)) * 1e-5
    f = band_power(x, 200.0)
    assert f.shape == (2, 30) and f.dtype == np.float32
    np.testing.assert_allclose(f[1], band_power(x[1], 200.0), rtol=1e-6)
    np.testing.assert_array_equal(band_power(x, 200.0, relative=False), f[:, :15])
    names = band_power_names(["Fp1", "Fp2", "F7"])
    assert len(names) == 30 and names[0] == "log_delta_Fp1" and names[15] == "rel_delta_Fp1"
    flat = np.zeros((2, 1000))
    assert np.isfinite(band_power(flat, 200.0)).all()
    with pytest.raises(ValueError, match="NaN"):
        band_power(np.full((2, 1000), np.nan), 200.0)
    with pytest.raises(ValueError, match="shorter"):
        band_power(x[0, :, :100], 200.0)
    with pytest.raises(ValueError, match="Nyquist"):
        band_power(x[0], 50.0)
