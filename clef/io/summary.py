"""What clef sees in one recording (``clef info PATH``): :func:`summarize`.

The file is opened once with :func:`clef.io.formats.open_raw` (lazily: the header, then only the
needed channels' samples); ``summarize(check=True)`` decodes the samples through the same opened
file, with :func:`clef.io.read_session`'s pipeline, rather than opening it again.
"""
from __future__ import annotations

from collections import Counter

from clef.errors import InvalidRecording
from clef.io.config import PreprocessConfig, check_layout
from clef.io.formats import is_bids_path, open_raw
from clef.io.harmonize import harmonize_names
from clef.io.read import raw_annotations, read_opened


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
            sess = read_opened(path, (raw, fmt, notes), cfg)
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
