"""Uploaded recordings: read the bytes safely, embed them and place them on the map."""
from __future__ import annotations

import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clef.bundle import MAX_UPLOAD_MB
from clef.errors import InvalidRecording, UnsupportedFormat
from clef.explore.viewer import session_spectrogram
from clef.session import Session

UPLOAD_SUFFIXES = (".edf", ".bdf", ".fif", ".fif.gz", ".zip")  # .zip: BrainVision .vhdr/.vmrk/.eeg
#: Real recordings shipped with clef (three EEGMMIDB runs, ODC-By; see its README.md).
REAL_EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "data_samples" / "real"


def example_recordings(folder: Path | None = None) -> list[Path]:
    """The shipped real recordings that the upload page offers as examples.

    Parameters
    ----------
    folder : Path, optional
        Where to look; default ``data_samples/real`` of this checkout.

    Returns
    -------
    list of Path
        EDF files, sorted by name; empty when the folder is absent (e.g. an installed wheel).
    """
    folder = REAL_EXAMPLES_DIR if folder is None else Path(folder)
    return sorted(folder.glob("*.edf")) if folder.is_dir() else []


def _suffix(name: str) -> str:
    low = name.lower()
    return ".fif.gz" if low.endswith(".fif.gz") else Path(low).suffix


def read_uploaded(data: bytes, filename: str, *, max_mb: float = MAX_UPLOAD_MB,
                  **read_kwargs) -> Session:
    """Read an uploaded recording's bytes via ``clef.io.read_session`` in a temporary folder.

    Parameters
    ----------
    data : bytes
        File contents.
    filename : str
        Original name; its extension picks the reader (EDF/BDF/FIF, or a .zip holding one
        BrainVision set).
    max_mb : float
        Size limit in megabytes.
    **read_kwargs
        Passed to ``clef.io.read_session``.

    Returns
    -------
    Session
        Harmonized session; the temporary folder is removed before returning.

    Raises
    ------
    UnsupportedFormat, InvalidRecording
        For a wrong extension, an oversized file or a zip without exactly one ``.vhdr``.
    """
    from clef.io import read_session

    suffix = _suffix(filename)
    if suffix not in UPLOAD_SUFFIXES:
        raise UnsupportedFormat(filename, f"extension {suffix or '(none)'} is not supported here",
                                "upload an EDF, BDF or FIF file, or a .zip of a BrainVision set "
                                "(.vhdr + .vmrk + .eeg)")
    if len(data) > max_mb * 1e6:
        raise InvalidRecording(filename, f"file is {len(data) / 1e6:.0f} MB, over the "
                               f"{max_mb:g} MB limit", "crop the recording or embed it with "
                               "`clef embed` from the command line")
    with tempfile.TemporaryDirectory(prefix="clef-upload-") as tmp:
        safe = Path(filename).name or f"upload{suffix}"
        if suffix == ".zip":
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    for member in zf.infolist():
                        # no absolute paths / parent traversal out of the temp folder
                        target = (Path(tmp) / member.filename).resolve()
                        if not str(target).startswith(str(Path(tmp).resolve()) + os.sep):
                            raise InvalidRecording(filename, f"zip member {member.filename!r} "
                                                   "points outside the archive", "re-zip the "
                                                   "BrainVision files without absolute paths")
                    zf.extractall(tmp)
            except zipfile.BadZipFile as exc:
                raise InvalidRecording(filename, f"not a readable zip archive ({exc})",
                                       "upload a .zip holding .vhdr, .vmrk and .eeg") from exc
            headers = sorted(Path(tmp).rglob("*.vhdr"))
            if len(headers) != 1:
                raise InvalidRecording(filename, f"zip holds {len(headers)} .vhdr files",
                                       "zip exactly one BrainVision set (.vhdr, .vmrk, .eeg)")
            path = headers[0]
        else:
            path = Path(tmp) / safe
            path.write_bytes(data)
        session = read_session(path, **read_kwargs)
        session.data = np.ascontiguousarray(session.data)  # detach from any memmap in tmp
        session.meta = {**session.meta, "upload_name": filename}
    return session


def embed_session(model, session: Session) -> np.ndarray:
    """(D,) unit embedding of one in-memory session (``clef.embedding.embed``, the one path).

    Raises the session's error when it cannot be tokenized or encoded.
    """
    from clef.embedding import embed

    return embed(model, [session], batch_size=1)[0]


@dataclass
class UploadResult:
    """An uploaded recording, read, embedded and placed on the cohort map.

    Attributes
    ----------
    name : str
    embedding : np.ndarray
        (dim,) unit vector.
    xy : np.ndarray or None
        (2,) map coordinates (``CohortMap.transform``), None without a map.
    spectrogram : tuple
        (times_s, freqs, power_db) as :func:`session_spectrogram`.
    summary : str
        One line: duration, rate, channels, interpolated channels.
    """

    name: str
    embedding: np.ndarray
    xy: np.ndarray | None
    spectrogram: tuple
    summary: str


def embed_upload(data: bytes, filename: str, model, cohort_map=None, *,
                 max_mb: float = MAX_UPLOAD_MB) -> UploadResult:
    """Read an uploaded file (:func:`read_uploaded`), embed it and place it on the map.

    Raises the clef error of :func:`read_uploaded` / ``clef.io.read_session`` for a bad file.
    """
    sfreq = float(model.tokenizer.config.sfreq)
    sess = read_uploaded(data, filename, max_mb=max_mb, sfreq=sfreq)
    emb = embed_session(model, sess)
    xy = None
    if cohort_map is not None:
        xy = np.asarray(cohort_map.transform(emb[None, :]), dtype=np.float32).reshape(-1)[:2]
    interp = sess.meta.get("interpolated") or []
    summary = (f"{sess.duration_s / 60:.1f} min, {len(sess.ch_names)} channels at "
               f"{sess.sfreq:g} Hz" + (f", interpolated {', '.join(map(str, interp))}"
                                      if interp else ""))
    return UploadResult(filename, emb, xy, session_spectrogram(sess, model.tokenizer), summary)


def upload_points(upload: UploadResult) -> pd.DataFrame:
    """The upload as an ``extra_points`` frame for :func:`map_figure`."""
    if upload.xy is None:
        return pd.DataFrame(columns=["x", "y", "label"])
    return pd.DataFrame({"x": [float(upload.xy[0])], "y": [float(upload.xy[1])],
                         "label": [upload.name]})
