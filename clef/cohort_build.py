"""Writing cohort folders: :func:`write_cohort` (every builder's way in, the synthetic
generator's included) and :func:`build_cohort` (``clef cohort build``: a cohort from a folder of
a user's own recordings).

``build_cohort`` finds the recordings and reads what the folder says about their sessions besides
the signals (reports, an EHR table, ``participants.tsv``: :mod:`clef.cohort_sources`); checks
every header (:func:`clef.io.summarize`; the signal is decoded later, once, by ``clef embed``)
and writes the cohort with :func:`write_cohort`. Recordings that cannot be used are left out and
listed in ``failures.parquet`` (never fatal). The contract the folder keeps, and its reader, are
:mod:`clef.cohort`.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clef import deid
from clef.cohort import (
    SESSION_COLUMNS,
    TASK_COLUMNS,
    validate_meta,
    validate_sessions,
    validate_tasks,
)
from clef.cohort_sources import (
    KEY_COLUMNS,
    RECORDING_EXTS,
    Known,
    Recording,
    find_recordings,
    norm_age,
    norm_setting,
    norm_sex,
    parse_list,
    read_known,
    recording_ext,
)
from clef.errors import InvalidCohort
from clef.fileio import atomic_write, atomic_write_text
from clef.store import atomic_write_parquet

# companions that travel with a recording when it is copied
COMPANIONS = {".vhdr": (".vmrk", ".eeg"), ".set": (".fdt",)}
FAILURE_COLUMNS = ["session_id", "path", "error_type", "message"]


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
# writing a cohort folder


def write_cohort(out, sessions_df: pd.DataFrame, tasks_df: pd.DataFrame, meta: dict,
                 oracle_df: pd.DataFrame | None = None) -> Path:
    """Validate and write a cohort folder (each file atomically, ``cohort.json`` last).

    Parameters
    ----------
    out : str or Path
        Cohort folder; created if needed. Existing ``recordings/`` are left alone.
    sessions_df, tasks_df : pandas.DataFrame
        See ``SESSION_COLUMNS`` and ``TASK_COLUMNS``.
    meta : dict
        cohort.json content: ``kind`` ("synthetic"/"real"), ``seed``, ``generator_version``,
        ``created_by``.
    oracle_df : pandas.DataFrame, optional
        Synthetic ground truth (true latent findings with intervals).

    Returns
    -------
    Path
        The cohort folder.

    Raises
    ------
    InvalidCohort
        Nothing is written when a table or the metadata is invalid.
    """
    out = Path(out)
    validate_sessions(sessions_df)
    validate_tasks(tasks_df, sessions_df)
    meta = validate_meta(meta)
    out.mkdir(parents=True, exist_ok=True)
    sessions = sessions_df.reset_index(drop=True)
    tasks = tasks_df.reset_index(drop=True).astype({"label": "int8", "held_out": bool})
    atomic_write(out / "tasks.parquet", lambda p: tasks.to_parquet(p, index=False))
    if oracle_df is not None:
        atomic_write(out / "oracle.parquet", lambda p: oracle_df.to_parquet(p, index=False))
    atomic_write(out / "sessions.parquet", lambda p: sessions.to_parquet(p, index=False))
    atomic_write_text(out / "cohort.json", json.dumps(meta, indent=2, sort_keys=True))
    return out


# ----------------------------------------------------------------------------------------------
# a cohort from a folder of recordings


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
    cfg = config or BuildConfig()
    root = Path(recordings).resolve()
    out = Path(out).resolve()
    recs = find_recordings(root)
    if not recs:
        raise InvalidCohort(f"{root}: no recordings found ({', '.join(RECORDING_EXTS)}). Fix: "
                            "point --recordings at the folder that holds them.")
    known = read_known(root, recs, reports=reports, ehr=ehr, site=cfg.site or root.name,
                       keep_phi=cfg.keep_phi)
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


def _check_recordings(recs: list[Recording], known: Known, cfg: BuildConfig):
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


def _session_row(rec: Recording, info: dict, known: Known) -> dict:
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
        if not np.isnan(norm_age(part.get("age"))):
            row["age"] = norm_age(part.get("age"))
        if norm_sex(part.get("sex")) is not None:
            row["sex"] = norm_sex(part.get("sex"))
    for col, value in known.ehr.get(rec.session_id, {}).items():
        if col in KEY_COLUMNS or value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        row[col] = value
    return row


def _tasks(sessions: pd.DataFrame, cfg: BuildConfig) -> pd.DataFrame:
    """The task table derived from the sessions' metadata (empty, typed, when not derived)."""
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
    df["age"] = pd.to_numeric(pd.Series([norm_age(a) for a in df["age"]]), errors="coerce")
    df["sex"] = [norm_sex(s) for s in df["sex"]]
    df["setting"] = [norm_setting(s) for s in df["setting"]]
    df["diagnoses"] = [parse_list(v, upper=True) for v in df["diagnoses"]]
    df["medications"] = [parse_list(v, lower=True) for v in df["medications"]]
    df["report"] = [v if isinstance(v, str) else None for v in df["report"]]
    df["split"] = [s if s in ("train", "test") else _split_of(p, cfg.test_fraction)
                   for s, p in zip(df["split"], df["patient_id"])]
    for col in ("duration_s", "sfreq"):
        df[col] = df[col].astype(float)
    return df.reset_index(drop=True)


def _split_of(patient_id: str, test_fraction: float) -> str:
    h = int.from_bytes(hashlib.sha256(patient_id.encode()).digest()[:8], "little") / 2 ** 64
    return "test" if h < test_fraction else "train"


def _place_recordings(rows, sessions: pd.DataFrame, out: Path, cfg: BuildConfig) -> None:
    """Fill ``path`` (relative to the cohort folder): copies under recordings/ or links back."""
    import os

    paths = []
    for rec, _ in rows:
        if cfg.copy:
            dest = out / "recordings" / rec.rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(rec.path, dest)
            if not cfg.keep_phi and recording_ext(rec.path) in (".edf", ".bdf"):
                os.chmod(dest, 0o644)  # the copy is ours; the original may be read-only
                deid.anonymize_edf_header(dest)  # no name, birth date or hospital code
            for ext in COMPANIONS.get(recording_ext(rec.path), ()):
                companion = rec.path.with_suffix(ext)
                if companion.is_file():
                    shutil.copy2(companion, dest.with_suffix(ext))
            paths.append("recordings/" + rec.rel)
        else:
            paths.append(Path(os.path.relpath(rec.path, out)).as_posix())
    sessions["path"] = paths
