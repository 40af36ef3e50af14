"""What a folder of recordings says about its sessions besides the signals.

Read by ``clef cohort build`` (:func:`clef.cohort_build.build_cohort`), which writes the cohort;
nothing here writes a file. Finds recordings (EDF/BDF/FIF/BrainVision/EEGLAB) in a directory
tree, a TUH-style tree (``name.edf`` + ``name.txt`` report, or the session report
``patient_sNNN.txt`` next to ``patient_sNNN_tNNN.edf``) or a BIDS dataset
(``sub-*/[ses-*/]eeg/*_eeg.*`` plus ``participants.tsv``), with their session and patient ids;
reads optional report files/CSV and an EHR CSV keyed by session id, file name, relative path or
patient id (de-identified on the way in, :mod:`clef.deid`); and normalises the values those
tables hold (ages, sexes, settings, code lists).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clef import deid
from clef.errors import InvalidCohort

RECORDING_EXTS = (".edf", ".rec", ".bdf", ".fif", ".fif.gz", ".vhdr", ".set")
SKIP_DIRS = {"derivatives", "sourcedata", "code", "recordings_failed"}
TUH_NAME = re.compile(r"^(?P<patient>[A-Za-z0-9]+)_(?P<session>s\d+)_(?P<token>t\d+)$")
KEY_COLUMNS = ("session_id", "file", "filename", "path", "recording")
LIST_COLUMNS = ("diagnoses", "medications")
_SEX = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}


@dataclass
class Recording:
    """One recording found on disk."""

    path: Path  # absolute
    rel: str  # relative to the recordings root, '/' separators
    session_id: str
    patient_id: str
    report_file: Path | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Known:
    """What is known about the sessions besides their recordings."""

    site: str
    reports: dict[str, str]  # session id -> report text
    ehr: dict[str, dict]  # session id -> EHR row
    participants: dict[str, dict]  # patient id -> BIDS participants.tsv row


# ----------------------------------------------------------------------------------------------
# discovery


def recording_ext(path: Path) -> str:
    """A recording's extension, lowercase (``.fif.gz`` counts as one)."""
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def _stem(path: Path) -> str:
    name = path.name
    return name[: -len(recording_ext(path))] if recording_ext(path) else path.stem


def is_bids(root) -> bool:
    """True when ``root`` is a BIDS dataset (has ``dataset_description.json``)."""
    return (Path(root) / "dataset_description.json").is_file()


def find_recordings(root) -> list[Recording]:
    """Every recording under ``root`` with a unique session id and a patient id.

    Session ids: the file name without extension (BIDS: without the ``_eeg`` suffix); when two
    files share a name, their relative paths with ``/`` replaced by ``__``. Patient ids: the BIDS
    subject, the TUH patient (``patient_sNNN_tNNN``), else the parent folder (or the session).
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise InvalidCohort(f"{root}: recordings folder does not exist. Fix: check --recordings.")
    bids = is_bids(root)
    files = []
    for p in sorted(root.rglob("*")):
        rel_parts = p.relative_to(root).parts
        if any(part.startswith(".") or part in SKIP_DIRS for part in rel_parts[:-1]):
            continue
        if p.name.startswith(".") or not p.is_file() or recording_ext(p) not in RECORDING_EXTS:
            continue
        if recording_ext(p) == ".fif" and re.search(r"-\d+\.fif$", p.name):  # split FIF part
            continue
        if bids and not (p.parent.name == "eeg" and _stem(p).endswith("_eeg")):
            continue
        files.append(p)
    stems = [_bids_stem(p) if bids else _stem(p) for p in files]
    dup = {s for s in stems if stems.count(s) > 1}
    out = []
    for p, stem in zip(files, stems):
        rel = p.relative_to(root).as_posix()
        sid = rel[: -len(recording_ext(p))].replace("/", "__") if stem in dup else stem
        out.append(Recording(path=p, rel=rel, session_id=sid,
                             patient_id=_patient_of(p, root, stem, bids),
                             report_file=_report_beside(p, stem)))
    return out


def _bids_stem(p: Path) -> str:
    stem = _stem(p)
    return stem.removesuffix("_eeg")


def _patient_of(p: Path, root: Path, stem: str, bids: bool) -> str:
    for part in p.relative_to(root).parts:
        if part.startswith("sub-"):
            return part
    m = TUH_NAME.match(stem)
    if m:
        return m.group("patient")
    if p.parent != root:
        return p.parent.name
    return stem


def _report_beside(p: Path, stem: str) -> Path | None:
    """TUH pairs: ``name.txt`` beside ``name.edf``, or the session report ``patient_sNNN.txt``."""
    cands = [p.with_name(_stem(p) + ".txt")]
    m = TUH_NAME.match(stem)
    if m:
        cands.append(p.with_name(f"{m.group('patient')}_{m.group('session')}.txt"))
    return next((c for c in cands if c.is_file()), None)


# ----------------------------------------------------------------------------------------------
# reports, EHR table, participants.tsv


def read_known(root: Path, recs: list[Recording], *, reports=None, ehr=None, site: str,
               keep_phi: bool = False) -> Known:
    """What the folder ``root`` and the optional tables say about the sessions of ``recs``.

    Parameters
    ----------
    root : Path
        The recordings folder (a BIDS dataset's ``participants.tsv`` is read from it).
    recs : list of Recording
        From :func:`find_recordings`.
    reports, ehr : path, optional
        See :func:`clef.cohort_build.build_cohort`.
    site : str
        Site of sessions whose tables name none.
    keep_phi : bool
        False: report text and the EHR table are de-identified (:mod:`clef.deid`).

    Returns
    -------
    Known
    """
    report_text = _reports(reports, recs)
    if not keep_phi:
        report_text = {k: deid.deidentify(v) for k, v in report_text.items()}
    ehr_rows: dict[str, dict] = {}
    if ehr is not None:
        df = _read_table(ehr, "EHR")
        df = df if keep_phi else deid.deidentify_table(df)
        ehr_rows = _rows_for(df, _key_column(df, ehr, "EHR", allow_patient=True), recs)
    return Known(site=site, reports=report_text, ehr=ehr_rows, participants=_participants(root))


def _read_table(path, what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InvalidCohort(f"{path}: {what} table not found. Fix: check the path.")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as e:  # pandas raises several parser errors
        raise InvalidCohort(f"{path}: cannot read the {what} CSV ({type(e).__name__}: {e}). "
                            "Fix: save it as a comma-separated file with a header row.") from e


def _key_column(df: pd.DataFrame, path, what: str, allow_patient: bool) -> str:
    keys = KEY_COLUMNS + (("patient_id", "participant_id") if allow_patient else ())
    for k in keys:
        if k in df.columns:
            return k
    raise InvalidCohort(f"{path}: the {what} table needs a key column, one of {list(keys)}; it "
                        f"has {list(df.columns)}. Fix: add a column naming the session or file.")


def _match(rec: Recording, key: str) -> bool:
    key = str(key).strip().replace("\\", "/")
    if not key:
        return False
    name = rec.path.name
    return key in (rec.session_id, rec.rel, name, _stem(rec.path)) or rec.rel.endswith("/" + key)


def _rows_for(df: pd.DataFrame, key: str, recs: list[Recording]) -> dict[str, dict]:
    """session_id -> the table row (dict) that names it."""
    out: dict[str, dict] = {}
    by_key: dict[str, list[Recording]] = {}
    for r in recs:
        for k in {r.session_id, r.rel, r.path.name, _stem(r.path)}:
            by_key.setdefault(k, []).append(r)
        if key in ("patient_id", "participant_id"):
            by_key.setdefault(r.patient_id, []).append(r)
            by_key.setdefault(r.patient_id.removeprefix("sub-"), []).append(r)
    for row in df.to_dict("records"):
        k = str(row.get(key) or "").strip().replace("\\", "/")
        matches = by_key.get(k) or [r for r in recs if _match(r, k)]
        for r in matches:
            out.setdefault(r.session_id, row)
    return out


def _reports(reports, recs: list[Recording]) -> dict[str, str]:
    """session_id -> report text from a folder of .txt files or a CSV."""
    out = {}
    for r in recs:
        if r.report_file is not None:
            out[r.session_id] = _read_text(r.report_file)
    if reports is None:
        return out
    reports = Path(reports)
    if reports.is_dir():
        files = {}
        for p in sorted(reports.rglob("*.txt")):
            files.setdefault(p.stem, p)
        for r in recs:
            m = TUH_NAME.match(_stem(r.path))
            for cand in (r.session_id, _stem(r.path),
                         f"{m.group('patient')}_{m.group('session')}" if m else None):
                if cand in files:
                    out[r.session_id] = _read_text(files[cand])
                    break
        return out
    df = _read_table(reports, "reports")
    key = _key_column(df, reports, "reports", allow_patient=False)
    text_col = next((c for c in ("report", "text", "report_text") if c in df.columns), None)
    if text_col is None:
        raise InvalidCohort(f"{reports}: the reports table needs a 'report' (or 'text') column; "
                            f"it has {list(df.columns)}.")
    for sid, row in _rows_for(df, key, recs).items():
        if isinstance(row.get(text_col), str):
            out[sid] = row[text_col]
    return out


def _read_text(p: Path) -> str:
    data = p.read_bytes()
    for enc in ("utf-8", "latin-1"):
        try:
            return data.decode(enc).strip()
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace").strip()  # pragma: no cover


def _participants(root: Path) -> dict[str, dict]:
    """A BIDS dataset's ``participants.tsv`` rows by participant id (empty elsewhere)."""
    if is_bids(root) and (root / "participants.tsv").is_file():
        pdf = _read_table(root / "participants.tsv", "participants")
        if "participant_id" in pdf.columns:
            return {str(r["participant_id"]): r for r in pdf.to_dict("records")}
    return {}


# ----------------------------------------------------------------------------------------------
# values


def parse_list(value, lower: bool = False, upper: bool = False) -> list[str] | None:
    """'G40.3; I63', 'G40.3|I63', '["G40.3", "I63"]' or a list -> ['G40.3', 'I63'] (None: unknown)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                items = re.split(r"[;|,]", text.strip("[]"))
        else:
            items = re.split(r"[;|,]", text)
    else:
        items = list(value)
    items = [str(i).strip().strip("'\"") for i in items]
    items = [i.lower() if lower else i.upper() if upper else i for i in items if i]
    return list(dict.fromkeys(items))


def norm_sex(v):
    """'female', 'F', 'w', ... -> 'F'; 'male', 'M', ... -> 'M'; anything else -> None."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return _SEX.get(str(v).strip().lower())


def norm_setting(v):
    """'routine' -> 'outpatient', 'epilepsy monitoring unit' -> 'emu', ...; unknown -> None."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    v = str(v).strip().lower()
    return {"outpatient": "outpatient", "routine": "outpatient", "emu": "emu",
            "epilepsy monitoring unit": "emu", "icu": "icu", "intensive care": "icu"}.get(v)


def norm_age(v):
    """Age in years as a float; NaN when not a number in 0..130."""
    try:
        a = float(v)
    except (TypeError, ValueError):
        return np.nan
    return a if 0 <= a <= 130 else np.nan
