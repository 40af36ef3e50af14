"""Cohort folders: the contract every clef module shares (schema, validation) and its reader.

A cohort is a folder::

    cohort.json        {"kind": "synthetic"|"real", "seed": int|null, "generator_version",
                        "created_by"}
    sessions.parquet   one row per session (see SESSION_COLUMNS)
    tasks.parquet      long labels: one row per (session, task) with a known label (TASK_COLUMNS)
    oracle.parquet     synthetic cohorts only: true latent findings with time intervals
    recordings/        recording files; sessions.parquet `path` is relative to the cohort folder

Synthetic sessions without a recording file are regenerated on demand from the cohort's seed.
Cohort folders are written by :func:`clef.cohort_build.write_cohort`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from clef.errors import InvalidCohort
from clef.session import Session

SCHEMA_VERSION = 1
KINDS = ("synthetic", "real")
SEXES = ("F", "M")
SETTINGS = ("outpatient", "emu", "icu")
SPLITS = ("train", "test")
CATEGORIES = ("phenotype", "medication", "finding", "demographic")

# column -> (kind, required). Optional columns are validated when present and filled when absent.
SESSION_COLUMNS: dict[str, tuple[str, bool]] = {
    "session_id": ("id", True),  # unique non-empty str
    "patient_id": ("str", True),  # patient-level splits group on this
    "site": ("str", True),
    "path": ("str_or_null", True),  # recording, relative to the cohort folder; null = regenerate
    "duration_s": ("positive", True),
    "sfreq": ("positive", True),  # native rate of the recording, Hz
    "age": ("age", False),  # years, null when unknown
    "sex": ("sex", False),  # "F" / "M" / null
    "setting": ("setting", False),  # "outpatient" / "emu" / "icu" / null
    "report": ("str_or_null", False),  # the neurologist's report text
    "diagnoses": ("str_list", False),  # ICD-10 codes
    "medications": ("str_list", False),  # lowercase generic names
    "split": ("split", False),  # "train" / "test" (patient-level, for held-out concepts)
}
TASK_COLUMNS: dict[str, tuple[str, bool]] = {
    "session_id": ("str", True),
    "task": ("str", True),
    "category": ("category", True),
    "held_out": ("bool", True),
    "concept": ("str_or_null", False),  # free-text concept for zero-shot scoring
    "label": ("label", True),  # int8 0/1
}
_FILL = {"age": np.nan, "sex": None, "setting": None, "report": None, "split": None,
         "concept": None}


def _bad(table: str, column: str, problem: str, fix: str) -> InvalidCohort:
    return InvalidCohort(f"{table} column {column!r}: {problem}. Fix: {fix}")


def _is_null(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def _check_column(df: pd.DataFrame, table: str, col: str, kind: str) -> None:
    s = df[col]
    vals = s.tolist()
    if kind in ("id", "str"):
        bad = [not (isinstance(v, str) and v.strip()) for v in vals]
        if any(bad):
            i = bad.index(True)
            raise _bad(table, col, f"must hold non-empty strings; row {i} has {vals[i]!r} "
                                   f"({type(vals[i]).__name__})",
                       f"convert it with df[{col!r}].astype(str) and fill missing values")
        if kind == "id":
            dup = s[s.duplicated()].unique().tolist()
            if dup:
                raise _bad(table, col, f"duplicate values {dup[:5]}",
                           "give every session a unique session_id")
    elif kind == "str_or_null":
        bad = [not (_is_null(v) or isinstance(v, str)) for v in vals]
        if any(bad):
            i = bad.index(True)
            raise _bad(table, col, f"must hold strings or null; row {i} has {vals[i]!r} "
                                   f"({type(vals[i]).__name__})", "store text as str, or None")
    elif kind in ("positive", "age"):
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            raise _bad(table, col, f"must be numeric, got dtype {s.dtype}",
                       f"convert it with pd.to_numeric(df[{col!r}])")
        x = s.astype("float64").to_numpy()
        if kind == "positive":
            bad = ~(np.isfinite(x) & (x > 0))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise _bad(table, col, f"must be finite and > 0; row {i} has {x[i]!r}",
                           "drop or repair those sessions")
        else:
            bad = ~np.isnan(x) & ~((x >= 0) & (x <= 130))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise _bad(table, col, f"must be years in 0..130 or null; row {i} has {x[i]!r}",
                           "store age in years (NaN when unknown)")
    elif kind in ("sex", "setting", "split", "category"):
        allowed = {"sex": SEXES, "setting": SETTINGS, "split": SPLITS, "category": CATEGORIES}[kind]
        nullable = kind in ("sex", "setting")
        bad = [not ((nullable and _is_null(v)) or v in allowed) for v in vals]
        if any(bad):
            i = bad.index(True)
            unknown = sorted({str(v) for v, b in zip(vals, bad, strict=True) if b})[:5]
            raise _bad(table, col, f"unknown value(s) {unknown} (first at row {i}); allowed: "
                                   f"{list(allowed)}" + (" or null" if nullable else ""),
                       "map the values to the allowed ones")
    elif kind == "str_list":
        for i, v in enumerate(vals):
            if _is_null(v):
                continue
            if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                raise _bad(table, col, f"must hold lists of strings; row {i} has "
                                       f"{type(v).__name__} {v!r}",
                           "store e.g. ['G40.3'] rather than 'G40.3'")
            if not all(isinstance(x, str) for x in v):
                raise _bad(table, col, f"row {i} holds non-string items {list(v)!r}",
                           "store codes/names as strings")
    elif kind == "bool":
        if not pd.api.types.is_bool_dtype(s):
            raise _bad(table, col, f"must be boolean, got dtype {s.dtype}",
                       f"convert it with df[{col!r}].astype(bool)")
    elif kind == "label":
        if not pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s):
            raise _bad(table, col, f"must be integer 0/1, got dtype {s.dtype}",
                       "store labels as int8 0/1 and leave unknown labels out of the long table")
        bad = ~s.isin([0, 1]).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _bad(table, col, f"labels must be 0 or 1; row {i} has {s.iloc[i]!r}",
                       "binarize the task, and leave unknown labels out")
    else:  # pragma: no cover - programming error
        raise ValueError(kind)


def _validate(df, table: str, spec: dict) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InvalidCohort(f"{table} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c, (_, req) in spec.items() if req and c not in df.columns]
    if missing:
        raise InvalidCohort(f"{table} is missing required column(s) {missing}; it has "
                            f"{list(df.columns)}. Fix: add them (see clef.cohort."
                            f"{'SESSION' if table.startswith('sessions') else 'TASK'}_COLUMNS)")
    for col, (kind, _) in spec.items():
        if col in df.columns:
            _check_column(df, table, col, kind)
    return df


def validate_sessions(df: pd.DataFrame) -> pd.DataFrame:
    """Check a sessions table against ``SESSION_COLUMNS``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per session.

    Returns
    -------
    pandas.DataFrame
        The same frame, for chaining.

    Raises
    ------
    InvalidCohort
        Naming the missing or malformed column (wrong dtype, duplicate session_id, unknown value).
    """
    return _validate(df, "sessions.parquet", SESSION_COLUMNS)


def validate_tasks(df: pd.DataFrame, sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Check a long task table against ``TASK_COLUMNS`` (and the sessions it refers to).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per (session_id, task) with a known 0/1 label.
    sessions : pandas.DataFrame, optional
        When given, every ``session_id`` must be one of its sessions.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    InvalidCohort
        Missing/malformed column, duplicate (session_id, task) rows, labels not 0/1, unknown
        category, a task whose category/held_out/concept differ between rows, unknown sessions.
    """
    _validate(df, "tasks.parquet", TASK_COLUMNS)
    dup = df.duplicated(["session_id", "task"])
    if dup.any():
        row = df[dup].iloc[0]
        raise InvalidCohort(f"tasks.parquet has {int(dup.sum())} duplicate (session_id, task) "
                            f"row(s), e.g. ({row['session_id']!r}, {row['task']!r}). Fix: keep "
                            "one label per session and task")
    meta_cols = [c for c in ("category", "held_out", "concept") if c in df.columns]
    for col in meta_cols:
        n = df.groupby("task")[col].nunique(dropna=False)
        if (n > 1).any():
            task = n[n > 1].index[0]
            raise InvalidCohort(f"tasks.parquet column {col!r}: task {task!r} has several values "
                                f"{df.loc[df['task'] == task, col].unique().tolist()}. Fix: a "
                                "task's category/held_out/concept must be the same on every row")
    if sessions is not None:
        unknown = sorted(set(df["session_id"]) - set(sessions["session_id"]))
        if unknown:
            raise InvalidCohort(f"tasks.parquet refers to {len(unknown)} session_id(s) not in "
                                f"sessions.parquet, e.g. {unknown[:5]}. Fix: drop those rows or "
                                "add the sessions")
    return df


def validate_meta(meta: dict) -> dict:
    """Check cohort.json content; returns it with defaults filled."""
    if not isinstance(meta, dict):
        raise InvalidCohort(f"cohort.json must hold an object, got {type(meta).__name__}")
    out = {"kind": None, "seed": None, "generator_version": None, "created_by": None,
           "schema_version": SCHEMA_VERSION, **meta}
    if out["kind"] not in KINDS:
        raise InvalidCohort(f"cohort.json 'kind' is {out['kind']!r}; allowed: {list(KINDS)}. "
                            "Fix: set kind to 'synthetic' or 'real'")
    if out["seed"] is not None and (isinstance(out["seed"], bool)
                                    or not isinstance(out["seed"], (int, np.integer))):
        raise InvalidCohort(f"cohort.json 'seed' must be an integer or null, got {out['seed']!r}")
    if out["kind"] == "synthetic" and out["seed"] is None:
        raise InvalidCohort("cohort.json: a synthetic cohort needs its integer 'seed' to "
                            "regenerate sessions. Fix: record the generator's seed")
    out["seed"] = None if out["seed"] is None else int(out["seed"])
    return out


def _fill_optional(df: pd.DataFrame, spec: dict) -> pd.DataFrame:
    df = df.copy()
    for col, (kind, _) in spec.items():
        if col not in df.columns:
            df[col] = [[] for _ in range(len(df))] if kind == "str_list" else _FILL.get(col)
        elif kind == "str_list":
            df[col] = [[] if _is_null(v) else [str(x) for x in v] for v in df[col]]
    return df


class Cohort:
    """A cohort folder loaded into memory (tables only; recordings are read on demand).

    Attributes
    ----------
    root : Path
    meta : dict
        cohort.json.
    sessions : pandas.DataFrame
        One row per session, all ``SESSION_COLUMNS`` present (optional ones filled with nulls).
    tasks : pandas.DataFrame
        Long labels (``TASK_COLUMNS``).
    oracle : pandas.DataFrame or None
        Synthetic ground truth when present.
    """

    def __init__(self, root, meta: dict, sessions: pd.DataFrame, tasks: pd.DataFrame,
                 oracle: pd.DataFrame | None = None):
        self.root = Path(root)
        self.meta = meta
        self.sessions = sessions
        self.tasks = tasks
        self.oracle = oracle
        self._row = {sid: i for i, sid in enumerate(sessions["session_id"])}

    @classmethod
    def load(cls, root) -> Cohort:
        """Read and validate a cohort folder.

        Parameters
        ----------
        root : str or Path
            Folder holding ``cohort.json``, ``sessions.parquet`` and ``tasks.parquet``.

        Returns
        -------
        Cohort

        Raises
        ------
        InvalidCohort
            A file is missing or unreadable, or a table breaks the contract.
        """
        root = Path(root)
        if not root.is_dir():
            raise InvalidCohort(f"{root}: cohort folder does not exist. Fix: check the path, or "
                                "create one with `clef synth` / clef.cohort_build.write_cohort")
        for name in ("cohort.json", "sessions.parquet", "tasks.parquet"):
            if not (root / name).is_file():
                raise InvalidCohort(f"{root}: missing {name}. Fix: a cohort folder needs "
                                    "cohort.json, sessions.parquet and tasks.parquet (write them "
                                    "with clef.cohort_build.write_cohort)")
        try:
            meta = json.loads((root / "cohort.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InvalidCohort(f"{root / 'cohort.json'}: not valid JSON ({e}). Fix: rewrite it "
                                "with clef.cohort_build.write_cohort") from e
        tables = {}
        for name in ("sessions", "tasks", "oracle"):
            p = root / f"{name}.parquet"
            if name == "oracle" and not p.is_file():
                tables[name] = None
                continue
            try:
                tables[name] = pd.read_parquet(p)
            except Exception as e:  # pyarrow raises several types for corrupt files
                raise InvalidCohort(f"{p}: cannot read parquet ({type(e).__name__}: {e}). Fix: "
                                    "rewrite it with clef.cohort_build.write_cohort") from e
        meta = validate_meta(meta)
        sessions = _fill_optional(validate_sessions(tables["sessions"]), SESSION_COLUMNS)
        tasks = validate_tasks(tables["tasks"], sessions)
        tasks = _fill_optional(tasks, TASK_COLUMNS).astype({"label": "int8", "held_out": bool})
        return cls(root, meta, sessions, tasks, tables["oracle"])

    def __len__(self) -> int:
        return len(self.sessions)

    def __repr__(self) -> str:
        return (f"Cohort({self.root}, kind={self.meta['kind']}, {len(self.sessions)} sessions, "
                f"{self.tasks['task'].nunique()} tasks)")

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    def labels(self) -> pd.DataFrame:
        """Wide labels: index session_id (all sessions), one nullable Int8 column per task."""
        wide = self.tasks.pivot(index="session_id", columns="task", values="label")
        wide = wide.reindex(self.sessions["session_id"]).astype("Int8")
        wide.columns.name = None
        wide.index.name = "session_id"
        return wide

    def task_info(self) -> pd.DataFrame:
        """One row per task: task, category, held_out, concept, n_labeled, n_positive."""
        g = self.tasks.groupby("task", sort=True)
        info = g.agg(category=("category", "first"), held_out=("held_out", "first"),
                     concept=("concept", "first"), n_labeled=("label", "size"),
                     n_positive=("label", "sum")).reset_index()
        return info.astype({"n_labeled": "int64", "n_positive": "int64"})

    def row(self, session_id: str) -> pd.Series:
        """The sessions-table row of one session."""
        try:
            return self.sessions.iloc[self._row[session_id]]
        except KeyError:
            raise InvalidCohort(f"{self.root}: no session {session_id!r}. Fix: use one of "
                                "cohort.sessions['session_id']") from None

    def recording_path(self, session_id: str) -> Path | None:
        """Absolute path of a session's recording, or None when it has none."""
        p = self.row(session_id)["path"]
        return None if _is_null(p) else (self.root / p)

    def session(self, session_id: str, *, sfreq: float | None = 200.0,
                montage: str = "average", **options) -> Session:
        """Load one session through the clef.io pipeline.

        Parameters
        ----------
        session_id : str
        sfreq, montage, **options
            Passed to :func:`clef.io.read_session` / :func:`clef.io.preprocess`.

        Returns
        -------
        Session
            ``meta`` gains ``session_id``, ``patient_id`` and ``site``.

        Raises
        ------
        InvalidCohort
            Unknown session, or no recording in a non-synthetic cohort.
        clef.errors.InvalidRecording
            The recording cannot be used.
        """
        from clef.io import preprocess, read_session

        row = self.row(session_id)
        path = self.recording_path(session_id)
        if path is not None:
            sess = read_session(path, sfreq=sfreq, montage=montage, **options)
        elif self.kind == "synthetic":
            raw = synthetic_generator(self.meta).regenerate_session(self.meta["seed"], session_id)
            sess = preprocess(raw, sfreq=sfreq, montage=montage, **options)
        else:
            raise InvalidCohort(f"{self.root}: session {session_id!r} has no recording path and "
                                "the cohort is not synthetic. Fix: fill its `path` column")
        sess.meta.update(session_id=session_id, patient_id=row["patient_id"], site=row["site"])
        return sess


# A synthetic cohort names its generator in cohort.json ("generator_version": "<module>/<n>", e.g.
# "clef.synth/1"); that module provides regenerate_session(seed, session_id). It is looked up when
# a recording is needed, so the cohort layer does not depend on the generator package.
DEFAULT_GENERATOR = "clef.synth"  # cohorts written before generator names were recorded


def synthetic_generator(meta: dict):
    """The generator module that can regenerate a synthetic cohort's recordings.

    Parameters
    ----------
    meta : dict
        The cohort's ``cohort.json``; ``generator_version`` "<module>/<version>" names a ``clef``
        module (others fall back to ``DEFAULT_GENERATOR``).

    Returns
    -------
    module
        Has ``regenerate_session(seed, session_id) -> Session``.

    Raises
    ------
    InvalidCohort
        The named module cannot regenerate sessions.
    """
    import importlib
    import re

    name = str(meta.get("generator_version") or "").split("/")[0]
    if not re.fullmatch(r"clef(\.[a-z_][a-z0-9_]*)+", name):
        name = DEFAULT_GENERATOR
    module = importlib.import_module(name)
    if not callable(getattr(module, "regenerate_session", None)):
        raise InvalidCohort(f"cohort.json names generator {name!r}, which has no "
                            "regenerate_session(seed, session_id). Fix: set generator_version to "
                            f"'{DEFAULT_GENERATOR}/1' or give the sessions recording paths")
    return module
