"""clef's own EDF/BDF reader (clef.io.edf) against MNE's: same names, rate, length, start,
annotations and samples (bit for bit), and MNE still reads what the plain reader does not cover."""
from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest
from mne.export import export_raw

from clef.channels import STANDARD_CHANNELS
from clef.io import edf, read_session
from clef.io.formats import _mne_read, open_raw
from clef.io.read import decode_edf, raw_annotations

ANNOTATIONS = ([1.0, 5.0, 7.5, 11.0], [0.0, 2.0, 0.5, 0.5], ["spike", "eyes open", "spike", "late"])


def make_raw(names, seconds=12.0, sfreq=256.0, seed=0, annotations=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((len(names), int(seconds * sfreq))) * 20e-6
    raw = mne.io.RawArray(x, mne.create_info(list(names), sfreq, "eeg"), verbose="error")
    raw.set_meas_date(1_700_000_000)
    if annotations:
        raw.set_annotations(mne.Annotations(*ANNOTATIONS))
    return raw


def write(path: Path, raw) -> Path:
    export_raw(path, raw, verbose="error", overwrite=True)
    return path


def assert_same_as_mne(path: Path) -> edf.EDFFile:
    ours, fmt, _ = open_raw(path)
    assert isinstance(ours, edf.EDFFile), "the plain reader should cover this file"
    theirs = _mne_read(fmt, path)
    assert ours.ch_names == theirs.ch_names
    assert ours.info["sfreq"] == theirs.info["sfreq"] and ours.n_times == theirs.n_times
    assert ours.info["meas_date"] == theirs.info["meas_date"]
    assert raw_annotations(ours) == raw_annotations(theirs)
    picks = list(range(len(ours.ch_names)))
    assert np.array_equal(decode_edf(ours, picks, 0, ours.n_times), theirs.get_data(picks=picks))
    start, stop = 333, min(ours.n_times, 333 + 1000)  # a span across data records
    assert np.array_equal(decode_edf(ours, picks[::-1], start, stop),
                          theirs.get_data(picks=picks[::-1], start=start, stop=stop))
    return ours


@pytest.mark.parametrize("ext", [".edf", ".bdf"])
def test_plain_file_reads_as_mne_does(tmp_path, ext):
    f = write(tmp_path / f"rec{ext}", make_raw(list(STANDARD_CHANNELS) + ["ECG"]))
    data = f.read_bytes()
    assert data.count(b"\x150.5\x14late") == 1
    f.write_bytes(data.replace(b"\x150.5\x14late", b"\x159.5\x14late"))  # now past the end
    ours = assert_same_as_mne(f)
    assert [t for _, _, t in ours.events] == ["spike", "eyes open", "spike", "late"]
    assert ours.events[-1][1] == pytest.approx(1.0)  # cropped at the end, as MNE


def test_shipped_real_recordings_read_as_mne_does(eegmmidb_files):
    for f in eegmmidb_files[:3]:
        assert len(assert_same_as_mne(f).events) > 0


def test_first_record_offset_shifts_events_as_mne(tmp_path):
    f = write(tmp_path / "rec.edf", make_raw(list(STANDARD_CHANNELS)))
    data = f.read_bytes()
    keep = data.index(b"+0\x14\x14\x00")  # the first record's time-keeping TAL
    f.write_bytes(data[:keep] + b"+1\x14\x14\x00" + data[keep + 5:])
    ours = assert_same_as_mne(f)
    assert ours.events[0][0] == pytest.approx(0.0)  # 1.0 s - the 1 s start of the first record


def test_annotation_only_text_without_time_keeping(tmp_path):
    f = write(tmp_path / "rec.edf", make_raw(list(STANDARD_CHANNELS), annotations=False))
    assert assert_same_as_mne(f).events == []


def _set_field(data: bytes, start: int, width: int, value: str) -> bytes:
    return data[:start] + value.ljust(width).encode("latin-1") + data[start + width:]


@pytest.mark.parametrize("case", ["edf+d", "duplicate", "trigger", "extra bytes"])
def test_mne_reads_what_the_plain_reader_does_not_cover(tmp_path, case):
    f = write(tmp_path / "rec.edf", make_raw(list(STANDARD_CHANNELS) + ["ECG"]))
    data = f.read_bytes()
    ns = int(data[252:256])
    if case == "edf+d":
        data = _set_field(data, 192, 44, "EDF+D")
    elif case in ("duplicate", "trigger"):  # the 20th signal's label
        data = _set_field(data, 256 + 19 * 16, 16, "Fp1" if case == "duplicate" else "Trigger")
    else:
        data += b"\x00" * 64  # more bytes than the header's records: MNE infers the count
    f.write_bytes(data)
    assert ns == 21
    raw, _, _ = open_raw(f)
    assert not isinstance(raw, edf.EDFFile), case
    assert read_session(f).data.shape == (19, 12 * 200)


def test_mixed_rates_are_left_to_mne(tmp_path):
    f = write(tmp_path / "rec.edf", make_raw(list(STANDARD_CHANNELS) + ["ECG"]))
    header = edf.read_edf_header(f)
    assert edf.open_edf(f, header) is not None
    header.samples_per_record[19] //= 2  # the ECG at half the rate
    assert edf.open_edf(f, header) is None


def test_read_session_is_the_same_with_either_reader(tmp_path, monkeypatch):
    f = write(tmp_path / "rec.edf", make_raw([c.upper() for c in STANDARD_CHANNELS] + ["ECG"]))
    ours = read_session(f)
    monkeypatch.setattr("clef.io.formats.open_edf", lambda path, header: None)
    theirs = read_session(f)
    assert np.array_equal(ours.data, theirs.data) and ours.annotations == theirs.annotations
    assert ours.meta == theirs.meta and ours.ch_names == theirs.ch_names
