"""One recording file (or BIDS path): :func:`read_session` -> a harmonized
:class:`clef.session.Session`; :func:`summarize` -> what clef sees in it (``clef info PATH``).

Both open the file once with :func:`clef.io.formats.open_raw` (lazily: the header, then only the
needed channels' samples); ``summarize(check=True)`` decodes the samples through the same opened
file rather than opening it again.
"""
from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from clef.errors import InvalidRecording, UnreadableRecording
from clef.io.formats import file_size, is_bids_path, open_raw
from clef.io.harmonize import harmonize_names
from clef.io.preprocess import PreprocessConfig, check_layout, run_pipeline

_READ_BLOCK_S = 60.0  # seconds read from disk per block (bounds MNE's float64 temporaries)


def raw_annotations(raw) -> list[tuple[float, float, str]]:
    """``(onset_s from the first sample, duration_s, description)`` for every MNE annotation."""
    ann = raw.annotations
    if ann is None or len(ann) == 0:
        return []
    shift = raw.first_time if ann.orig_time is not None else 0.0
    return [(float(o - shift), float(d), str(t))
            for o, d, t in zip(ann.onset, ann.duration, ann.description, strict=True)]


def read_session(path, *, sfreq: float | None = 200.0, montage: str = "average",
                 max_missing: int = 3, notch: float | str | None = None,
                 l_freq: float | None = 0.5,
                 h_freq: float | None = None, min_duration_s: float = 10.0,
                 check_quality: bool = True, **options):
    """Read a recording, harmonize it to the 19 standard channels, reference, filter and resample.

    Parameters
    ----------
    path : str, Path or mne_bids.BIDSPath
        EDF/EDF+ (.edf), BDF (.bdf), FIF (.fif), BrainVision (.vhdr), EEGLAB (.set), a file inside
        a BIDS tree or a ``BIDSPath``. The format is taken from the extension and the first bytes.
    sfreq : float or None
        Target rate in Hz (polyphase resampling); None keeps the recorded rate.
    montage : {"average", "linked_ears", "bipolar", "none", "as_recorded"}
        Reference/montage, see :func:`clef.io.apply_montage`.
    max_missing : int
        Up to this many missing standard channels are interpolated (spherical spline) and listed
        in ``meta["interpolated"]``; more raise ``TooFewChannels``.
    notch : float or "auto", optional
        Line frequency (50 or 60 Hz) to notch out, with its harmonics below Nyquist; ``"auto"``
        uses the line frequency the file declares (BIDS, FIF), else applies none.
    l_freq, h_freq : float, optional
        Band-pass edges in Hz (zero-phase Butterworth); None disables that edge.
    min_duration_s : float
        Shorter recordings raise ``TooShort``.
    check_quality : bool
        Raise ``BadSignal`` for NaN/Inf, flat or saturated channels.
    **options
        Other :class:`clef.io.PreprocessConfig` fields.

    Returns
    -------
    Session
        float32 volts, (19, samples) in ``clef.channels.STANDARD_CHANNELS`` order (18 derivations
        for ``"bipolar"``). ``meta`` holds the source path, format, original rate, the original ->
        standard name mapping, dropped/missing/interpolated channels, reference and filters;
        ``annotations`` the file's events.

    Raises
    ------
    InvalidRecording
        Or a subclass: ``UnsupportedFormat``, ``UnreadableRecording``, ``TooFewChannels``,
        ``TooShort``, ``SamplingRateTooLow`` (recorded below 80 Hz, twice the tokenizer's
        40 Hz top frequency), ``ImplausibleAmplitude`` (a units mistake: the typical amplitude is
        outside 0.1 uV - 1 mV; the message names the likely factor, and ``amplitude_scale=``
        applies a known one), ``BadSignal``. No other exception escapes for a bad file.

    Notes
    -----
    Peak memory is about two float32 copies of the needed channels: only the standard (and, for
    linked ears, ear) channels are read, in blocks of 10 minutes, into one float32 buffer at the
    recorded rate; they are resampled channel by channel into a second float32 buffer at the
    target rate, and the first is freed. For a 24-hour 19-channel 256 Hz file that is
    1.68 GB + 1.31 GB (see ``benchmarks/results/io.md`` for measurements).
    """
    cfg = PreprocessConfig(sfreq=sfreq, montage=montage, max_missing=max_missing, notch=notch,
                           l_freq=l_freq, h_freq=h_freq, min_duration_s=min_duration_s,
                           check_quality=check_quality, **options)
    return _read_opened(path, open_raw(path), cfg)


def _read_opened(path, opened, cfg: PreprocessConfig):
    """:func:`read_session` of a recording already opened by ``open_raw`` (``opened``)."""
    where = str(path) if is_bids_path(path) else Path(path)
    raw, fmt, notes = opened
    try:
        return _process_raw(raw, fmt, notes, where, cfg)
    except InvalidRecording:
        raise
    except MemoryError as e:
        raise UnreadableRecording(where, "not enough memory to load the needed channels",
                                  "free memory or split the recording") from e
    except Exception as e:  # a file MNE opened but cannot decode
        raise UnreadableRecording(where, f"cannot decode the signal data ({type(e).__name__}: "
                                         f"{str(e)[:300]})",
                                  "check the file is complete and not corrupt") from e


def summarize(path, *, check: bool = True, max_missing: int = 3) -> dict:
    """Describe a recording: format, channel mapping, rate, duration, annotations and problems.

    Parameters
    ----------
    path : str, Path or mne_bids.BIDSPath
        The recording.
    check : bool
        Also decode the signal and run the full :func:`clef.io.read_session` pipeline (at the
        recorded rate) to find signal problems (NaN/Inf, flat, saturated, implausible amplitude).
        The header's problems (too short, too few channels, rate too low) are found either way.
    max_missing : int
        As in :func:`clef.io.read_session`.

    Returns
    -------
    dict
        JSON-serializable: ``path, format, sfreq, n_samples, duration_s, channels`` (one entry per
        file channel: ``name``, ``maps_to``, ``role`` in {"eeg", "ear", "dropped"}), ``found``,
        ``missing``, ``interpolated``, ``dropped``, ``annotations`` (count per description),
        ``problems`` (list of messages) and ``ok``.

    Raises
    ------
    InvalidRecording
        The file cannot be opened at all (unsupported format, unreadable header).
    """
    raw, fmt, notes = open_raw(path)  # opened once: the check below decodes through it
    harm = harmonize_names(raw.ch_names)
    channels = []
    for name in raw.ch_names:
        if name in harm.mapping:
            channels.append({"name": name, "maps_to": harm.mapping[name], "role": "eeg"})
        elif name in harm.ears:
            channels.append({"name": name, "maps_to": harm.ears[name], "role": "ear"})
        else:
            channels.append({"name": name, "maps_to": None, "role": "dropped"})
    sfreq = float(raw.info["sfreq"])
    anns = raw_annotations(raw)
    summary = {
        "path": str(path),
        "format": fmt,
        "sfreq": sfreq,
        "n_samples": int(raw.n_times),
        "duration_s": float(raw.n_times / sfreq),
        "n_channels": len(raw.ch_names),
        "channels": channels,
        "found": harm.found,
        "missing": list(harm.missing),
        "interpolated": [],
        "dropped": list(harm.dropped),
        "ears": dict(harm.ears),
        "annotations": dict(sorted(Counter(d for _, _, d in anns).items())),
        "warnings": list(notes),
        "problems": [],
    }
    # read_session(path, sfreq=None, montage="none", l_freq=None), on the opened file
    cfg = PreprocessConfig(sfreq=None, montage="none", l_freq=None, max_missing=max_missing)
    try:
        if check:
            sess = _read_opened(path, (raw, fmt, notes), cfg)
            summary["interpolated"] = list(sess.meta["interpolated"])
        else:
            check_layout(harm, cfg, list(raw.ch_names), int(raw.n_times), sfreq, path)
            summary["interpolated"] = list(harm.missing)  # as read_session will
    except InvalidRecording as e:
        summary["problems"].append({"error": type(e).__name__, "problem": e.problem,
                                    "fix": e.fix})
    summary["ok"] = not summary["problems"]
    if is_bids_path(path):
        summary["path"] = str(path.fpath)
    return summary


def _process_raw(raw, fmt, notes, where, cfg: PreprocessConfig):
    orig_sfreq = float(raw.info["sfreq"])
    if not 1.0 <= orig_sfreq <= 100_000.0:
        raise UnreadableRecording(where, f"implausible sampling rate {orig_sfreq:g} Hz in the "
                                         "header", "the header is corrupt; re-export the recording")
    harm = harmonize_names(raw.ch_names)
    n = int(raw.n_times)
    check_layout(harm, cfg, list(raw.ch_names), n, orig_sfreq, where)  # header only: before reading
    needed = [harm.source_of(c) for c in harm.found]
    if cfg.montage == "linked_ears" and harm.ear_pair():
        needed += list(harm.ear_pair())
    meta = {
        "source_path": str(where),
        "format": fmt,
        "file_bytes": file_size(where) if not isinstance(where, str) else None,
        "orig_ch_names": list(raw.ch_names),
        "meas_date": raw.info["meas_date"].isoformat() if raw.info["meas_date"] else None,
        "line_freq": raw.info.get("line_freq"),
        "warnings": list(notes),
        "reference": "as_recorded",
    }
    annotations = raw_annotations(raw)
    buf = np.empty((len(needed), n), dtype=np.float32)  # (needed channels, samples) at native rate
    picks = [raw.ch_names.index(c) for c in needed]
    block = max(1, int(_READ_BLOCK_S * orig_sfreq))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in range(0, n, block):
            e = min(n, s + block)
            # (needed, block) float64 in volts from MNE, cast into the float32 buffer
            buf[:, s:e] = raw.get_data(picks=picks, start=s, stop=e, verbose="error")
    del raw
    row_of = {name: i for i, name in enumerate(needed)}
    return run_pipeline(lambda name: buf[row_of[name]], needed, n, orig_sfreq, cfg, path=where,
                        meta=meta, annotations=annotations, harm=harm, owned=buf)
