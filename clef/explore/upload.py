"""Uploaded recordings: read the bytes safely, embed them and place them on the map."""
from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clef.bundle import MAX_UPLOAD_MB
from clef.errors import ClefError, InvalidRecording, UnreadableRecording, UnsupportedFormat
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
        try:
            session = read_session(path, **read_kwargs)
        except ClefError as exc:
            _hide_server_details(exc, tmp, filename)
            raise
        except (ValueError, OSError, RuntimeError, KeyError) as exc:  # a reader's own error
            raise UnreadableRecording(Path(filename).name, f"could not be read as {suffix} "
                                      f"({type(exc).__name__})", "check that the file opens in "
                                      "its acquisition software, then re-export it") from None
        session.data = np.ascontiguousarray(session.data)  # detach from any memmap in tmp
        session.meta = {**session.meta, "upload_name": filename}
    return session


_RAW_BYTES = re.compile(r"\s*b(['\"]).*?\1")


def _hide_server_details(exc: ClefError, tmp: str, filename: str) -> None:
    """Rewrite an error's message (in place) for the person who uploaded the file: their file's
    name instead of the server's temporary path, and no raw header bytes."""
    name = Path(filename).name
    msg = str(exc)
    for folder in (str(Path(tmp).resolve()), str(tmp)):
        msg = msg.replace(folder + os.sep, "").replace(folder, "")
    msg = _RAW_BYTES.sub("", msg)
    exc.args = (msg,)
    if hasattr(exc, "path"):
        exc.path = name


def embed_session(model, session: Session) -> np.ndarray:
    """(D,) unit embedding of one in-memory session (``clef.embedding.embed``, the one path).

    Raises the session's error when it cannot be tokenized or encoded.
    """
    from clef.embedding import embed

    return embed(model, [session], batch_size=1)[0]


def channel_report(meta: dict, sfreq: float, duration_s: float) -> str:
    """What reading did to an upload, in one honest line (from ``Session.meta``).

    Example: ``"2.1 min recorded at 160 Hz, 64 channels: kept 19 standard 10-20 channels,
    dropped 45 (Fc5., Fc3., ... ), interpolated none; resampled to 200 Hz"``.
    """
    orig = meta.get("orig_ch_names") or []
    kept = list((meta.get("channel_map") or {}).values())
    dropped = list(meta.get("dropped") or [])
    interp = list(meta.get("interpolated") or [])
    orig_sf = float(meta.get("orig_sfreq") or sfreq)
    shown = ", ".join(map(str, dropped[:8])) + (", …" if len(dropped) > 8 else "")
    parts = [f"{duration_s / 60:.1f} min recorded at {orig_sf:g} Hz"
             + (f", {len(orig)} channels" if orig else ""),
             f"kept {len(kept)} standard 10-20 channels",
             f"dropped {len(dropped)}" + (f" ({shown})" if dropped else ""),
             "interpolated " + (", ".join(map(str, interp)) if interp else "none")]
    line = ": ".join(parts[:2]) + ", " + ", ".join(parts[2:])
    if abs(orig_sf - float(sfreq)) > 1e-6:
        line += f"; resampled to {float(sfreq):g} Hz"
    return line


def neighbour_scores(index, k: int = 10, n: int = 300, seed: int = 0) -> np.ndarray:
    """Mean top-``k`` neighbour similarity of ``n`` random cohort sessions (their own session
    excluded): the yardstick for :func:`distribution_check`."""
    ids = np.asarray(index.session_ids)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(ids), size=min(n, len(ids)), replace=False)
    return np.array([float(index.by_session(str(ids[i]), k)["score"].mean()) for i in pick])


def distribution_check(scores, reference: np.ndarray, *, quantile: float = 0.05
                       ) -> tuple[float, str | None]:
    """How typical an upload's neighbour similarity is for this cohort.

    Parameters
    ----------
    scores : array
        The upload's neighbour scores (cosine).
    reference : np.ndarray
        :func:`neighbour_scores` of the cohort.
    quantile : float
        Below this share of the cohort, the upload is flagged.

    Returns
    -------
    percentile : float
        Share of cohort sessions whose neighbours are less similar (0-1).
    warning : str or None
        A warning when the upload is out of distribution, else None.
    """
    mean = float(np.mean(scores)) if len(scores) else float("nan")
    ref = np.asarray(reference, dtype=float)
    pct = float((ref < mean).mean()) if ref.size else float("nan")
    if ref.size and pct < quantile:
        return pct, (f"This recording does not look like this cohort: its 10 nearest sessions "
                     f"are less similar (mean cosine {mean:.2f}) than for {1 - pct:.0%} of the "
                     f"cohort's own sessions (median {np.median(ref):.2f}). Treat its neighbours "
                     "and map position with caution (e.g. a research montage, a short or "
                     "task recording).")
    return pct, None


def neighbour_position(sessions: pd.DataFrame, neighbours: pd.DataFrame) -> np.ndarray | None:
    """Map position among its neighbours: the similarity-weighted mean of their coordinates.

    A UMAP transform of one new point can land away from the sessions it is most similar to;
    this places the star where its neighbours are. None without map coordinates.
    """
    if "x" not in sessions.columns or neighbours.empty:
        return None
    xy = sessions.set_index("session_id")[["x", "y"]].reindex(neighbours["session_id"])
    ok = np.isfinite(xy.to_numpy(float)).all(axis=1)
    if not ok.any():
        return None
    w = np.exp(20.0 * (neighbours["score"].to_numpy(float)[ok] - 1.0))  # near-softmax weights
    return (xy.to_numpy(float)[ok] * w[:, None]).sum(axis=0) / w.sum()


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
        :func:`channel_report`: duration, original rate and channels, kept, dropped,
        interpolated.
    meta : dict
        The read session's ``meta`` (channel map, dropped, original rate, filters).
    """

    name: str
    embedding: np.ndarray
    xy: np.ndarray | None
    spectrogram: tuple
    summary: str
    meta: dict | None = None


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
    summary = channel_report(sess.meta, sess.sfreq, sess.duration_s)
    meta = {k: v for k, v in sess.meta.items() if k not in ("source_path", "config")}
    return UploadResult(filename, emb, xy, session_spectrogram(sess, model.tokenizer), summary,
                        meta)


def upload_points(upload: UploadResult) -> pd.DataFrame:
    """The upload as an ``extra_points`` frame for :func:`map_figure`."""
    if upload.xy is None:
        return pd.DataFrame(columns=["x", "y", "label"])
    return pd.DataFrame({"x": [float(upload.xy[0])], "y": [float(upload.xy[1])],
                         "label": [upload.name]})
