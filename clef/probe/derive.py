"""Derive a task table for a real cohort from its EHR columns, metadata and report text."""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from clef.errors import InvalidCohort
from clef.text.extract import ConceptExtractor
from clef.vocabulary import (
    AGGREGATE_PHRASES,
    DRUG_CLASSES,
    EPILEPTIFORM,
    NORMAL_FINDINGS,
    PHENOTYPE_TASKS,
    code_matches,
)

# One clinical vocabulary (clef.vocabulary): phenotype task -> ICD-10(-CM) code patterns,
# medication class -> generic names, finding groups and their generic report words.
PHENOTYPE_PREFIXES = PHENOTYPE_TASKS


def _is_missing(v) -> bool:
    if v is None:
        return True
    return isinstance(v, float) and np.isnan(v)


def _as_list(v) -> list[str] | None:
    """A list cell (list, array, or ';'/','-separated string) as a list of str; None when NA."""
    if _is_missing(v):
        return None
    if isinstance(v, str):
        return [s.strip() for s in re.split(r"[;,|]", v) if s.strip()]
    return [str(s).strip() for s in v if not _is_missing(s) and str(s).strip()]


def _long(session_ids, task, category, values, concept=None, held_out=False) -> pd.DataFrame:
    vals = pd.array(values, dtype="Int8")  # NA = not labelled
    keep = ~pd.isna(vals)
    return pd.DataFrame({"session_id": np.asarray(session_ids)[keep], "task": task,
                         "category": category, "held_out": bool(held_out), "concept": concept,
                         "label": np.asarray(vals[keep], dtype=np.int8)})


def derive_tasks(sessions_df: pd.DataFrame, *, extractor: ConceptExtractor | None = None,
                 min_positives: int = 1, held_out: Sequence[str] = (),
                 phenotypes: dict | None = None, drug_classes: dict | None = None,
                 findings: bool = True) -> pd.DataFrame:
    """Derive binary tasks from a sessions table (the cohort contract's ``sessions.parquet``).

    Parameters
    ----------
    sessions_df : DataFrame
        ``session_id`` plus any of ``diagnoses`` (ICD-10 codes), ``medications`` (generic names),
        ``age``, ``sex``, ``setting``, ``report``. A missing cell (None) leaves the session
        unlabelled for the tasks drawn from it; an empty list labels it negative.
    extractor : ConceptExtractor, optional
        Finding extractor for report text (default: over the ontology's findings).
    min_positives : int
        Tasks with fewer positive (or negative) sessions are dropped and listed in
        ``result.attrs["dropped"]`` (task -> reason).
    held_out : sequence of str
        Concept/task names to flag ``held_out`` (real cohorts usually have none).
    phenotypes : dict, optional
        Task -> ICD-10 code patterns (default ``clef.vocabulary.PHENOTYPE_TASKS``: prefixes,
        dots ignored, ``?`` any one character).
    drug_classes : dict, optional
        Class -> generic names (default ``clef.vocabulary.DRUG_CLASSES``).
    findings : bool
        Derive finding tasks from ``report`` (when the column exists).

    Returns
    -------
    DataFrame
        Long task table: session_id, task, category, held_out, concept, label (int8).
    """
    if "session_id" not in sessions_df.columns:
        raise InvalidCohort("sessions table lacks column 'session_id'. Fix: add it.")
    if sessions_df["session_id"].duplicated().any():
        raise InvalidCohort("sessions table has duplicate session_id values. Fix: make them "
                            "unique.")
    sid = sessions_df["session_id"].astype(str).to_numpy()
    held = set(held_out)
    parts: list[pd.DataFrame] = []
    cols = set(sessions_df.columns)

    if "diagnoses" in cols:
        parts += _phenotype_parts(sessions_df, sid, phenotypes, held)
    if "medications" in cols:
        parts += _medication_parts(sessions_df, sid, drug_classes, held)
    parts += _demographic_parts(sessions_df, sid, cols)
    if findings and "report" in cols:
        parts += _finding_parts(sessions_df, sid, extractor, held)
    if not parts:
        raise InvalidCohort("no task source found: the sessions table has none of diagnoses, "
                            "medications, age, sex, setting, report. Fix: add EHR columns or "
                            "reports, or provide tasks.parquet.")
    out = pd.concat(parts, ignore_index=True)
    counts = out.groupby("task")["label"].agg(["sum", "count"])
    dropped = {}
    for task, r in counts.iterrows():
        pos, neg = int(r["sum"]), int(r["count"] - r["sum"])
        if min(pos, neg) < min_positives:
            dropped[task] = f"{pos} positive / {neg} negative sessions (< {min_positives})"
    out = out[~out["task"].isin(dropped)].reset_index(drop=True)
    out.attrs["dropped"] = dropped
    return out


def _phenotype_parts(sessions_df, sid, phenotypes, held) -> list[pd.DataFrame]:
    """Phenotype tasks from coded diagnoses (ICD-10 patterns of clef.vocabulary)."""
    parts: list[pd.DataFrame] = []
    codes = [_as_list(v) for v in sessions_df["diagnoses"]]
    for task, patterns in (phenotypes or PHENOTYPE_TASKS).items():
        vals = [None if c is None else int(any(code_matches(x, p) for x in c for p in patterns))
                for c in codes]
        concept = None if task.endswith("_any") else task  # aggregates are no one concept
        parts.append(_long(sid, task, "phenotype", vals, concept, task in held))
    return parts


def _medication_parts(sessions_df, sid, drug_classes, held) -> list[pd.DataFrame]:
    """One task per drug, one per drug class, and antiseizure polytherapy."""
    parts: list[pd.DataFrame] = []
    meds = [_as_list(v) for v in sessions_df["medications"]]
    meds = [None if m is None else {x.lower() for x in m} for m in meds]
    names = sorted({x for m in meds if m for x in m})
    for name in names:
        task = re.sub(r"[^a-z0-9]+", "_", name).strip("_")
        vals = [None if m is None else int(name in m) for m in meds]
        parts.append(_long(sid, task, "medication", vals, task, task in held))
    classes = drug_classes or DRUG_CLASSES
    for cls, members in classes.items():
        ms = set(members)
        vals = [None if m is None else int(bool(m & ms)) for m in meds]
        parts.append(_long(sid, f"{cls}_class", "medication", vals,
                           f"{cls} medication", False))
    asm = set(classes.get("antiseizure", ()))
    vals = [None if m is None else int(len(m & asm) >= 2) for m in meds]
    parts.append(_long(sid, "asm_polytherapy", "medication", vals,
                       "two or more antiseizure medications", False))
    return parts


def _demographic_parts(sessions_df, sid, cols) -> list[pd.DataFrame]:
    """Sex, age group and setting tasks."""
    parts: list[pd.DataFrame] = []
    if "sex" in cols:
        sex = sessions_df["sex"].map(lambda v: None if _is_missing(v) else str(v).upper()[:1])
        vals = [None if s not in ("F", "M") else int(s == "F") for s in sex]
        parts.append(_long(sid, "female", "demographic", vals, "female"))
    if "age" in cols:
        age = pd.to_numeric(sessions_df["age"], errors="coerce").to_numpy(float)
        parts.append(_long(sid, "age_child", "demographic",
                           [None if np.isnan(a) else int(a < 18) for a in age], "age_child"))
        parts.append(_long(sid, "age_elderly", "demographic",
                           [None if np.isnan(a) else int(a >= 65) for a in age], "age_elderly"))
    if "setting" in cols:
        setting = sessions_df["setting"].map(lambda v: None if _is_missing(v) else str(v).lower())
        for s in ("outpatient", "emu", "icu"):
            vals = [None if _is_missing(v) else int(v == s) for v in setting]
            parts.append(_long(sid, f"setting_{s}", "demographic", vals, f"setting_{s}"))
    return parts


def _finding_parts(sessions_df, sid, extractor, held) -> list[pd.DataFrame]:
    """Finding tasks from report text (negation-aware), plus the finding-group aggregates."""
    parts: list[pd.DataFrame] = []
    ex = extractor or ConceptExtractor()
    reports = [r if not _is_missing(r) else "" for r in sessions_df["report"].tolist()]
    lab = ex.label_frame(reports, index=sid)
    has = np.array([bool(str(r).strip()) for r in reports])
    for concept in lab.columns:
        vals = [int(v) if h else None for v, h in zip(lab[concept].to_numpy(), has)]
        parts.append(_long(sid, concept, "finding", vals, concept, concept in held))
    generic = ConceptExtractor(dict(AGGREGATE_PHRASES)).label_frame(
        reports, index=sid)
    cols_ = set(lab.columns)
    agg = {
        "any_epileptiform": [c for c in EPILEPTIFORM if c in cols_],
        "focal_slowing_any": [c for c in cols_ if c.startswith("focal_slowing")],
        "abnormal_eeg": [c for c in cols_ if c not in NORMAL_FINDINGS],
    }
    for task, members in agg.items():
        pos = generic[task].to_numpy().astype(bool)
        if members:
            pos |= lab[members].to_numpy().astype(bool).any(axis=1)
        vals = [int(v) if h else None for v, h in zip(pos, has)]
        parts.append(_long(sid, task, "finding", vals, AGGREGATE_PHRASES[task][0],
                           task in held))
    return parts


def labels_wide(tasks: pd.DataFrame) -> pd.DataFrame:
    """Long task table -> wide labels (index session_id, one nullable Int8 column per task)."""
    w = tasks.pivot_table(index="session_id", columns="task", values="label", aggfunc="max")
    w.index = w.index.astype(str)
    w.columns.name = None
    return w.astype("Int8")


def task_info(tasks: pd.DataFrame) -> pd.DataFrame:
    """Long task table -> one row per task: task, category, held_out, concept."""
    cols = ["task", "category", "held_out", "concept"]
    t = tasks.copy()
    if "concept" not in t.columns:
        t["concept"] = None
    return t[cols].drop_duplicates("task").reset_index(drop=True)


def write_tasks(cohort_dir, out=None, **kwargs) -> pd.DataFrame:
    """Derive tasks for a cohort folder's ``sessions.parquet`` and write them atomically.

    Parameters
    ----------
    cohort_dir : path
        Cohort folder (``sessions.parquet`` is read; ``tasks.parquet`` need not exist yet).
    out : path, optional
        Output parquet (default ``cohort_dir/tasks.parquet``).
    **kwargs
        Passed to :func:`derive_tasks`.

    Returns
    -------
    DataFrame
        The written long task table (``attrs["dropped"]`` lists dropped tasks).
    """
    import os
    from pathlib import Path

    from clef.cohort import validate_sessions, validate_tasks

    cohort_dir = Path(cohort_dir)
    p = cohort_dir / "sessions.parquet"
    if not p.is_file():
        raise InvalidCohort(f"{cohort_dir}: missing sessions.parquet. Fix: point --cohort at a "
                            "cohort folder (see clef.cohort).")
    sessions = validate_sessions(pd.read_parquet(p))
    table = derive_tasks(sessions, **kwargs)
    dropped = table.attrs.get("dropped", {})
    table = table.astype({"label": "int8", "held_out": bool})
    validate_tasks(table, sessions)
    out = Path(out) if out is not None else cohort_dir / "tasks.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, out)
    table.attrs["dropped"] = dropped
    return table
