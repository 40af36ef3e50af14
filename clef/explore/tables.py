"""Session tables for display and export (st.dataframe rows, CSV, EHR fields)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

_MEDS_LINE = re.compile(r"MEDICATIONS?\s*:\s*([^\n]*)", re.IGNORECASE)


def _join(v, limit: int | None = None) -> str:
    if isinstance(v, (list, tuple, np.ndarray)):
        items = [str(x) for x in v]
        return "; ".join(items[:limit] + (["…"] if limit and len(items) > limit else []))
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


DISPLAY_COLUMNS = ("rank", "session_id", "score", "age", "sex", "site", "setting", "diagnoses",
                   "medications", "report")


def display_table(df: pd.DataFrame, *, compact: bool = False, report_chars: int = 160
                  ) -> pd.DataFrame:
    """Rows ready for ``st.dataframe``: key columns, lists joined, reports shortened."""
    cols = [c for c in DISPLAY_COLUMNS if c in df.columns]
    if compact:
        cols = [c for c in cols if c not in ("setting", "medications")]
    out = df[cols].copy()
    for c in ("diagnoses", "medications"):
        if c in out.columns:
            out[c] = out[c].map(lambda v: _join(v, 4))
    if "report" in out.columns:
        out["report"] = [_shorten(r, report_chars) for r in out["report"]]
    if "score" in out.columns:
        out["score"] = out["score"].astype(float).round(4)
    if "age" in out.columns:
        out["age"] = pd.to_numeric(out["age"], errors="coerce").round(1)
    return out.reset_index(drop=True)


def _shorten(report, n: int) -> str:
    """The report's first ``n`` characters, whitespace runs as one space (only as much of it is
    split as that needs: ~30x quicker than a regular expression over whole reports)."""
    text = "" if report is None or (not isinstance(report, str) and pd.isna(report)) \
        else str(report)
    short = " ".join(text[:4 * n].split())
    if len(short) < n and len(text) > 4 * n:  # the prefix was mostly whitespace
        short = " ".join(text.split())
    return short[:n]


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV (UTF-8) of a session table; list columns joined with ';', coordinates kept."""
    out = df.copy()
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            out[c] = out[c].map(_join)
    return out.to_csv(index=False).encode("utf-8")


def report_medications(report) -> list[str]:
    """Drugs named on a report's ``MEDICATIONS:`` line (:mod:`clef.vocabulary`), in order."""
    from clef.vocabulary.drugs import MEDICATION_NAMES

    m = _MEDS_LINE.search(report) if isinstance(report, str) else None
    if not m:
        return []
    line = m.group(1).lower()
    found = [(line.find(d), d) for d in MEDICATION_NAMES
             if re.search(rf"\b{re.escape(d)}\b", line)]
    return [d for _, d in sorted(found)]


def ehr_table(row: pd.Series) -> pd.DataFrame:
    """Field/value rows of one session's demographics and EHR (lists joined).

    An EHR medication list that is missing (None) reads "not recorded in the EHR", an empty one
    "none recorded"; when the report's MEDICATIONS line names drugs the EHR lacks, they are
    listed on their own row, ``medications (report)``. (In the sample cohort the EHR misses a
    medication list for 5% of sessions and each drug with some probability, as real EHR
    extracts do, while the requisition still lists them: 102 of 2,000 sessions.)
    """
    fields = ("session_id", "patient_id", "site", "age", "sex", "setting", "duration_s",
              "diagnoses", "medications", "split")
    rows = []
    for f in fields:
        if f not in row.index:
            continue
        v = row[f]
        if f == "medications" and not isinstance(v, (list, tuple, np.ndarray)):
            rows.append((f, "not recorded in the EHR"))
        elif f == "medications" and len(v) == 0:
            rows.append((f, "none recorded"))
        else:
            rows.append((f, _join(v)))
    ehr = row["medications"] if "medications" in row.index else None
    ehr = [str(m) for m in ehr] if isinstance(ehr, (list, tuple, np.ndarray)) else []
    extra = [d for d in report_medications(row.get("report")) if d not in ehr]
    if extra:
        pos = [r[0] for r in rows].index("medications") + 1 if "medications" in row.index \
            else len(rows)
        rows.insert(pos, ("medications (report)", ", ".join(extra)))
    return pd.DataFrame(rows, columns=["field", "value"])
