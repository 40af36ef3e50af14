"""Signals that cannot be what they claim are refused (issue 16.4): a rate too low for the
tokenizer's band and amplitudes outside the physiological range (units mistakes) raise typed
errors that name the problem and the fix; a known factor can be applied with amplitude_scale."""
from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest
from mne.export import export_raw

from clef import explore
from clef.channels import STANDARD_CHANNELS
from clef.errors import ImplausibleAmplitude, InvalidRecording, SamplingRateTooLow
from clef.io import Session, preprocess, read_session
from clef.io.checks import MIN_SFREQ_HZ
from clef.tokenizer import TokenizerConfig


def _eeg(seconds=20.0, sfreq=256.0, scale=1.0, seed=0) -> np.ndarray:
    """19 channels of ~20 uV noise plus a 10 Hz rhythm, in volts times ``scale``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sfreq)) / sfreq
    x = rng.standard_normal((19, t.size)) * 15e-6 + 20e-6 * np.sin(2 * np.pi * 10 * t)
    return x * scale


def _edf(path: Path, sfreq=256.0, seconds=20.0) -> Path:
    raw = mne.io.RawArray(_eeg(seconds, sfreq), mne.create_info(list(STANDARD_CHANNELS), sfreq,
                                                                "eeg"), verbose="error")
    export_raw(path, raw, verbose="error", overwrite=True)
    return path


def _relabel_units(src: Path, dst: Path, unit: str) -> Path:
    """Copy an EDF and change every signal's physical dimension (a units mistake in the header)."""
    data = bytearray(src.read_bytes())
    ns = int(data[252:256].decode())
    start = 256 + ns * (16 + 80)  # labels (16 each), then transducer types (80 each)
    for i in range(ns):
        field = data[start + 8 * i: start + 8 * i + 8].decode().strip()
        if field.lower() in ("uv", "µv"):
            data[start + 8 * i: start + 8 * i + 8] = unit.ljust(8).encode()
    dst.write_bytes(bytes(data))
    return dst


def test_min_rate_is_twice_the_tokenizer_top_frequency():
    assert MIN_SFREQ_HZ == 2 * TokenizerConfig().fmax


@pytest.mark.parametrize("sfreq", [4.0, 50.0, 64.0])
def test_low_rate_file_refused(tmp_path, sfreq):
    path = _edf(tmp_path / f"low_{int(sfreq)}.edf", sfreq=sfreq, seconds=60.0)
    with pytest.raises(SamplingRateTooLow) as info:
        read_session(path)
    msg = str(info.value)
    assert path.name in msg and f"{sfreq:g} Hz" in msg and "80 Hz" in msg and "Fix:" in msg
    assert isinstance(info.value, InvalidRecording)


def test_low_rate_in_memory_refused_and_rate_at_limit_accepted():
    with pytest.raises(SamplingRateTooLow):
        preprocess(Session(_eeg(sfreq=64.0).astype(np.float32), 64.0, list(STANDARD_CHANNELS)))
    sess = preprocess(Session(_eeg(sfreq=80.0).astype(np.float32), 80.0,
                              list(STANDARD_CHANNELS)))
    assert sess.sfreq == 200.0 and sess.meta["orig_sfreq"] == 80.0


@pytest.mark.parametrize("scale, factor", [(1e6, 1e-6), (1e3, 1e-3), (1e-3, 1e3), (1e-6, 1e6)])
def test_units_mistake_refused_with_factor(scale, factor):
    sess = Session(_eeg(scale=scale).astype(np.float32), 256.0, list(STANDARD_CHANNELS))
    with pytest.raises(ImplausibleAmplitude) as info:
        preprocess(sess)
    msg = str(info.value)
    assert "physiological range" in msg and f"amplitude_scale={factor:g}" in msg
    fixed = preprocess(sess, amplitude_scale=factor)  # the fix the message names works
    assert fixed.meta["amplitude_scale"] == factor
    assert 5 <= fixed.meta["typical_amplitude_uv"] <= 40
    ref = preprocess(Session(_eeg().astype(np.float32), 256.0, list(STANDARD_CHANNELS)))
    np.testing.assert_allclose(fixed.data, ref.data, rtol=1e-3, atol=1e-9)


def test_units_mistake_in_edf_header(tmp_path):
    good = _edf(tmp_path / "good.edf")
    assert 5 <= read_session(good).meta["typical_amplitude_uv"] <= 40
    bad = _relabel_units(good, tmp_path / "millivolts.edf", "mV")
    with pytest.raises(ImplausibleAmplitude, match=r"1e3 times too large.*amplitude_scale=0\.001"):
        read_session(bad)
    assert read_session(bad, amplitude_scale=1e-3).meta["amplitude_scale"] == 1e-3


def test_real_eeg_passes_and_records_amplitude(eegmmidb_edf):
    amp = read_session(eegmmidb_edf).meta["typical_amplitude_uv"]
    assert 1 <= amp <= 100


def test_upload_refuses_low_rate_and_wrong_units(tmp_path):
    low = _edf(tmp_path / "low.edf", sfreq=50.0, seconds=60.0)
    with pytest.raises(SamplingRateTooLow):
        explore.read_uploaded(low.read_bytes(), low.name)
    bad = _relabel_units(_edf(tmp_path / "g.edf"), tmp_path / "mv.edf", "mV")
    with pytest.raises(ImplausibleAmplitude):
        explore.read_uploaded(bad.read_bytes(), bad.name)


def test_info_lists_the_problem(tmp_path):
    from clef.io import summarize

    low = _edf(tmp_path / "low.edf", sfreq=50.0, seconds=60.0)
    problems = summarize(low)["problems"]
    assert [p["error"] for p in problems] == ["SamplingRateTooLow"]
