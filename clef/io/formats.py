"""Recording formats: detection by extension and content, header checks, and lazy readers.

Every failure to parse becomes :class:`clef.errors.UnreadableRecording` (or
:class:`clef.errors.UnsupportedFormat`): no MNE/NumPy exception escapes :func:`open_raw`.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

from clef.errors import InvalidRecording, UnreadableRecording, UnsupportedFormat
from clef.io.edf import BDF_MAGIC, EDF_MAGIC, open_edf, read_edf_header

FIF_MAGIC = b"\x00\x00\x00\x64"  # first FIF tag: kind 100 (FIFF_FILE_ID), big-endian
GZIP_MAGIC = b"\x1f\x8b"
MAT5_MAGIC = b"MATLAB 5.0"  # EEGLAB .set saved as a MATLAB v5 file
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"  # EEGLAB .set saved as MATLAB v7.3
VHDR_MAGICS = (b"Brain Vision Data Exchange Header File", b"BrainVision Data Exchange Header File")

FORMATS = ("edf", "bdf", "fif", "brainvision", "eeglab", "bids")
_EXTENSIONS = {
    ".edf": "edf", ".rec": "edf", ".bdf": "bdf", ".fif": "fif", ".fif.gz": "fif",
    ".vhdr": "brainvision", ".set": "eeglab",
}
_SUPPORTED_HINT = ("EDF/EDF+ (.edf), BDF (.bdf), FIF (.fif), BrainVision (.vhdr), EEGLAB (.set) "
                   "or BIDS")


def _ext(path: Path) -> str:
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def _head(path: Path, n: int = 64) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise UnreadableRecording(path, f"cannot open the file ({e.strerror or e})",
                                  "check the path and the file's permissions") from e


def is_bids_path(obj) -> bool:
    """True for a ``mne_bids.BIDSPath`` object."""
    return type(obj).__name__ == "BIDSPath" and hasattr(obj, "fpath")


def _bids_root_of(path: Path) -> Path | None:
    """The BIDS root above ``path`` (folder holding dataset_description.json) for sub-* files."""
    if not path.name.startswith("sub-"):
        return None
    for parent in list(path.parents)[:6]:
        if (parent / "dataset_description.json").is_file():
            return parent
    return None


def detect_format(path) -> str:
    """Format of a recording from its extension and first bytes.

    Parameters
    ----------
    path : str, Path or mne_bids.BIDSPath
        The recording.

    Returns
    -------
    str
        One of ``FORMATS``.

    Raises
    ------
    UnsupportedFormat
        The extension and content match no supported format.
    UnreadableRecording
        The file is missing, or the extension promises a format its bytes do not have.
    """
    if is_bids_path(path):
        return "bids"
    path = Path(path)
    if path.is_dir():
        raise UnsupportedFormat(path, "is a folder, not a recording",
                                f"pass one recording file ({_SUPPORTED_HINT}) or a "
                                "mne_bids.BIDSPath")
    if not path.is_file():
        raise UnreadableRecording(path, "file does not exist", "check the path")
    head = _head(path)
    ext = _ext(path)
    by_ext = _EXTENSIONS.get(ext)
    if head.startswith(EDF_MAGIC) and by_ext in (None, "edf", "bdf"):
        return "bids" if _bids_root_of(path) else "edf"
    if head.startswith(BDF_MAGIC) and by_ext in (None, "edf", "bdf"):
        return "bids" if _bids_root_of(path) else "bdf"
    if by_ext is None:
        if head.startswith(FIF_MAGIC):
            return "fif"
        raise UnsupportedFormat(path, f"unknown recording format (extension {ext or 'none'!r}, "
                                      f"first bytes {head[:8]!r})",
                                f"convert it to {_SUPPORTED_HINT}")
    expected = {
        "edf": (EDF_MAGIC,), "bdf": (BDF_MAGIC,), "fif": (FIF_MAGIC, GZIP_MAGIC),
        "brainvision": VHDR_MAGICS, "eeglab": (MAT5_MAGIC, HDF5_MAGIC),
    }[by_ext]
    if not any(head.startswith(m) for m in expected):
        raise UnreadableRecording(
            path, f"has a {ext} name but its first bytes {head[:12]!r} are not a {by_ext.upper()} "
                  "header (corrupt file, or a different format renamed)",
            "re-export the recording from the acquisition software, or give it its real extension")
    return "bids" if _bids_root_of(path) else by_ext


_MAT_PROBE = "import sys, scipy.io; scipy.io.loadmat(sys.argv[1], squeeze_me=True)"


def probe_matlab_file(path, timeout_s: float = 300.0) -> None:
    """Load a MATLAB v5 file in a child process first: corrupt ones can crash SciPy's reader.

    SciPy's ``loadmat`` can die with a segmentation fault on corrupt compressed MAT data, which
    would take the whole (batch) process down; the child absorbs the crash instead.

    Raises
    ------
    UnreadableRecording
        The child crashed or timed out.
    """
    import subprocess
    import sys

    try:
        res = subprocess.run([sys.executable, "-c", _MAT_PROBE, str(path)], capture_output=True,
                             timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as e:
        raise UnreadableRecording(path, f"reading the MATLAB data took over {timeout_s:g} s",
                                  "check the file is not corrupt") from e
    if res.returncode < 0:
        raise UnreadableRecording(path, f"the MATLAB data crashes the reader (signal "
                                        f"{-res.returncode}): the file is corrupt",
                                  "re-export the dataset from EEGLAB (File > Save as)")
    # a normal Python error in the child: MNE will raise it again below, and it is wrapped there


def _mne_read(fmt: str, path, *, include=None):
    """Open a recording lazily with MNE (``preload=False`` where the format allows)."""
    import mne

    if fmt == "edf":
        return mne.io.read_raw_edf(path, include=include, preload=False, verbose="error")
    if fmt == "bdf":
        return mne.io.read_raw_bdf(path, include=include, preload=False, verbose="error")
    if fmt == "fif":
        return mne.io.read_raw_fif(path, preload=False, verbose="error")
    if fmt == "brainvision":
        return mne.io.read_raw_brainvision(path, preload=False, verbose="error")
    if fmt == "eeglab":
        if _head(Path(path), len(MAT5_MAGIC)) == MAT5_MAGIC:
            probe_matlab_file(path)
        return mne.io.read_raw_eeglab(path, preload=False, verbose="error")
    if fmt == "bids":
        import mne_bids

        bids_path = path if is_bids_path(path) else mne_bids.get_bids_path_from_fname(path)
        return mne_bids.read_raw_bids(bids_path, verbose="error")
    raise ValueError(f"format {fmt!r} is not one of {FORMATS}")


def _bids_file(path) -> Path | None:
    """The data file behind a BIDS path (or the path itself)."""
    if is_bids_path(path):
        try:
            fpath = path.fpath
        except (RuntimeError, ValueError, FileNotFoundError):  # ambiguous or missing matches
            return None
        return Path(fpath) if fpath is not None else None
    return Path(path)


def open_raw(path, fmt: str | None = None, *, include=None):
    """Open a recording lazily, turning every parse failure into a typed error.

    Parameters
    ----------
    path : str, Path or mne_bids.BIDSPath
        The recording.
    fmt : str, optional
        One of ``FORMATS``; detected when None.
    include : list of str, optional
        For EDF/BDF: only these channels are read (picked before loading).

    Returns
    -------
    raw : mne.io.BaseRaw or clef.io.edf.EDFFile
        Not preloaded where the format allows it; plain EDF/BDF files (one rate, EDF+C) are
        opened by :func:`clef.io.edf.open_edf`, without MNE.
    fmt : str
        The format used.
    warnings : list of str
        Warnings MNE raised while opening the file.

    Raises
    ------
    UnreadableRecording, UnsupportedFormat
    """
    fmt = fmt or detect_format(path)
    where = path if not is_bids_path(path) else str(path)
    data_file = _bids_file(path) if fmt == "bids" else Path(path)
    if data_file is not None and data_file.is_file() and (
            fmt in ("edf", "bdf") or _ext(data_file) in (".edf", ".bdf", ".rec")):
        header = read_edf_header(data_file)  # catches truncation before MNE pads or misreads
        plain = open_edf(data_file, header) if fmt in ("edf", "bdf") and include is None else None
        if plain is not None:  # no MNE needed: same names, rate, events and samples
            return plain, fmt, ([] if plain.info["meas_date"] else
                                ["Invalid measurement date encountered in the header."])
    alias = None
    if fmt in ("edf", "bdf") and _ext(Path(path)) != f".{fmt}":
        # content sniffed as EDF/BDF under another name: MNE insists on the extension, so read
        # through a symbolic link that lives as long as the returned Raw
        alias = tempfile.TemporaryDirectory(prefix="clef-io-")
        link = Path(alias.name) / f"{Path(path).stem or 'recording'}.{fmt}"
        os.symlink(Path(path).resolve(), link)
        path = link
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = _mne_read(fmt, path, include=include)
            raw._clef_alias = alias  # keeps the symbolic link's folder alive with the Raw
            if raw.n_times < 1 or not raw.info["sfreq"] > 0:
                raise ValueError(f"{raw.n_times} samples at {raw.info['sfreq']} Hz")
        except InvalidRecording:
            raise
        except MemoryError as e:
            raise UnreadableRecording(where, "header asks for more memory than this machine has",
                                      "check the file is not corrupt") from e
        except Exception as e:  # any MNE/NumPy parse failure: corrupt file
            msg = f"{type(e).__name__}: {e}".strip()
            if len(msg) > 300:
                msg = msg[:300] + "..."
            raise UnreadableRecording(where, f"MNE cannot parse this {fmt.upper()} file ({msg})",
                                      "check the file is complete and not corrupt; re-export it "
                                      "from the acquisition software") from e
    notes = sorted({str(w.message) for w in caught})
    return raw, fmt, notes


def file_size(path) -> int | None:
    """Bytes on disk of a recording file, or None for BIDS paths without a single file."""
    p = _bids_file(path)
    return os.path.getsize(p) if p is not None and p.is_file() else None
