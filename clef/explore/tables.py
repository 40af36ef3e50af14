"""Session tables for display and export (st.dataframe rows, CSV, EHR fields)."""
from __future__ import annotations

import numpy as np
import pandas as pd


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
        out["report"] = out["report"].fillna("").astype(str).str.replace(r"\s+", " ", regex=True) \
            .str.slice(0, report_chars)
    if "score" in out.columns:
        out["score"] = out["score"].astype(float).round(4)
    if "age" in out.columns:
        out["age"] = pd.to_numeric(out["age"], errors="coerce").round(1)
    return out.reset_index(drop=True)


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV (UTF-8) of a session table; list columns joined with ';', coordinates kept."""
    out = df.copy()
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            out[c] = out[c].map(_join)
    return out.to_csv(index=False).encode("utf-8")


def ehr_table(row: pd.Series) -> pd.DataFrame:
    """Field/value rows of one session's demographics and EHR (lists joined)."""
    fields = ("session_id", "patient_id", "site", "age", "sex", "setting", "duration_s",
              "diagnoses", "medications", "split")
    rows = [(f, _join(row[f])) for f in fields if f in row.index]
    return pd.DataFrame(rows, columns=["field", "value"])
