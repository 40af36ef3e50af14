"""Assemble a cohort folder from a user's own recordings (``clef cohort build``).

Finds recordings (EDF/BDF/FIF/BrainVision/EEGLAB) in a directory tree, a TUH-style tree
(``name.edf`` + ``name.txt`` report, or the session report ``patient_sNNN.txt`` next to
``patient_sNNN_tNNN.edf``) or a BIDS dataset (``sub-*/[ses-*/]eeg/*_eeg.*`` plus
``participants.tsv``); joins optional report files/CSV and an EHR CSV keyed by session id, file
name, relative path or patient id; checks every header (:func:`clef.io.summarize`; the signal
is decoded later, once, by ``clef embed``) and writes the cohort (:func:`clef.cohort.write_cohort`).
Recordings that cannot be used are left out and listed in ``failures.parquet`` (never fatal).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clef import deid
from clef.errors import InvalidCohort
from clef.store import atomic_write_parquet

RECORDING_EXTS = (".edf", ".rec", ".bdf", ".fif", ".fif.gz", ".vhdr", ".set")
SKIP_DIRS = {"derivatives", "sourcedata", "code", "recordings_failed"}
# companions that travel with a recording when it is copied
COMPANIONS = {".vhdr": (".vmrk", ".eeg"), ".set": (".fdt",)}
TUH_NAME = re.compile(r"^(?P<patient>[A-Za-z0-9]+)_(?P<session>s\d+)_(?P<token>t\d+)$")
KEY_COLUMNS = ("session_id", "file", "filename", "path", "recording")
LIST_COLUMNS = ("diagnoses", "medications")
FAILURE_COLUMNS = ["session_id", "path", "error_type", "message"]
_SEX = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}


@dataclass
class BuildConfig:
    """How ``clef cohort build`` assembles a cohort."""

    check: bool = False  # also decode every signal now; default: header checks (clef embed reads)
    copy: bool = False  # copy recordings into COHORT/recordings/ (default: link by relative path)
    site: str | None = None  # site of sessions whose tables name none (default: folder name)
    test_fraction: float = 0.2  # patients in split "test" (stable hash of the patient id)
    derive_tasks: bool = True  # derive the task table (clef.probe.derive) from the metadata
    min_positives: int = 10  # derived tasks need this many positives and negatives
    max_missing: int = 3  # standard channels that may be interpolated (as clef.io.read_session)
    keep_phi: bool = False  # True: reports and EHR identifier columns kept verbatim (clef.deid)
    progress: bool = True


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
class BuildResult:
    """What :func:`build_cohort` wrote."""

    cohort_dir: Path
    sessions: pd.DataFrame
    tasks: pd.DataFrame
    failures: pd.DataFrame  # session_id, path, error_type, message

    def __repr__(self) -> str:
        return (f"BuildResult({self.cohort_dir}, {len(self.sessions)} sessions, "
                f"{self.tasks['task'].nunique() if len(self.tasks) else 0} tasks, "
                f"{len(self.failures)} failed)")


# ----------------------------------------------------------------------------------------------
# discovery


def _ext(path: Path) -> str:
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def _stem(path: Path) -> str:
    name = path.name
    return name[: -len(_ext(path))] if _ext(path) else path.stem


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
        if p.name.startswith(".") or not p.is_file() or _ext(p) not in RECORDING_EXTS:
            continue
        if _ext(p) == ".fif" and re.search(r"-\d+\.fif$", p.name):  # split FIF continuation
            continue
        if bids and not (p.parent.name == "eeg" and _stem(p).endswith("_eeg")):
            continue
        files.append(p)
    stems = [_bids_stem(p) if bids else _stem(p) for p in files]
    dup = {s for s in stems if stems.count(s) > 1}
    out = []
    for p, stem in zip(files, stems):
        rel = p.relative_to(root).as_posix()
        sid = rel[: -len(_ext(p))].replace("/", "__") if stem in dup else stem
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
# tables


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


def _norm_sex(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return _SEX.get(str(v).strip().lower())


def _norm_setting(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    v = str(v).strip().lower()
    return {"outpatient": "outpatient", "routine": "outpatient", "emu": "emu",
            "epilepsy monitoring unit": "emu", "icu": "icu", "intensive care": "icu"}.get(v)


def _norm_age(v):
    try:
        a = float(v)
    except (TypeError, ValueError):
        return np.nan
    return a if 0 <= a <= 130 else np.nan


def _split_of(patient_id: str, test_fraction: float) -> str:
    h = int.from_bytes(hashlib.sha256(patient_id.encode()).digest()[:8], "little") / 2 ** 64
    return "test" if h < test_fraction else "train"


# ----------------------------------------------------------------------------------------------
# the build


def build_cohort(recordings, out, *, reports=None, ehr=None, config: BuildConfig | None = None,
                 created_by: str = "clef.cohort_build.build_cohort") -> BuildResult:
    """Assemble a cohort folder from recordings and optional report/EHR tables.

    Parameters
    ----------
    recordings : path
        Folder tree of recordings, a TUH-style tree or a BIDS dataset.
    out : path
        Cohort folder to write.
    reports : path, optional
        Folder of ``<session id or file stem>.txt`` reports, or a CSV with a key column
        (session_id/file/path) and a ``report`` column.
    ehr : path, optional
        CSV keyed by session_id/file/path or patient_id with any of: patient_id, site, age, sex,
        setting, diagnoses, medications (lists as ``a; b`` or JSON), report, split; other columns
        are kept as metadata.
    config : BuildConfig, optional

    Returns
    -------
    BuildResult
        Sessions and tasks written, and the recordings that failed (also in
        ``out/failures.parquet``).
    """
    from clef.cohort import write_cohort

    cfg = config or BuildConfig()
    root = Path(recordings).resolve()
    out = Path(out).resolve()
    recs = find_recordings(root)
    if not recs:
        raise InvalidCohort(f"{root}: no recordings found ({', '.join(RECORDING_EXTS)}). Fix: "
                            "point --recordings at the folder that holds them.")
    report_text = _reports(reports, recs)
    if not cfg.keep_phi:
        report_text = {k: deid.deidentify(v) for k, v in report_text.items()}
    ehr_rows: dict[str, dict] = {}
    if ehr is not None:
        df = _read_table(ehr, "EHR")
        df = df if cfg.keep_phi else deid.deidentify_table(df)
        ehr_rows = _rows_for(df, _key_column(df, ehr, "EHR", allow_patient=True), recs)
    known = _Known(site=cfg.site or root.name, reports=report_text, ehr=ehr_rows,
                   participants=_participants(root))
    rows, failures = _check_recordings(recs, known, cfg)
    sessions = _normalise(rows, cfg)
    _place_recordings(rows, sessions, out, cfg)
    tasks = _tasks(sessions, cfg)
    failures_df = pd.DataFrame(failures, columns=FAILURE_COLUMNS)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(out / "failures.parquet", failures_df)
    if len(sessions):
        write_cohort(out, sessions, tasks, {"kind": "real", "seed": None,
                                            "generator_version": None, "created_by": created_by})
    else:
        raise InvalidCohort(f"{root}: none of the {len(recs)} recordings could be used (see "
                            f"{out / 'failures.parquet'}; first: {failures[0]['error_type']}: "
                            f"{failures[0]['message']}). Fix: check them with `clef info PATH`.")
    return BuildResult(out, sessions, tasks, failures_df)


@dataclass
class _Known:
    """What is known about the sessions besides their recordings."""

    site: str
    reports: dict[str, str]  # session id -> report text
    ehr: dict[str, dict]  # session id -> EHR row
    participants: dict[str, dict]  # patient id -> BIDS participants.tsv row


def _participants(root: Path) -> dict[str, dict]:
    """A BIDS dataset's ``participants.tsv`` rows by participant id (empty elsewhere)."""
    if is_bids(root) and (root / "participants.tsv").is_file():
        pdf = _read_table(root / "participants.tsv", "participants")
        if "participant_id" in pdf.columns:
            return {str(r["participant_id"]): r for r in pdf.to_dict("records")}
    return {}


def _check_recordings(recs: list[Recording], known: _Known, cfg: BuildConfig):
    """Check each recording (``clef.io.summarize``): (recording, session row) pairs for the
    usable ones, failure rows for the others."""
    from tqdm.auto import tqdm

    from clef.errors import InvalidRecording
    from clef.io import summarize

    rows, failures = [], []
    for rec in tqdm(recs, desc="check", unit="rec", disable=not cfg.progress):
        try:
            info = summarize(rec.path, check=cfg.check, max_missing=cfg.max_missing)
        except InvalidRecording as e:
            failures.append(_fail(rec, type(e).__name__, f"{e.problem}. Fix: {e.fix}"))
            continue
        except Exception as e:  # noqa: BLE001 - MNE raises many types: record, never fatal
            failures.append(_fail(rec, type(e).__name__, str(e)))
            continue
        if not info["ok"]:
            p = info["problems"][0]
            failures.append(_fail(rec, p["error"], f"{p['problem']}. Fix: {p['fix']}"))
            continue
        rows.append((rec, _session_row(rec, info, known)))
    return rows, failures


def _session_row(rec: Recording, info: dict, known: _Known) -> dict:
    """One ``sessions.parquet`` row before normalisation: the recording's summary, then
    participants.tsv, then the EHR row (which wins)."""
    row = {"session_id": rec.session_id, "patient_id": rec.patient_id, "site": known.site,
           "path": None, "duration_s": float(info["duration_s"]),
           "sfreq": float(info["sfreq"]), "age": np.nan, "sex": None, "setting": None,
           "report": known.reports.get(rec.session_id), "diagnoses": None,
           "medications": None, "split": None}
    header = deid.edf_subject(rec.path)  # age (from birth and start dates) and sex only, never names
    if "age" in header:
        row["age"] = header["age"]
    if "sex" in header:
        row["sex"] = header["sex"]
    part = known.participants.get(rec.patient_id)
    if part:
        if not np.isnan(_norm_age(part.get("age"))):
            row["age"] = _norm_age(part.get("age"))
        if _norm_sex(part.get("sex")) is not None:
            row["sex"] = _norm_sex(part.get("sex"))
    for col, value in known.ehr.get(rec.session_id, {}).items():
        if col in KEY_COLUMNS or value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        row[col] = value
    return row


def _tasks(sessions: pd.DataFrame, cfg: BuildConfig) -> pd.DataFrame:
    """The task table derived from the sessions' metadata (empty, typed, when not derived)."""
    from clef.cohort import SESSION_COLUMNS, TASK_COLUMNS

    tasks = pd.DataFrame({c: pd.Series(dtype=d) for c, d in
                          (("session_id", object), ("task", object), ("category", object),
                           ("held_out", bool), ("concept", object), ("label", "int8"))})
    if cfg.derive_tasks and len(sessions):
        from clef.probe.derive import derive_tasks

        derived = derive_tasks(sessions[[c for c in sessions.columns if c in SESSION_COLUMNS]],
                               min_positives=cfg.min_positives)
        if len(derived):
            tasks = derived[[c for c in TASK_COLUMNS if c in derived.columns]]
    return tasks


def _fail(rec: Recording, error_type: str, message: str) -> dict:
    return {"session_id": rec.session_id, "path": str(rec.path), "error_type": error_type,
            "message": message}


def _normalise(rows, cfg: BuildConfig) -> pd.DataFrame:
    records = [r for _, r in rows]
    df = pd.DataFrame(records)
    if df.empty:
        return df
    df["patient_id"] = [str(p).strip() or sid for p, sid in zip(df["patient_id"], df["session_id"])]
    df["site"] = [str(s).strip() if isinstance(s, str) and s.strip() else (cfg.site or "local")
                  for s in df["site"]]
    df["age"] = pd.to_numeric(pd.Series([_norm_age(a) for a in df["age"]]), errors="coerce")
    df["sex"] = [_norm_sex(s) for s in df["sex"]]
    df["setting"] = [_norm_setting(s) for s in df["setting"]]
    df["diagnoses"] = [parse_list(v, upper=True) for v in df["diagnoses"]]
    df["medications"] = [parse_list(v, lower=True) for v in df["medications"]]
    df["report"] = [v if isinstance(v, str) else None for v in df["report"]]
    df["split"] = [s if s in ("train", "test") else _split_of(p, cfg.test_fraction)
                   for s, p in zip(df["split"], df["patient_id"])]
    for col in ("duration_s", "sfreq"):
        df[col] = df[col].astype(float)
    return df.reset_index(drop=True)


def _place_recordings(rows, sessions: pd.DataFrame, out: Path, cfg: BuildConfig) -> None:
    """Fill ``path`` (relative to the cohort folder): copies under recordings/ or links back."""
    import os

    paths = []
    for rec, _ in rows:
        if cfg.copy:
            dest = out / "recordings" / rec.rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(rec.path, dest)
            if not cfg.keep_phi and _ext(rec.path) in (".edf", ".bdf"):
                os.chmod(dest, 0o644)  # the copy is ours; the original may be read-only
                deid.anonymize_edf_header(dest)  # no name, birth date or hospital code
            for ext in COMPANIONS.get(_ext(rec.path), ()):
                companion = rec.path.with_suffix(ext)
                if companion.is_file():
                    shutil.copy2(companion, dest.with_suffix(ext))
            paths.append("recordings/" + rec.rel)
        else:
            paths.append(Path(os.path.relpath(rec.path, out)).as_posix())
    sessions["path"] = paths
