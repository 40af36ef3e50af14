"""clef.io: formats, harmonization, interpolation, montages, filters, resampling vs MNE/scipy."""
from __future__ import annotations

import tracemalloc
import warnings

import mne
import numpy as np
import pytest
from mne.export import export_raw

from clef.channels import DOUBLE_BANANA, STANDARD_CHANNELS
from clef.errors import TooFewChannels
from clef.io import (
    BIPOLAR_NAMES,
    Session,
    apply_montage,
    detect_format,
    harmonize_names,
    interpolation_matrix,
    preprocess,
    read_session,
    standard_name,
)

OLD = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}
RAW_OPTS = {"sfreq": None, "montage": "none", "l_freq": None}  # no processing: raw values


def make_raw(names, seconds=20.0, sfreq=256.0, seed=0, amp=20e-6):
    """RawArray of smooth-ish random EEG-like signals (volts) with a few annotations."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    x = rng.standard_normal((len(names), n)) * amp
    t = np.arange(n) / sfreq
    x += amp * np.sin(2 * np.pi * 10 * t) * rng.uniform(0.5, 1.5, (len(names), 1))
    raw = mne.io.RawArray(x, mne.create_info(list(names), sfreq, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([1.0, 5.0, 7.5], [0.5, 0.0, 1.0],
                                        ["spike", "eyes open", "spike"]))
    return raw


def edf_step(raw):
    """EDF quantization step of MNE's export (one physical range for all channels)."""
    x = raw.get_data()
    return (x.max() - x.min()) / 65535


# --------------------------------------------------------------------------------------------
# Harmonization


@pytest.mark.parametrize("name, expected", [
    ("Fp1", "Fp1"), ("FP1", "Fp1"), ("fp1", "Fp1"), ("EEG FP1-REF", "Fp1"), ("EEG FP1-LE", "Fp1"),
    ("Fp1-AVG", "Fp1"), ("Fp1.", "Fp1"), ("C3..", "C3"), ("Cz..", "Cz"), ("T3", "T7"),
    ("EEG T5-REF", "P7"), ("t6", "P8"), ("EEG T4-LE", "T8"), ("O2-A1", "O2"),
    ("Fc5.", None), ("ECG", None), ("EEG EKG-REF", None), ("EOG left", None), ("Photic", None),
    ("EDF Annotations", None), ("Fp1-F7", None), ("EMG", None), ("Iz..", None),
])
def test_standard_name_variants(name, expected):
    assert standard_name(name) == expected


def test_harmonize_names_mapping_ears_dropped_missing():
    names = ["EEG FP1-REF", "EEG T3-REF", "EEG A1-REF", "EEG A2-REF", "ECG", "Fc5.", "T7"]
    h = harmonize_names(names)
    assert h.mapping == {"EEG FP1-REF": "Fp1", "EEG T3-REF": "T7"}
    assert h.ears == {"EEG A1-REF": "A1", "EEG A2-REF": "A2"}
    assert h.dropped == ["ECG", "Fc5.", "T7"]  # T7 duplicates T3 -> first one wins
    assert h.found == ["Fp1", "T7"]
    assert h.missing == [c for c in STANDARD_CHANNELS if c not in ("Fp1", "T7")]
    assert h.ear_pair() == ("EEG A1-REF", "EEG A2-REF")


# --------------------------------------------------------------------------------------------
# Real recordings (EEGMMIDB)


def _mne_reference(path, sfreq=200.0):
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    dotted = {c: n for c in raw.ch_names if (n := standard_name(c))}
    raw.pick(list(dotted)).rename_channels(dotted).reorder_channels(list(STANDARD_CHANNELS))
    raw.set_eeg_reference("average", projection=False, verbose="error")
    raw.resample(sfreq, method="polyphase", verbose="error")
    return raw


def test_eegmmidb_matches_plain_mne(eegmmidb_edf):
    sess = read_session(eegmmidb_edf, sfreq=200.0, montage="average", l_freq=None)
    ref = _mne_reference(eegmmidb_edf)
    assert sess.ch_names == list(STANDARD_CHANNELS)
    assert sess.data.dtype == np.float32 and sess.data.shape == (19, 25000)
    assert sess.sfreq == 200.0 and sess.meta["orig_sfreq"] == 160.0
    assert sess.meta["format"] == "edf"
    assert len(sess.meta["orig_ch_names"]) == 64 and len(sess.meta["dropped"]) == 45
    assert sess.meta["channel_map"]["Fp1."] == "Fp1" and sess.meta["channel_map"]["C3.."] == "C3"
    assert sess.meta["interpolated"] == [] and sess.meta["reference"] == "average"
    expected = ref.get_data()
    scale = np.abs(expected).max()
    np.testing.assert_allclose(sess.data, expected, rtol=0, atol=1e-5 * scale)
    ann = [(round(o, 6), round(d, 6), t) for o, d, t in sess.annotations]
    a = ref.annotations
    assert ann == [(round(o, 6), round(d, 6), t)
                   for o, d, t in zip(a.onset, a.duration, a.description, strict=True)]


def test_eegmmidb_all_files_read(eegmmidb_files):
    assert len(eegmmidb_files) >= 3
    for f in eegmmidb_files[:4]:
        sess = read_session(f)
        assert sess.data.shape[0] == 19 and np.isfinite(sess.data).all()
        assert abs(sess.duration_s - sess.meta["orig_n_samples"] / 160.0) < 0.01
        # average reference: channels sum to ~0 at every sample
        assert np.abs(sess.data.sum(axis=0)).max() < 1e-4 * np.abs(sess.data).max()


def test_eegmmidb_interpolation_matches_mne(eegmmidb_edf):
    raw = mne.io.read_raw_edf(eegmmidb_edf, preload=True, verbose="error")
    dotted = {c: n for c in raw.ch_names if (n := standard_name(c))}
    raw.pick(list(dotted)).rename_channels(dotted).reorder_channels(list(STANDARD_CHANNELS))
    drop = ["Cz", "O2", "F7"]
    kept = [c for c in STANDARD_CHANNELS if c not in drop]
    x = raw.get_data(picks=kept).astype(np.float32)
    sess = preprocess(Session(x, 160.0, kept), **RAW_OPTS, max_missing=3)
    assert sess.meta["interpolated"] == ["F7", "Cz", "O2"]
    ref = raw.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.set_montage("colin27_1020" if "colin27_1020" in mne.channels.get_builtin_montages()
                        else "standard_1020", on_missing="ignore", verbose="error")
    ref.info["bads"] = drop
    ref.interpolate_bads(verbose="error")
    expected = ref.get_data()
    np.testing.assert_allclose(sess.data, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    # and the recorded channels are untouched
    np.testing.assert_array_equal(sess.data[[STANDARD_CHANNELS.index(c) for c in kept]], x)


def test_interpolation_weights_are_an_average():
    w = interpolation_matrix(tuple(c for c in STANDARD_CHANNELS if c != "Cz"), ("Cz",))
    assert w.shape == (1, 18)
    assert abs(float(w.sum()) - 1.0) < 1e-5  # spherical spline reproduces a constant


# --------------------------------------------------------------------------------------------
# Round trips through the formats MNE can write


@pytest.mark.parametrize("style", ["standard", "ref", "old"])
def test_edf_round_trip_within_quantization(tmp_path, style):
    if style == "standard":
        names = list(STANDARD_CHANNELS)
    elif style == "ref":
        names = [f"EEG {c.upper()}-REF" for c in STANDARD_CHANNELS]
    else:  # old 10-20 names, lower/upper mixed, plus non-EEG channels
        names = [OLD.get(c, c) for c in STANDARD_CHANNELS]
    names = names + ["ECG", "EOG1", "Photic"]
    raw = make_raw(names, seconds=15.0)
    f = tmp_path / "rec.edf"
    export_raw(f, raw, verbose="error")
    sess = read_session(f, **RAW_OPTS)
    assert sess.ch_names == list(STANDARD_CHANNELS) and sess.sfreq == 256.0
    assert sess.meta["dropped"] == ["ECG", "EOG1", "Photic"]
    assert set(sess.meta["channel_map"].values()) == set(STANDARD_CHANNELS)
    np.testing.assert_allclose(sess.data, raw.get_data()[:19], rtol=0, atol=edf_step(raw))
    assert [t for _, _, t in sess.annotations] == ["spike", "eyes open", "spike"]
    assert [o for o, _, _ in sess.annotations] == pytest.approx([1.0, 5.0, 7.5], abs=1e-3)


def test_bdf_round_trip(tmp_path):
    raw = make_raw(list(STANDARD_CHANNELS), seconds=12.0)
    f = tmp_path / "rec.bdf"
    export_raw(f, raw, verbose="error")
    assert detect_format(f) == "bdf"
    sess = read_session(f, **RAW_OPTS)
    x = raw.get_data()
    np.testing.assert_allclose(sess.data, x, rtol=0, atol=(x.max() - x.min()) / 2**24 * 2)


def test_fif_round_trip(tmp_path):
    raw = make_raw(list(STANDARD_CHANNELS) + ["ECG"], seconds=12.0)
    f = tmp_path / "rec_raw.fif"
    raw.save(f, verbose="error")
    assert detect_format(f) == "fif"
    sess = read_session(f, **RAW_OPTS)
    np.testing.assert_allclose(sess.data, raw.get_data()[:19], rtol=1e-6, atol=1e-12)
    assert sess.meta["format"] == "fif" and sess.meta["dropped"] == ["ECG"]


@pytest.mark.parametrize("fmt, ext", [("brainvision", ".vhdr"), ("eeglab", ".set")])
def test_export_round_trip(tmp_path, fmt, ext):
    pytest.importorskip({"brainvision": "pybv", "eeglab": "eeglabio"}[fmt],
                        reason=f"MNE needs it to write {fmt} files")
    raw = make_raw(list(STANDARD_CHANNELS), seconds=12.0)
    f = tmp_path / f"rec{ext}"
    export_raw(f, raw, verbose="error")
    assert detect_format(f) == fmt
    sess = read_session(f, **RAW_OPTS)
    # BrainVision stores 0.1 uV resolution ints or float32; EEGLAB float32 (in uV)
    np.testing.assert_allclose(sess.data, raw.get_data(), rtol=1e-5, atol=1e-7)
    # BrainVision prefixes the marker type ("Comment/spike")
    assert [t.split("/")[-1] for _, _, t in sess.annotations] == ["spike", "eyes open", "spike"]


def test_bids_path_and_file_in_tree(tmp_path):
    mne_bids = pytest.importorskip("mne_bids")
    raw = make_raw(list(STANDARD_CHANNELS) + ["ECG"], seconds=12.0)
    f = tmp_path / "src.edf"
    export_raw(f, raw, verbose="error")
    src = mne.io.read_raw_edf(f, verbose="error")
    src.info["line_freq"] = 50
    bp = mne_bids.BIDSPath(subject="01", task="rest", datatype="eeg", root=tmp_path / "bids")
    mne_bids.write_raw_bids(src, bp, overwrite=True, verbose="error")
    a = read_session(bp, **RAW_OPTS)
    b = read_session(bp.fpath, **RAW_OPTS)
    assert a.meta["format"] == "bids" and b.meta["format"] == "bids"
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_allclose(a.data, raw.get_data()[:19], rtol=0, atol=edf_step(raw))
    assert a.meta["line_freq"] == 50
    auto = read_session(bp, notch="auto")
    assert auto.meta["filters"]["notch"] == 50.0


# --------------------------------------------------------------------------------------------
# Montages


def test_montages_average_bipolar_linked_ears(tmp_path):
    names = list(STANDARD_CHANNELS) + ["A1", "A2"]
    raw = make_raw(names, seconds=12.0, sfreq=200.0)
    x = raw.get_data().astype(np.float32)
    sess = Session(x, 200.0, names)
    idx = {c: i for i, c in enumerate(names)}
    ears = (x[idx["A1"]].astype(np.float64) + x[idx["A2"]]) / 2
    kw = {"sfreq": None, "l_freq": None}

    le = preprocess(sess, montage="linked_ears", **kw)
    np.testing.assert_allclose(le.data, x[:19] - ears, rtol=0, atol=1e-11)
    assert le.meta["reference"] == "linked_ears" and le.ch_names == list(STANDARD_CHANNELS)

    avg = preprocess(sess, montage="average", **kw)
    np.testing.assert_allclose(avg.data, x[:19] - x[:19].mean(axis=0), rtol=0, atol=1e-11)

    bip = preprocess(sess, montage="bipolar", **kw)
    assert bip.ch_names == list(BIPOLAR_NAMES) and len(bip.ch_names) == 18
    expected = np.stack([x[idx[a]] - x[idx[b]] for a, b in DOUBLE_BANANA])
    np.testing.assert_allclose(bip.data, expected, rtol=0, atol=1e-11)
    # bipolar derivations do not depend on the reference
    np.testing.assert_allclose(apply_montage(avg, "bipolar").data, expected, rtol=0, atol=1e-10)

    # apply_montage on the as-recorded session, and its input is left alone
    none = preprocess(sess, montage="as_recorded", **kw)
    before = none.data.copy()
    again = apply_montage(none, "average")
    np.testing.assert_allclose(again.data, avg.data, rtol=0, atol=1e-11)
    np.testing.assert_array_equal(none.data, before)


def test_linked_ears_without_ears_is_a_clear_error():
    raw = make_raw(list(STANDARD_CHANNELS), seconds=12.0, sfreq=200.0)
    sess = Session(raw.get_data().astype(np.float32), 200.0, list(STANDARD_CHANNELS))
    with pytest.raises(TooFewChannels, match="A1/A2"):
        preprocess(sess, montage="linked_ears")
    with pytest.raises(TooFewChannels, match="A1/A2"):
        apply_montage(sess, "linked_ears")
    with pytest.raises(ValueError, match="montage"):
        preprocess(sess, montage="laplacian")


# --------------------------------------------------------------------------------------------
# Resampling and filters


def _tone_session(freqs, sfreq=256.0, seconds=20.0, offset=0.0):
    t = np.arange(int(sfreq * seconds)) / sfreq
    sig = sum(10e-6 * np.sin(2 * np.pi * f * t) for f in freqs) + offset
    rng = np.random.default_rng(1)
    x = np.tile(sig, (19, 1)) * rng.uniform(0.8, 1.2, (19, 1))
    return Session(x.astype(np.float32), sfreq, list(STANDARD_CHANNELS))


def _amplitude(x, sfreq, f):
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size))) / (np.hanning(x.size).sum() / 2)
    return spec[round(f * x.size / sfreq)]


@pytest.mark.parametrize("orig", [256.0, 160.0, 250.0, 512.0, 173.61])
def test_resample_keeps_tone_and_length(orig):
    sess = preprocess(_tone_session([10.0], sfreq=orig), montage="none", l_freq=None)
    assert sess.sfreq == 200.0 and sess.data.dtype == np.float32
    assert abs(sess.n_samples - 20.0 * 200) <= 2
    x = sess.data[0, 200:-200]
    ref = _tone_session([10.0], sfreq=orig).data[0]
    assert _amplitude(x, 200.0, 10.0) == pytest.approx(_amplitude(ref, orig, 10.0), rel=0.02)


def test_resample_matches_mne_polyphase():
    sess = _tone_session([7.0, 31.0], sfreq=256.0, seconds=25.0)
    ours = preprocess(sess, montage="none", l_freq=None).data
    raw = mne.io.RawArray(sess.data.astype(np.float64), mne.create_info(
        list(STANDARD_CHANNELS), 256.0, "eeg"), verbose="error")
    ref = raw.resample(200.0, method="polyphase", verbose="error").get_data()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("n, up, down", [(153_600, 25, 32), (5_000, 4, 5), (3_001, 2, 1),
                                          (2_400, 200, 250), (700, 5, 3), (30, 25, 32)])
def test_resample_channels_is_scipy_resample_poly_bit_for_bit(n, up, down):
    from scipy.signal import resample_poly

    from clef.io.kernels import resample_channels
    from clef.io.read import polyphase_taps

    rows = list((np.random.default_rng(n).standard_normal((3, n)) * 1e-5).astype(np.float32))
    ref = [resample_poly(r, up, down, window=("kaiser", 5.0), padtype="reflect") for r in rows]
    out = np.full((4, len(ref[0])), np.nan, np.float32)
    g = np.gcd(up, down)
    resample_channels(rows, up // g, down // g, polyphase_taps(up // g, down // g), out,
                      out_rows=[3, 0, 1])  # rows land where they are told
    assert np.array_equal(out[[3, 0, 1]], np.stack(ref)) and np.isnan(out[2]).all()


def test_notch_and_bandpass():
    sess = _tone_session([10.0, 60.0, 45.0], offset=50e-6)
    out = preprocess(sess, montage="none", notch=60.0, l_freq=0.5, h_freq=40.0)
    x, fs = out.data[3, 400:-400], out.sfreq
    ref = sess.data[3]
    a10 = _amplitude(ref, 256.0, 10.0)
    assert _amplitude(x, fs, 10.0) == pytest.approx(a10, rel=0.03)  # passband kept
    assert _amplitude(x, fs, 60.0) < 0.01 * a10  # notch: > 40 dB down
    assert _amplitude(x, fs, 45.0) < 0.6 * a10  # above the 40 Hz low-pass edge
    assert abs(float(x.mean())) < 1e-6  # DC offset (50 uV) removed by the high-pass
    assert out.meta["filters"]["notch"] == 60.0 and out.meta["filters"]["h_freq"] == 40.0


@pytest.mark.parametrize("n_samples,n_channels", [(120_000, 19), (3_000, 40), (2, 3), (1, 4)])
def test_filter_is_scipy_sosfiltfilt_bit_for_bit(n_samples, n_channels):
    """The compiled all-channel filter equals scipy's sosfiltfilt row by row, to the bit."""
    from scipy.signal import butter, iirnotch, sosfilt_zi, sosfiltfilt, tf2sos

    from clef.io.kernels import filter_channels

    x = (np.random.default_rng(n_channels).standard_normal((n_channels, n_samples)) * 2e-5
         + 3e-5).astype(np.float32)  # (channels, samples) volts with a DC offset
    for sos_list in ([butter(4, 0.5, btype="highpass", fs=200.0, output="sos")],
                     [tf2sos(*iirnotch(50.0, 30.0, fs=200.0)),
                      butter(4, [0.5, 40.0], btype="bandpass", fs=200.0, output="sos")]):
        sos = np.concatenate(sos_list)
        pad = min(n_samples - 1, 3 * (2 * len(sos) + 1) * 50)
        want = np.stack([sosfiltfilt(sos, row, padlen=pad) for row in x]).astype(np.float32)
        got = x.copy()
        filter_channels(got, sos, sosfilt_zi(sos))
        assert np.array_equal(got, want), np.abs(got - want).max()
        assert not np.array_equal(got, x)  # it filtered


def test_preprocess_accepts_any_spelling_and_keeps_annotations():
    raw = make_raw([f"EEG {OLD.get(c, c).upper()}-LE" for c in STANDARD_CHANNELS] + ["EKG"],
                   seconds=12.0, sfreq=250.0)
    sess = Session(raw.get_data().astype(np.float32), 250.0, list(raw.ch_names),
                   {"session_id": "s1"}, [(1.0, 0.5, "spike")])
    out = preprocess(sess)
    assert out.ch_names == list(STANDARD_CHANNELS) and out.sfreq == 200.0
    assert out.annotations == [(1.0, 0.5, "spike")] and out.meta["session_id"] == "s1"
    assert out.meta["channel_map"]["EEG T3-LE"] == "T7" and out.meta["dropped"] == ["EKG"]
    assert sess.data.shape == (20, 3000)  # input untouched


# --------------------------------------------------------------------------------------------
# Memory


def test_peak_memory_about_two_copies(tmp_path):
    """read_session's traced peak stays near two float32 copies of the needed channels."""
    names = list(STANDARD_CHANNELS) + ["ECG", "EMG"]
    raw = make_raw(names, seconds=600.0, sfreq=256.0)
    f = tmp_path / "long.edf"
    export_raw(f, raw, verbose="error")
    del raw
    read_session(f)  # warm caches (imports, interpolation, filter design)
    one_copy = 19 * 600 * 256 * 4  # float32 bytes of the needed channels at the recorded rate
    tracemalloc.start()
    sess = read_session(f)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sess.data.nbytes == 19 * 600 * 200 * 4
    assert peak < 2.3 * one_copy, f"peak {peak / 1e6:.1f} MB vs one copy {one_copy / 1e6:.1f} MB"


def test_notch_auto_uses_line_frequency():
    sess = _tone_session([10.0, 60.0])
    sess.meta["line_freq"] = 60.0
    out = preprocess(sess, montage="none", notch="auto")
    assert out.meta["filters"]["notch"] == 60.0
    assert _amplitude(out.data[0, 400:-400], 200.0, 60.0) < 0.01 * _amplitude(sess.data[0], 256.0,
                                                                                60.0)
    sess.meta.pop("line_freq")
    out = preprocess(sess, montage="none", notch="auto")
    assert out.meta["filters"]["notch"] is None and "line frequency is unknown" in \
        out.meta["warnings"][0]
