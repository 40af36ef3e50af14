"""One recording -> a harmonized :class:`clef.session.Session`: every step that touches the samples.

:func:`read_session` decodes a file (EDF/BDF/FIF/BrainVision/EEGLAB/BIDS, opened lazily with
:func:`clef.io.formats.open_raw`: the header, then only the needed channels' samples) and
:func:`preprocess` takes an in-memory session; both end in :func:`run_pipeline`, so a file and a
synthetic session go through identical steps:

1. harmonize channel names to the 19 standard channels (+ ear electrodes for linked ears);
2. plausibility and quality checks on the recorded channels (:mod:`clef.io.config`,
   :mod:`clef.io.checks`): a rate high enough for the tokenizer's band (``SamplingRateTooLow``),
   a typical amplitude in the physiological range (``ImplausibleAmplitude``, with the likely unit
   factor), then NaN/Inf, flat, saturated, too short;
3. polyphase resampling of all channels in one pass (:mod:`clef.io.kernels`: bit for bit
   ``scipy.signal.resample_poly``, Kaiser window, the same filter as MNE's
   ``method="polyphase"``) into a float32 buffer at the target rate;
4. spherical-spline interpolation of up to ``max_missing`` missing channels (MNE's weights);
5. optional notch (line frequency and harmonics) and band-pass, zero-phase IIR, in place;
6. reference/montage (:mod:`clef.io.montage`).

Memory: besides the input, one float32 buffer at the target rate plus four channels of float64
filter work. All steps after resampling are linear and channel-independent in time, so their order
does not change the result beyond float rounding. The settings and what they decide without
touching samples (channels kept, rate, weights, provenance) are in :mod:`clef.io.config`;
:func:`clef.io.summarize` (``clef info``) is in :mod:`clef.io.summary`.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from clef.channels import STANDARD_CHANNELS
from clef.errors import InvalidRecording, UnreadableRecording
from clef.io.checks import check_amplitude
from clef.io.config import (
    PreprocessConfig,
    Rate,
    check_channels,
    check_layout,
    interpolation_matrix,
    provenance,
)
from clef.io.edf import EDFFile, record_columns
from clef.io.formats import file_size, is_bids_path, open_raw
from clef.io.harmonize import Harmonization, harmonize_names
from clef.io.kernels import filter_channels, resample_channels
from clef.io.montage import BIPOLAR_NAMES, _average_inplace
from clef.session import Session

_READ_BLOCK_S = 60.0  # seconds decoded per block (bounds the float64 temporaries)
_BLOCK = 1 << 15  # samples per block for block-wise matrix products (bounds temporaries)
_OUT_INDEX = {**{c: i for i, c in enumerate(STANDARD_CHANNELS)}, "EAR_L": 19, "EAR_R": 20}
_STANDARD = frozenset(STANDARD_CHANNELS)


# ----------------------------------------------------------------------------------------------
# Files and in-memory sessions


def raw_annotations(raw) -> list[tuple[float, float, str]]:
    """``(onset_s from the first sample, duration_s, description)`` for every annotation."""
    if isinstance(raw, EDFFile):
        return list(raw.events)
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
    recorded rate; they are resampled, all channels together in short blocks of time, into a
    second float32 buffer at the target rate, and the first is freed. For a 24-hour 19-channel 256 Hz file that is
    1.68 GB + 1.31 GB (see ``benchmarks/results/io.md`` for measurements).
    """
    cfg = PreprocessConfig(sfreq=sfreq, montage=montage, max_missing=max_missing, notch=notch,
                           l_freq=l_freq, h_freq=h_freq, min_duration_s=min_duration_s,
                           check_quality=check_quality, **options)
    return read_opened(path, open_raw(path), cfg)


def read_opened(path, opened, cfg: PreprocessConfig):
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


def decode_edf(raw: EDFFile, picks: list[int], start: int, stop: int) -> np.ndarray:
    """Samples ``start:stop`` of channels ``picks`` of a plain EDF/BDF file, in volts: (picks,
    stop - start) float64, MNE's ``get_data`` bit for bit (its calibration, offset and unit, in its
    order)."""
    h = raw.header
    spr = h.samples_per_record[raw.signals[0]]
    r0, r1 = start // spr, -(-stop // spr)  # the data records holding the span
    with open(raw.path, "rb") as f:
        f.seek(h.header_bytes + r0 * h.record_bytes)
        records = np.fromfile(f, np.uint8, (r1 - r0) * h.record_bytes)
    if records.size != (r1 - r0) * h.record_bytes:
        raise ValueError(f"the file ends inside data record {r0 + records.size // h.record_bytes}")
    records = records.reshape(r1 - r0, h.record_bytes)  # (records, bytes)
    out = np.empty((len(picks), stop - start))
    for j, p in enumerate(picks):
        cols = records[:, record_columns(h, raw.signals[p])]  # (records, bytes of the signal)
        if h.kind == "bdf":  # 24-bit little-endian, sign-extended as MNE's _read_ch
            b = cols.reshape(-1, 3).astype(np.int32)
            digital = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8
        else:
            digital = cols.view("<i2").reshape(-1)
        np.multiply(digital[start - r0 * spr: stop - r0 * spr], raw.cal[p], out=out[j])
        out[j] += raw.offset[p]
        out[j] *= raw.gain[p]
    return out


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
            # (needed, block) float64 in volts (clef's EDF decoder or MNE), cast to float32
            buf[:, s:e] = (decode_edf(raw, picks, s, e) if isinstance(raw, EDFFile) else
                           raw.get_data(picks=picks, start=s, stop=e, verbose="error"))
    del raw
    row_of = {name: i for i, name in enumerate(needed)}
    return run_pipeline(lambda name: buf[row_of[name]], needed, n, orig_sfreq, cfg, path=where,
                        meta=meta, annotations=annotations, harm=harm, owned=buf)


def preprocess(session: Session, *, sfreq: float | None = 200.0, montage: str = "average",
               max_missing: int = 3, notch: float | str | None = None,
               l_freq: float | None = 0.5,
               h_freq: float | None = None, min_duration_s: float = 10.0,
               check_quality: bool = True, **options) -> Session:
    """Apply the :func:`read_session` pipeline to an in-memory session.

    Parameters
    ----------
    session : Session
        Raw channels in volts at their native rate, with any of the accepted channel spellings
        (e.g. from ``clef.synth.regenerate_session``). Not modified.
    sfreq, montage, max_missing, notch, l_freq, h_freq, min_duration_s, check_quality
        See :class:`PreprocessConfig`.
    **options
        Other :class:`PreprocessConfig` fields (``flat_std_v``, ``max_clipped_fraction``, ...).

    Returns
    -------
    Session
        19 standard channels (18 derivations for ``"bipolar"``), float32 volts at ``sfreq``.
        Peak memory: the input plus one float32 copy at the target rate.

    Raises
    ------
    TooFewChannels, TooShort, BadSignal
    """
    cfg = PreprocessConfig(sfreq=sfreq, montage=montage, max_missing=max_missing, notch=notch,
                           l_freq=l_freq, h_freq=h_freq, min_duration_s=min_duration_s,
                           check_quality=check_quality, **options)
    data = np.asarray(session.data)
    if data.ndim != 2 or data.shape[0] != len(session.ch_names):
        raise ValueError(f"session.data has shape {data.shape} but {len(session.ch_names)} "
                         "channel names; expected (channels, samples)")
    index = {n: i for i, n in enumerate(session.ch_names)}
    meta = dict(session.meta)
    meta.setdefault("source_path", session.meta.get("source_path"))
    path = meta.get("source_path") or meta.get("session_id")
    return run_pipeline(lambda name: data[index[name]], list(session.ch_names), data.shape[1],
                        float(session.sfreq), cfg, path=path, meta=meta,
                        annotations=session.annotations)


# ----------------------------------------------------------------------------------------------
# Pipeline


def run_pipeline(rows, src_names: list[str], n_samples: int, orig_sfreq: float,
                 cfg: PreprocessConfig, *, path=None, meta: dict | None = None,
                 annotations=None, harm: Harmonization | None = None,
                 owned: np.ndarray | None = None) -> Session:
    """Process recorded channels into a harmonized, referenced, resampled Session.

    Steps: check the channels and length, check signal quality, gather the standard channels at
    the target rate, interpolate missing ones, filter, re-reference, record the provenance.

    Parameters
    ----------
    rows : callable
        ``rows(name) -> (samples,) array`` in volts for each name in ``src_names``.
    src_names : list of str
        Original names of the channels ``rows`` serves.
    n_samples, orig_sfreq : int, float
        Length and rate of the recorded channels.
    cfg : PreprocessConfig
    path : optional
        Source, for error messages.
    meta, annotations : optional
        Extra provenance and events carried into the Session.
    harm : Harmonization, optional
        Precomputed harmonization of ``src_names``.
    owned : np.ndarray, optional
        When the target rate equals ``orig_sfreq``, a float32 (channels, samples) buffer whose rows
        are the kept channels in output order; reused in place instead of copied.

    Returns
    -------
    Session
    """
    harm = harm or harmonize_names(src_names)
    meta = dict(meta or {})
    kept = check_layout(harm, cfg, src_names, n_samples, orig_sfreq, path)
    if cfg.amplitude_scale != 1.0:
        scale, unscaled, owned = float(cfg.amplitude_scale), rows, None
        rows = lambda name: np.asarray(unscaled(name), dtype=np.float32) * np.float32(scale)
        meta["amplitude_scale"] = scale
    if cfg.check_amplitude:
        amp = check_amplitude(rows, [orig for orig, std in kept if std in _STANDARD], path,
                              cfg.amplitude_scale)
        meta["typical_amplitude_uv"] = None if amp is None else round(amp * 1e6, 3)
    if cfg.check_quality:
        check_channels(rows, kept, cfg, path)
    rate = Rate.of(orig_sfreq, cfg, n_samples)
    data = _gather(rows, kept, harm, rate, owned)
    if harm.missing:
        _interpolate_missing(data, harm.found, harm.missing, rate.n_out)
    notch = _filter(data, cfg, rate.target, meta)
    data, ch_names = _rereference(data, cfg.montage, rate.n_out)
    meta.update(provenance(harm, cfg, rate, notch, orig_sfreq, n_samples, meta))
    anns = [(float(o), float(d), str(t)) for o, d, t in (annotations or [])]
    return Session(data, rate.target, ch_names, meta, anns)


def _gather(rows, kept, harm: Harmonization, rate: Rate, owned) -> np.ndarray:
    """(19 [+2 ears], samples at target) float32: the kept channels at their output rows,
    resampled; ``owned`` is used as it is when it already has that layout."""
    n_rows = 19 + (2 if any(std == "EAR_L" for _, std in kept) else 0)
    identity_layout = [_OUT_INDEX[std] for _, std in kept] == list(range(len(kept)))
    if (owned is not None and rate.same_rate and owned.dtype == np.float32 and identity_layout
            and not harm.missing and owned.shape[0] == n_rows):
        return owned  # rows already in output order
    data = np.empty((n_rows, rate.n_out), dtype=np.float32)
    if rate.same_rate:
        for orig, std in kept:
            data[_OUT_INDEX[std]] = rows(orig)
    else:  # every channel in one pass (clef.io.kernels: scipy's resample_poly, bit for bit)
        srcs = [np.asarray(rows(orig), dtype=np.float32) for orig, _ in kept]
        resample_channels(srcs, rate.up, rate.down, polyphase_taps(rate.up, rate.down), data,
                          [_OUT_INDEX[std] for _, std in kept])
    return data


def _interpolate_missing(data: np.ndarray, found, missing, n_out: int) -> None:
    """Fill the rows of missing standard channels from the present ones (spherical splines)."""
    present_rows = [_OUT_INDEX[c] for c in found]
    miss_rows = [_OUT_INDEX[c] for c in missing]
    w = interpolation_matrix(tuple(found), tuple(missing))  # (missing, present)
    for s in range(0, n_out, _BLOCK):
        data[miss_rows, s:s + _BLOCK] = w @ data[present_rows, s:s + _BLOCK]


def _filter(data: np.ndarray, cfg: PreprocessConfig, target: float, meta: dict):
    """Notch (``"auto"``: the recording's line frequency) and band-pass in place; returns the
    notch frequency asked for (None: none), warnings go to ``meta["warnings"]``."""
    notch = cfg.notch
    if notch == "auto":
        notch = meta.get("line_freq") or None
        if notch is None:
            meta.setdefault("warnings", []).append("notch='auto' but the line frequency is "
                                                   "unknown; no notch filter applied")
    if notch and notch >= target / 2.0:
        meta.setdefault("warnings", []).append(
            f"notch {notch} Hz is above the Nyquist frequency of {target:g} Hz; skipped")
    design = filter_design(cfg, notch, target)
    if design is not None:
        filter_channels(data, *design)
    return notch


def _rereference(data: np.ndarray, montage: str, n_out: int):
    """The montage's channels: (data, channel names); average in place, the others new arrays."""
    if montage == "average":
        _average_inplace(data, list(range(19)))
        return data, list(STANDARD_CHANNELS)
    if montage == "linked_ears":
        ref = (data[19] + data[20]) * np.float32(0.5)  # (samples,)
        data[:19] -= ref
        return data[:19], list(STANDARD_CHANNELS)
    if montage == "bipolar":
        from clef.channels import DOUBLE_BANANA

        bip = np.empty((len(BIPOLAR_NAMES), n_out), dtype=np.float32)  # (18, samples)
        for k, (a, b) in enumerate(DOUBLE_BANANA):
            np.subtract(data[_OUT_INDEX[a]], data[_OUT_INDEX[b]], out=bip[k])
        return bip, list(BIPOLAR_NAMES)
    return data, list(STANDARD_CHANNELS)


SIGNAL_DESIGNS: dict = {}  # scipy.signal designs by their parameters, made once per process;
# `clef embed` hands in the default ones before forking workers (clef.embed.worker), which then
# never import scipy.signal


def designed(key: tuple, make):
    """``SIGNAL_DESIGNS[key]``, made by ``make()`` the first time (its arrays made read-only)."""
    if key not in SIGNAL_DESIGNS:
        value = make()
        for a in value if isinstance(value, tuple) else (value,):
            if isinstance(a, np.ndarray):
                a.setflags(write=False)
        SIGNAL_DESIGNS[key] = value
    return SIGNAL_DESIGNS[key]


def polyphase_taps(up: int, down: int) -> np.ndarray:
    """The low-pass filter of ``scipy.signal.resample_poly(x, up, down, window=("kaiser", 5.0))``
    (MNE's ``method="polyphase"``), float64; ``up`` and ``down`` reduced."""
    def make():
        from scipy.signal import firwin

        max_rate = max(up, down)
        return firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))

    return designed(("kaiser-lowpass", int(up), int(down)), make)


def dpss_windows(n_window: int, nw: float) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.windows.dpss(n_window, nw, 2 nw, sym=False, norm=None,
    return_ratios=True)``: the tokenizer's tapers before it picks them
    (:func:`clef.tokenizer.dpss_tapers`)."""
    def make():
        from scipy.signal.windows import dpss

        return dpss(n_window, nw, int(2 * nw), sym=False, norm=None, return_ratios=True)

    return designed(("dpss", int(n_window), float(nw)), make)


def filter_design(cfg: PreprocessConfig, notch: float | None, sfreq: float):
    """``(sos, zi)`` of the notch (harmonics too) and band-pass at ``sfreq``: float64 (sections,
    6) second-order sections and their (sections, 2) steady-state initial conditions, or None
    when neither filter applies."""
    def make():
        from scipy.signal import sosfilt_zi

        band = _iir_sos(cfg, sfreq)
        sos_list = _notch_sos(notch, sfreq) + ([band] if band is not None else [])
        if not sos_list:
            return None
        sos = np.ascontiguousarray(np.concatenate(sos_list, axis=0), dtype=np.float64)
        return sos, sosfilt_zi(sos)

    key = ("filter", cfg.l_freq, cfg.h_freq, cfg.filter_order, notch or None, float(sfreq))
    return designed(key, make)


def _iir_sos(cfg: PreprocessConfig, sfreq: float):
    """Band-pass second-order sections for the configured edges at ``sfreq`` (None if no filter)."""
    from scipy.signal import butter

    nyq = sfreq / 2.0
    lo = cfg.l_freq if cfg.l_freq and cfg.l_freq < nyq else None
    hi = cfg.h_freq if cfg.h_freq and cfg.h_freq < nyq * 0.99 else None
    if lo and hi:
        return butter(cfg.filter_order, [lo, hi], btype="bandpass", fs=sfreq, output="sos")
    if lo:
        return butter(cfg.filter_order, lo, btype="highpass", fs=sfreq, output="sos")
    if hi:
        return butter(cfg.filter_order, hi, btype="lowpass", fs=sfreq, output="sos")
    return None


def _notch_sos(notch: float | None, sfreq: float):
    from scipy.signal import iirnotch, tf2sos

    if not notch:
        return []
    out = []
    f = notch
    while f < sfreq / 2.0 * 0.99:
        b, a = iirnotch(f, Q=30.0, fs=sfreq)
        out.append(tf2sos(b, a))
        f += notch
    return out
