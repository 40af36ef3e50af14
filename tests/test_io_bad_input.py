"""clef.io on bad input: each problem gets its specific typed error; nothing else escapes."""
from __future__ import annotations

import tempfile
from pathlib import Path

import mne
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mne.export import export_raw

from clef.channels import STANDARD_CHANNELS
from clef.errors import (
    BadSignal,
    InvalidRecording,
    TooFewChannels,
    TooShort,
    UnreadableRecording,
    UnsupportedFormat,
)
from clef.io import Session, preprocess, read_edf_header, read_session


def make_raw(names, seconds=12.0, sfreq=128.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((len(names), int(seconds * sfreq))) * 20e-6
    return mne.io.RawArray(x, mne.create_info(list(names), sfreq, "eeg"), verbose="error")


def write_edf(path: Path, raw) -> Path:
    export_raw(path, raw, verbose="error", overwrite=True)
    return path


@pytest.fixture(scope="module")
def good_edf(tmp_path_factory) -> Path:
    """A valid 12-s EDF with the 19 standard channels and an ECG."""
    return write_edf(tmp_path_factory.mktemp("edf") / "good.edf",
                     make_raw(list(STANDARD_CHANNELS) + ["ECG"]))


def _raises(exc, path, match=None, **kw):
    with pytest.raises(exc, match=match) as info:
        read_session(path, **kw)
    assert Path(path).name in str(info.value)  # the message names the file ...
    assert "Fix:" in str(info.value) and info.value.fix  # ... and the fix
    return info.value


def test_good_file_reads(good_edf):
    sess = read_session(good_edf)
    assert sess.data.shape == (19, 12 * 200)
    assert read_edf_header(good_edf).n_signals == 21  # 20 signals + EDF Annotations


def test_truncated_file(good_edf, tmp_path):
    data = good_edf.read_bytes()
    bad = tmp_path / "truncated.edf"
    bad.write_bytes(data[: len(data) - 1000])
    _raises(UnreadableRecording, bad, match="truncated")


def test_header_claims_more_records_than_present(good_edf, tmp_path):
    data = bytearray(good_edf.read_bytes())
    n = int(data[236:244].decode().strip())
    data[236:244] = str(n + 50).ljust(8).encode()
    bad = tmp_path / "claims.edf"
    bad.write_bytes(bytes(data))
    err = _raises(UnreadableRecording, bad, match="claims")
    assert str(n + 50) in err.problem


def test_corrupt_header_field(good_edf, tmp_path):
    data = bytearray(good_edf.read_bytes())
    data[252:256] = b"abcd"  # number of signals
    bad = tmp_path / "corrupt.edf"
    bad.write_bytes(bytes(data))
    _raises(UnreadableRecording, bad, match="number of signals")


def test_random_bytes_with_edf_name(tmp_path):
    bad = tmp_path / "random.edf"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    _raises(UnreadableRecording, bad, match="EDF")


def test_unknown_extension(tmp_path):
    bad = tmp_path / "notes.xyz"
    bad.write_text("subject 1, eyes closed\n")
    _raises(UnsupportedFormat, bad, match="unknown recording format")


def test_edf_content_with_unknown_extension_is_sniffed(good_edf, tmp_path):
    renamed = tmp_path / "recording.dat"
    renamed.write_bytes(good_edf.read_bytes())
    assert read_session(renamed).meta["format"] == "edf"


def test_missing_file_and_folder(tmp_path):
    _raises(UnreadableRecording, tmp_path / "nope.edf", match="does not exist")
    with pytest.raises(UnsupportedFormat, match="folder"):
        read_session(tmp_path)


def test_brainvision_without_data_file(tmp_path):
    pytest.importorskip("pybv", reason="MNE needs pybv to write BrainVision files")
    vhdr = tmp_path / "rec.vhdr"
    export_raw(vhdr, make_raw(list(STANDARD_CHANNELS)), verbose="error")
    (tmp_path / "rec.eeg").unlink()
    _raises(UnreadableRecording, vhdr, match="MNE cannot parse")


def test_nan_run(tmp_path):
    raw = make_raw(list(STANDARD_CHANNELS))
    raw._data[STANDARD_CHANNELS.index("Cz"), 300:420] = np.nan  # a 1-s NaN run
    f = tmp_path / "nan_raw.fif"
    raw.save(f, verbose="error")
    err = _raises(BadSignal, f, match="Cz")
    assert "120 NaN/Inf" in err.problem and "Pz" not in err.problem


def test_inf_in_memory_session():
    x = make_raw(list(STANDARD_CHANNELS)).get_data().astype(np.float32)
    x[2, 10] = np.inf
    with pytest.raises(BadSignal, match="F7"):
        preprocess(Session(x, 128.0, list(STANDARD_CHANNELS)))


def test_one_flat_channel(tmp_path):
    raw = make_raw(list(STANDARD_CHANNELS) + ["ECG"])
    raw._data[STANDARD_CHANNELS.index("Fz")] = 0.0
    err = _raises(BadSignal, write_edf(tmp_path / "flat.edf", raw), match="Fz")
    assert "flat" in err.problem and "Cz" not in err.problem


def test_saturated_channel(tmp_path):
    raw = make_raw(list(STANDARD_CHANNELS))
    i = STANDARD_CHANNELS.index("T7")
    raw._data[i] = np.clip(raw._data[i] * 5, -40e-6, 40e-6)  # amplifier clipping
    err = _raises(BadSignal, write_edf(tmp_path / "clipped.edf", raw), match="T7")
    assert "saturated" in err.problem
    # the check can be switched off
    assert read_session(tmp_path / "clipped.edf", check_quality=False).data.shape[0] == 19


def test_only_three_eeg_channels(tmp_path):
    raw = make_raw(["Fp1", "Cz", "O2", "ECG", "EMG"])
    err = _raises(TooFewChannels, write_edf(tmp_path / "three.edf", raw), match="16 of the 19")
    assert "found Fp1, Cz, O2" in err.problem and "F7" in err.problem


def test_missing_channels_interpolated_up_to_max_missing(tmp_path):
    keep = [c for c in STANDARD_CHANNELS if c not in ("T7", "P8", "Pz", "F4")]
    f = write_edf(tmp_path / "fifteen.edf", make_raw(keep))
    _raises(TooFewChannels, f, match="4 of the 19")
    sess = read_session(f, max_missing=4)
    assert sess.meta["interpolated"] == ["F4", "T7", "Pz", "P8"]
    assert sess.ch_names == list(STANDARD_CHANNELS) and np.isfinite(sess.data).all()


def test_five_second_file(tmp_path):
    f = write_edf(tmp_path / "short.edf", make_raw(list(STANDARD_CHANNELS), seconds=5.0))
    err = _raises(TooShort, f, match="5.00 s")
    assert "10 s" in err.problem
    assert read_session(f, min_duration_s=2.0).duration_s == pytest.approx(5.0)


def test_bad_parameters_are_value_errors(good_edf):
    with pytest.raises(ValueError, match="sfreq"):
        read_session(good_edf, sfreq=-1)
    with pytest.raises(ValueError, match="l_freq"):
        read_session(good_edf, l_freq=40.0, h_freq=30.0)
    with pytest.raises(TypeError):
        read_session(good_edf, not_an_option=1)


# --------------------------------------------------------------------------------------------
# Fuzz: random and mutated bytes


_EXTS = st.sampled_from([".edf", ".bdf", ".fif", ".vhdr", ".set", ".dat", ""])


def _check_only_invalid_recording(content: bytes, ext: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / f"fuzz{ext}"
        f.write_bytes(content)
        try:
            sess = read_session(f, min_duration_s=1.0)
        except InvalidRecording:
            return
        assert sess.data.dtype == np.float32 and sess.data.shape[0] == 19


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(min_size=0, max_size=4096), ext=_EXTS)
def test_fuzz_random_bytes(content, ext):
    _check_only_invalid_recording(content, ext)


@pytest.fixture(scope="module")
def small_edf_bytes(tmp_path_factory) -> bytes:
    f = tmp_path_factory.mktemp("fuzz") / "small.edf"
    raw = make_raw(list(STANDARD_CHANNELS) + ["ECG"], seconds=3.0, sfreq=64.0)
    return write_edf(f, raw).read_bytes()


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_mutated_edf(small_edf_bytes, data):
    content = bytearray(small_edf_bytes)
    header_len = 256 * 22
    n_mut = data.draw(st.integers(1, 12), label="mutations")
    for _ in range(n_mut):
        # mostly the header, where parsing happens; sometimes the data records
        hi = header_len if data.draw(st.booleans(), label="in_header") else len(content)
        pos = data.draw(st.integers(0, hi - 1), label="pos")
        content[pos] = data.draw(st.integers(0, 255), label="byte")
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(content))), label="cut")
    if cut is not None:
        content = content[:cut]
    ext = data.draw(st.sampled_from([".edf", ".bdf", ".dat"]), label="ext")
    _check_only_invalid_recording(bytes(content), ext)


def test_crashing_matlab_reader_is_contained(tmp_path, monkeypatch):
    """SciPy's loadmat can segfault on corrupt .set files; the child process absorbs it."""
    pytest.importorskip("eeglabio", reason="MNE needs eeglabio to write EEGLAB files")
    from clef.io import formats

    f = tmp_path / "rec.set"
    export_raw(f, make_raw(list(STANDARD_CHANNELS)), verbose="error")
    assert read_session(f).data.shape[0] == 19  # the probe passes a good file
    monkeypatch.setattr(formats, "_MAT_PROBE",
                        "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    err = _raises(UnreadableRecording, f, match="crashes the reader")
    assert "signal 11" in err.problem
