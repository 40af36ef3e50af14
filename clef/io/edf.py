"""EDF/EDF+/BDF headers, checked against the file's size, and plain files opened without MNE.

:func:`read_edf_header` parses and checks the header before anything else reads the file.
:func:`open_edf` opens a plain EDF/EDF+C/BDF file (one sampling rate for every signal) as an
:class:`EDFFile`: channel names, rate, length, start time and EDF+ annotations exactly as MNE's
``read_raw_edf`` gives them, from the header and the annotation bytes alone, without importing MNE
(~0.3 s per process) or building its Raw (~10 ms per file). Its samples are decoded by
:func:`clef.io.read.decode_edf`, MNE's arithmetic on MNE's values. Files it does not cover
(EDF+D, mixed rates, duplicate or trigger channels, a size that disagrees with the header) return
None and are read by MNE, as before. ``tests/test_io_edf.py`` checks both readers agree.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from clef.errors import UnreadableRecording

EDF_MAGIC = b"0       "  # EDF/EDF+ version field (8 bytes)
BDF_MAGIC = b"\xffBIOSEMI"  # BioSemi BDF version field (8 bytes)
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")  # MNE's TAL channel names
# Upper bounds that keep a corrupt header from asking for absurd allocations.
_MAX_SIGNALS = 4096
_MAX_SAMPLES_PER_RECORD = 10_000_000
_MICRO = ("\u03bcV", "\u00b5V", "\x83\xcaV", "uV")  # MNE's spellings of microvolt
_TAL = re.compile("([+-]\\d+\\.?\\d*)(\x15(\\d+\\.?\\d*))?(\x14.*?)\x14\x00")  # MNE's TAL pattern


@dataclass
class EDFHeader:
    """The fields of an EDF/BDF header, checked against the file's size."""

    kind: str  # "edf" or "bdf"
    n_signals: int
    n_records: int  # -1 means "unknown" in the file; resolved from the file size here
    record_duration_s: float
    labels: list[str] = field(default_factory=list)
    samples_per_record: list[int] = field(default_factory=list)
    header_bytes: int = 0
    physical_min: list[float] = field(default_factory=list)
    physical_max: list[float] = field(default_factory=list)
    digital_min: list[int] = field(default_factory=list)
    digital_max: list[int] = field(default_factory=list)
    units: list[str] = field(default_factory=list)  # physical dimension, as MNE strips it
    reserved: str = ""  # "EDF+C", "EDF+D" or blank
    data_bytes: int = 0  # bytes after the header in the file
    start: datetime | None = None  # MNE's meas_date (UTC): :func:`start_time`

    @property
    def record_bytes(self) -> int:
        return sum(self.samples_per_record) * (3 if self.kind == "bdf" else 2)


def _field(raw: bytes, what: str, path: Path, cast):
    text = raw.decode("latin-1").strip()
    try:
        return cast(text)
    except (ValueError, OverflowError):
        raise UnreadableRecording(path, f"EDF/BDF header field {what} is {text!r}, not a number",
                                  "the header is corrupt; re-export the recording") from None


def read_edf_header(path) -> EDFHeader:
    """Parse and check an EDF/BDF header against the file's size.

    Parameters
    ----------
    path : str or Path
        An EDF, EDF+ or BDF file.

    Returns
    -------
    EDFHeader

    Raises
    ------
    UnreadableRecording
        Corrupt header fields, or a header that claims more data than the file holds (truncated).
    """
    path = Path(path)
    fix = "the file is corrupt or was cut short; copy or export it again"
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(256)
            ns_text = head[252:256]
            sig = f.read(256 * max(0, min(int(ns_text) if ns_text.strip().isdigit() else 0,
                                          _MAX_SIGNALS)))
    except OSError as e:
        raise UnreadableRecording(path, f"cannot open the file ({e.strerror or e})",
                                  "check the path and the file's permissions") from e
    if len(head) < 256:
        raise UnreadableRecording(
            path, f"file has {size} bytes, shorter than the 256-byte EDF header", fix)
    kind = "bdf" if head.startswith(BDF_MAGIC) else "edf"
    if not head.startswith((EDF_MAGIC, BDF_MAGIC)):
        raise UnreadableRecording(path, f"not an EDF/BDF header (starts with {head[:8]!r})", fix)
    header_bytes = _field(head[184:192], "'header bytes'", path, int)
    n_records = _field(head[236:244], "'number of data records'", path, int)
    duration = _field(head[244:252], "'duration of a data record'", path, float)
    ns = _field(head[252:256], "'number of signals'", path, int)
    if not 1 <= ns <= _MAX_SIGNALS:
        raise UnreadableRecording(path, f"header declares {ns} signals", fix)
    if header_bytes != 256 * (ns + 1):
        raise UnreadableRecording(path, f"header size field is {header_bytes} bytes but {ns} "
                                        f"signals need {256 * (ns + 1)}", fix)
    if not (math.isfinite(duration) and 0 < duration <= 1e6):
        raise UnreadableRecording(path, f"data-record duration is {duration} s", fix)
    if n_records < -1 or n_records == 0:
        raise UnreadableRecording(path, f"header declares {n_records} data records", fix)
    if len(sig) < 256 * ns:
        raise UnreadableRecording(path, f"file ends inside the signal headers ({size} bytes)", fix)

    def column(offset: int, width: int) -> list[bytes]:  # one field of every signal header
        return [sig[offset + i * width: offset + (i + 1) * width] for i in range(ns)]

    labels = [b.strip().decode("latin-1") for b in column(0, 16)]  # MNE strips the bytes
    units = [b.strip().decode("latin-1") for b in column(ns * 96, 8)]
    off = ns * (16 + 80 + 8)  # labels, transducer, physical dimension
    phys_min, phys_max = ([_field(b, what, path, float) for b in column(off + k * ns * 8, 8)]
                          for k, what in enumerate(("'physical minimum'", "'physical maximum'")))
    dig_min, dig_max = ([_field(b, what, path, int) for b in column(off + k * ns * 8, 8)]
                        for k, what in ((2, "'digital minimum'"), (3, "'digital maximum'")))
    n_samp = [_field(b, "'samples per record'", path, int) for b in column(off + ns * 112, 8)]
    for i, label in enumerate(labels):
        if not 1 <= n_samp[i] <= _MAX_SAMPLES_PER_RECORD:
            raise UnreadableRecording(
                path, f"signal {label!r} declares {n_samp[i]} samples per record", fix)
        if dig_max[i] <= dig_min[i]:
            raise UnreadableRecording(path, f"signal {label!r} has digital range "
                                            f"[{dig_min[i]}, {dig_max[i]}]", fix)
        if phys_max[i] == phys_min[i] or not all(math.isfinite(v)
                                                for v in (phys_min[i], phys_max[i])):
            raise UnreadableRecording(path, f"signal {label!r} has physical range "
                                            f"[{phys_min[i]}, {phys_max[i]}]", fix)
    header = EDFHeader(kind=kind, n_signals=ns, n_records=n_records, record_duration_s=duration,
                       labels=labels, samples_per_record=n_samp, header_bytes=header_bytes,
                       physical_min=phys_min, physical_max=phys_max, digital_min=dig_min,
                       digital_max=dig_max, units=units,
                       reserved=head[192:236].decode("latin-1").strip(),
                       data_bytes=size - header_bytes, start=start_time(head))
    if n_records == -1:  # allowed while recording: derive the count from the size
        header.n_records = header.data_bytes // header.record_bytes
        if header.n_records < 1:
            raise UnreadableRecording(path, "file holds no complete data record", fix)
    elif header.data_bytes < n_records * header.record_bytes:
        held = header.data_bytes // header.record_bytes
        raise UnreadableRecording(
            path, f"header claims {n_records} data records ({n_records * header.record_bytes} "
                  f"bytes) but the file holds {header.data_bytes} bytes of data ({held} complete "
                  "records): truncated file or wrong header", fix)
    return header


def start_time(head: bytes) -> datetime | None:
    """MNE's ``meas_date`` of an EDF/BDF file from its first 184 header bytes (UTC, or None)."""
    rec = head[88:168].decode("latin-1").rstrip().split(" ")
    date = None
    if len(rec) == 5:  # EDF+ "Startdate dd-MMM-yyyy ...": four digits of the year
        try:
            date = datetime.strptime(rec[1], "%d-%b-%Y")
        except ValueError:
            date = None
    if date is None:
        try:
            day, month, year = (int(x) for x in head[168:176].decode("latin-1").split("."))
            date = datetime(year + 2000 if year < 85 else year + 1900, month, day)
        except ValueError:
            return None
    try:
        hour, minute, second = (int(x) for x in head[176:184].decode("latin-1").split("."))
    except ValueError:
        hour, minute, second = 0, 0, 0
    return date.replace(hour=hour, minute=minute, second=second, tzinfo=UTC)


@dataclass
class EDFFile:
    """A plain EDF/EDF+C/BDF recording opened without MNE: what ``read_session`` and
    ``summarize`` use of MNE's Raw (``ch_names``, ``info``, ``n_times``, ``filenames``), the
    annotations as ``(onset_s, duration_s, description)`` and the calibration of each channel."""

    path: Path
    header: EDFHeader
    ch_names: list[str]  # the signals without the annotation channels
    signals: list[int]  # their indices among the header's signals
    info: dict  # "sfreq", "meas_date", "line_freq" (None: EDF does not say)
    n_times: int
    events: list[tuple[float, float, str]]
    cal: np.ndarray  # (channels,) float64: physical range / digital range, as MNE
    offset: np.ndarray  # (channels,) float64: physical_min - digital_min * cal
    gain: np.ndarray  # (channels,) float64: volts per physical unit (uV 1e-6, mV 1e-3, else 1)

    @property
    def filenames(self) -> tuple[Path]:
        return (self.path,)


def open_edf(path, header: EDFHeader) -> EDFFile | None:
    """``path`` as an :class:`EDFFile`, or None where MNE's reader must decide (EDF+D, mixed
    rates, duplicate or trigger channel names, no signal, a size other than the header's)."""
    path = Path(path)
    signals = [i for i, lab in enumerate(header.labels) if lab not in ANNOTATION_LABELS]
    names = [header.labels[i] for i in signals]
    spr = {header.samples_per_record[i] for i in signals}
    if (not signals or len(spr) != 1 or header.reserved.endswith("+D")
            or len(set(names)) != len(names)
            or any(n.lower() in ("status", "trigger") for n in names)
            or header.data_bytes != header.n_records * header.record_bytes):
        return None
    sfreq = spr.pop() * 1.0 / header.record_duration_s
    n_times = int(header.n_records * header.samples_per_record[signals[0]])
    pick = np.asarray(signals)
    phys_min = np.asarray(header.physical_min, float)[pick]
    dig_min = np.asarray(header.digital_min, float)[pick]
    cal = ((np.asarray(header.physical_max, float)[pick] - phys_min)
           / (np.asarray(header.digital_max, float)[pick] - dig_min))
    gain = np.array([1e-6 if header.units[i] in _MICRO else 1e-3 if header.units[i] == "mV"
                     else 1.0 for i in signals])
    tals = [i for i, lab in enumerate(header.labels) if lab in ANNOTATION_LABELS]
    try:
        end = (n_times - 1) / sfreq + 1.0 / sfreq  # MNE's annotation_end
        events = _events(path, header, tals, names, end) if tals else []
    except UnicodeDecodeError:
        return None  # MNE's reader reports it
    return EDFFile(path, header, names, signals, {"sfreq": sfreq, "meas_date": header.start,
                                                  "line_freq": None},
                   n_times, events, cal, phys_min - dig_min * cal, gain)


def record_columns(header: EDFHeader, signal: int) -> slice:
    """Byte columns of ``signal`` inside one data record."""
    width = 3 if header.kind == "bdf" else 2
    start = sum(header.samples_per_record[:signal]) * width
    return slice(start, start + header.samples_per_record[signal] * width)


def _events(path: Path, header: EDFHeader, tals: list[int], ch_names: list[str],
            end_s: float) -> list[tuple[float, float, str]]:
    """MNE's annotations of the TAL signals: parsed, sorted, then cropped to ``[0, end_s]``."""
    from datetime import timedelta

    records = np.memmap(path, np.uint8, "r", offset=header.header_bytes,
                        shape=(header.n_records, header.record_bytes))
    tal = b"".join(np.ascontiguousarray(records[:, record_columns(header, i)]).tobytes()
                   for i in tals)  # MNE reads every record of the first TAL signal, then the next
    del records
    events: dict = {}
    offset = 0.0
    for k, (onset_txt, _, dur_txt, texts) in enumerate(_TAL.findall(tal.decode("utf8"))):
        onset = float(onset_txt) + offset
        duration = float(dur_txt) if dur_txt else 0
        for text in texts.split("\x14")[1:]:
            if not text:
                if k == 0:  # the first record's time-keeping TAL: where the data start
                    offset = -onset
                continue
            channel = None
            if "@@" in text and text.split("@@")[1] in ch_names:
                text, channel = text.split("@@")
            key = f"{onset}_{duration}_{text}"
            if channel is None and key in events:
                key += f"_{k}"
            if not (key in events and channel):
                events[key] = (onset, duration, text)
    ordered = sorted((o, d, i, t) for i, (o, d, t) in enumerate(events.values()))
    zero = datetime(1970, 1, 1, tzinfo=UTC)  # MNE crops on timedeltas (microseconds)
    tmax = zero + timedelta(seconds=end_s)
    out = []
    for onset, duration, _, text in ordered:
        start = zero + timedelta(seconds=onset)
        stop = start + timedelta(seconds=0.0 if math.isnan(duration) else duration)
        if start > tmax or stop < zero:
            continue
        clipped = start < zero or stop > tmax
        start, stop = max(start, zero), min(stop, tmax)
        out.append(((start - zero).total_seconds(),
                    (stop - start).total_seconds() if clipped else float(duration), text))
    return out
