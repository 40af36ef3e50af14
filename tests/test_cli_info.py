"""`clef info PATH` through typer's CliRunner."""
from __future__ import annotations

import json

import mne
import numpy as np
import pytest
from mne.export import export_raw
from typer.testing import CliRunner

from clef.channels import STANDARD_CHANNELS
from clef.cli import app

runner = CliRunner()


def _edf(path, names, seconds=12.0, flat=None):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((len(names), int(seconds * 128))) * 20e-6
    if flat is not None:
        x[names.index(flat)] = 0.0
    raw = mne.io.RawArray(x, mne.create_info(names, 128.0, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([1.0, 2.0, 3.0], [0.0, 0.0, 1.0], ["T0", "T1", "T0"]))
    export_raw(path, raw, verbose="error")
    return path


OLD = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}
CLINICAL = [f"EEG {OLD.get(c, c).upper()}-REF" for c in STANDARD_CHANNELS if c != "Cz"] + ["ECG"]


def test_info_real_recording(eegmmidb_edf):
    res = runner.invoke(app, ["info", str(eegmmidb_edf)])
    assert res.exit_code == 0, res.output
    assert "format       edf" in res.output and "sfreq        160 Hz" in res.output
    assert "64 in file, 19 of 19 standard found" in res.output
    assert "Fp1.             -> Fp1" in res.output
    assert "dropped      45:" in res.output and "problems     none" in res.output
    assert "T0 x15" in res.output


def test_info_json_mapping_and_interpolation(tmp_path):
    f = _edf(tmp_path / "clinical.edf", CLINICAL)
    res = runner.invoke(app, ["info", str(f), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["format"] == "edf" and info["sfreq"] == 128.0
    assert info["duration_s"] == pytest.approx(12.0)
    mapping = {c["name"]: c["maps_to"] for c in info["channels"]}
    assert mapping["EEG T3-REF"] == "T7" and mapping["EEG FP1-REF"] == "Fp1"
    assert mapping["ECG"] is None and info["dropped"] == ["ECG"]
    assert info["missing"] == ["Cz"] and info["interpolated"] == ["Cz"]
    assert info["annotations"] == {"T0": 2, "T1": 1}
    assert info["ok"] is True and info["problems"] == []


def test_info_reports_problem_with_exit_code_1(tmp_path):
    f = _edf(tmp_path / "flat.edf", list(STANDARD_CHANNELS), flat="O1")
    res = runner.invoke(app, ["info", str(f)])
    assert res.exit_code == 1
    assert "PROBLEM      BadSignal" in res.output and "O1" in res.output
    assert "19 of 19 standard found" in res.output  # the summary is still printed
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["info", str(f), "--no-check"])
    assert res.exit_code == 0 and "problems     none" in res.output


def test_header_check_without_decoding(tmp_path):
    """summarize(check=False), what `clef cohort build` runs: header problems (too short, too
    few channels) are found and the channels to interpolate named, without decoding samples."""
    from clef.io import summarize

    info = summarize(_edf(tmp_path / "clinical.edf", CLINICAL), check=False)
    assert info["ok"] and info["interpolated"] == ["Cz"]
    short = summarize(_edf(tmp_path / "short.edf", list(STANDARD_CHANNELS), seconds=5.0),
                      check=False)
    assert not short["ok"] and short["problems"][0]["error"] == "TooShort"
    few = summarize(_edf(tmp_path / "few.edf", list(STANDARD_CHANNELS[:12])), check=False)
    assert not few["ok"] and few["problems"][0]["error"] == "TooFewChannels"
    flat = summarize(_edf(tmp_path / "flat.edf", list(STANDARD_CHANNELS), flat="O1"),
                     check=False)
    assert flat["ok"]  # a signal problem: found by --check or by `clef embed`


def test_info_unreadable_file(tmp_path):
    f = tmp_path / "broken.edf"
    f.write_bytes(b"definitely not an EDF header" * 20)
    res = runner.invoke(app, ["info", str(f)])
    assert res.exit_code == 1
    assert "UnreadableRecording" in res.output and "broken.edf" in res.output
    assert "Fix:" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["info", str(f), "--json"])
    assert res.exit_code == 1
    out = json.loads(res.output)
    assert out["ok"] is False and out["problems"][0]["error"] == "UnreadableRecording"


def test_info_too_few_channels(tmp_path):
    f = _edf(tmp_path / "three.edf", ["Fp1", "Cz", "O2", "ECG"])
    res = runner.invoke(app, ["info", str(f), "--json"])
    assert res.exit_code == 1
    info = json.loads(res.output)
    assert info["found"] == ["Fp1", "Cz", "O2"] and len(info["missing"]) == 16
    assert info["problems"][0]["error"] == "TooFewChannels"


def test_exits_on_reports_expected_errors_and_lets_others_through(capsys):
    """A command's expected errors print `error: Type: message` and exit 1; others propagate."""
    import typer

    from clef.commands.options import exits_on
    from clef.errors import ClefError

    with pytest.raises(typer.Exit) as info, exits_on(ClefError, ValueError):
        raise ValueError("bad --k. Fix: pass a positive number")
    assert info.value.exit_code == 1
    assert capsys.readouterr().err == "error: ValueError: bad --k. Fix: pass a positive number\n"
    with pytest.raises(KeyError), exits_on(ClefError):
        raise KeyError("not expected")
    with exits_on(ClefError):
        done = True
    assert done and capsys.readouterr().err == ""
