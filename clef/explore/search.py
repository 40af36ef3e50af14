"""Concept search: example queries, filters (names or codes), hybrid results, evidence lines, held-out
AUROC against the task a query names, trust messages, neighbours, figures."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clef.errors import InvalidQuery
from clef.explore.cohort_map import WEBGL_MIN
from clef.explore.profile import explode_lists
from clef.vocabulary import DRUG_CLASSES, diagnosis_codes

WORKSHOP_QUERIES = (
    "left temporal sharp waves", "benzodiazepine effect", "generalized slowing",
    "burst suppression", "3 Hz spike-and-wave", "triphasic waves", "sleep spindles",
    "excess beta activity", "normal EEG",
)


def example_queries() -> list[str]:
    """Workshop example queries."""
    return list(WORKSHOP_QUERIES)


CLASS_SUFFIX = " (class)"  # medication-filter options that stand for a drug class
HEADING_CHARS = 80


def filter_choices(sessions: pd.DataFrame) -> dict:
    """Values offered by the metadata filters: site/sex/setting levels, age range, medications
    (the cohort's drugs, then drug classes as "benzodiazepine (class)")."""
    def levels(col):
        return sorted(sessions[col].dropna().astype(str).unique()) if col in sessions else []

    ages = pd.to_numeric(sessions.get("age", pd.Series(dtype=float)), errors="coerce").dropna()
    lo, hi = (int(np.floor(ages.min())), int(np.ceil(ages.max()))) if len(ages) else (0, 100)
    meds: list[str] = []
    if "medications" in sessions:
        _, items = explode_lists(sessions, ["medications"])["medications"]
        meds = sorted(set(items.tolist()))
    meds += [f"{c}{CLASS_SUFFIX}" for c in DRUG_CLASSES]
    return {"site": levels("site"), "sex": levels("sex"), "setting": levels("setting"),
            "age": (lo, max(hi, lo + 1)), "medications": meds}


_ICD = re.compile(r"^[A-Za-z]\d[\dA-Za-z.?]*$")


def _code_prefixes(pattern: str) -> list[str]:
    """An ICD-10 pattern as prefixes ("G40.?01" -> "G40.001" ... "G40.901")."""
    p = pattern.upper()
    if "?" not in p:
        return [p]
    i = p.index("?")
    return [q for d in "0123456789" for q in _code_prefixes(p[:i] + d + p[i + 1:])]


def diagnosis_prefixes(text: str) -> list[str]:
    """ICD-10 prefixes for a diagnosis filter typed as codes and/or names, comma-separated.

    Parameters
    ----------
    text : str
        E.g. "G40", "epilepsy, stroke", "TLE".

    Returns
    -------
    list of str

    Raises
    ------
    InvalidQuery
        A name that is neither a code nor a known diagnosis.
    """
    out: list[str] = []
    for item in (t.strip() for t in str(text or "").split(",")):
        if not item:
            continue
        codes = (item,) if _ICD.match(item) else diagnosis_codes(item)
        if not codes:
            raise InvalidQuery(f"unknown diagnosis {item!r}. Fix: type an ICD-10 code (e.g. "
                               "G40) or a name such as 'epilepsy', 'stroke', 'dementia', "
                               "'encephalopathy'.")
        for c in codes:
            out += _code_prefixes(c)
    return list(dict.fromkeys(out))


def medication_names(items) -> list[str]:
    """Medication-filter choices as generic names ("benzodiazepine (class)" -> its drugs)."""
    out: list[str] = []
    for m in items:
        m = str(m)
        if m.endswith(CLASS_SUFFIX):
            out += list(DRUG_CLASSES.get(m[: -len(CLASS_SUFFIX)], ()))
        else:
            out.append(m)
    return list(dict.fromkeys(out))


def build_filters(*, site=(), sex=(), setting=(), age=None, full_age=None, diagnosis="",
                  medication=()) -> dict:
    """Keyword filters for ``SessionIndex`` searches, leaving out the ones not in use.

    ``diagnosis`` takes ICD-10 codes or names ("epilepsy" -> G40, G41); ``medication`` takes
    generic names or classes ("benzodiazepine (class)"). ``InvalidQuery`` for an unknown name.
    """
    f: dict = {}
    for name, value in (("site", site), ("sex", sex), ("setting", setting)):
        if value:
            f[name] = list(value)
    if medication:
        f["medication"] = medication_names(medication)
    if age is not None and full_age is not None and tuple(age) != tuple(full_age):
        f["age"] = (float(age[0]), float(age[1]))
    if diagnosis and diagnosis.strip():
        f["diagnosis"] = diagnosis_prefixes(diagnosis)
    return f


def short_heading(text: str, limit: int = HEADING_CHARS) -> str:
    """A query shortened for a heading (whole words, an ellipsis when cut)."""
    t = " ".join(str(text or "").split())
    if len(t) <= limit:
        return t
    cut = t[:limit].rsplit(" ", 1)[0] if " " in t[:limit] else t[:limit]
    return cut.rstrip(" ,;.") + "…"


@dataclass
class QueryEvaluation:
    """A concept query checked against the task it names (by name, synonym or abbreviation).

    ``positives`` is aligned with the session table: 1, 0, or -1 for unlabelled (None without a
    task); for a query asking for absence ("normal EEG", "no LPDs") the task's labels are
    flipped. ``auroc`` uses held-out sessions only (``split == "test"``) when the cohort has
    them (``held_out`` True), else every labelled session.
    """

    task: str | None = None
    positives: np.ndarray | None = None
    auroc: float = float("nan")
    n_pos: int = 0
    n_neg: int = 0
    inverted: bool = False
    held_out: bool = False
    phrase: str = ""

    @property
    def label(self) -> str:
        """What the AUROC is measured on, for the page."""
        if self.task is None:
            return ""
        what = "held-out sessions (test split)" if self.held_out else "all labelled sessions"
        return f"AUROC vs {'not ' if self.inverted else ''}`{self.task}` on {what}"


def query_evaluation(query: str, scores: np.ndarray, sessions: pd.DataFrame,
                     labels: pd.DataFrame | None, task_info: pd.DataFrame | None
                     ) -> QueryEvaluation:
    """AUROC of concept scores against the labels of the task the query names, if any
    (:func:`clef.search.match_query_task`), on held-out sessions when the cohort has a split."""
    from clef.search import auroc_on, match_query_task

    if labels is None or task_info is None or len(task_info) == 0:
        return QueryEvaluation()
    m = match_query_task(query, task_info)
    if m.task is None or m.task not in labels.columns:
        return QueryEvaluation()
    y = labels[m.task].reindex(sessions["session_id"].astype(str).to_numpy())
    pos = y.astype("Float64").fillna(-1).to_numpy(dtype=float).astype(np.int8)
    if m.inverted:
        pos = np.where(pos >= 0, 1 - pos, -1).astype(np.int8)
    split = sessions["split"].astype(str).to_numpy() if "split" in sessions else None
    held = split is not None and bool((split == "test").any())
    a, n_pos, n_neg = auroc_on(scores, pos, (split == "test") if held else None)
    return QueryEvaluation(m.task, pos, a, n_pos, n_neg, m.inverted, held, m.phrase)


RESULT_COLUMNS = ("rank", "session_id", "found by", "report rank", "EEG rank", "EEG percentile",
                  "age", "sex", "site", "diagnoses", "findings")
SEARCH_MODES = {"fused": "Report + EEG (fused)", "eeg": "EEG only", "report": "Report only"}


def hybrid_results(eeg_scores: np.ndarray, report_scores: np.ndarray, sessions: pd.DataFrame, *,
                   k: int = 20, mask: np.ndarray | None = None, mode: str = "fused"
                   ) -> pd.DataFrame:
    """Ranked sessions from the EEG, the reports, or both (:func:`clef.search.fuse`).

    Parameters
    ----------
    eeg_scores, report_scores : np.ndarray
        (n,) in ``sessions`` row order. Both rank columns are kept in every mode (a report hit
        shows where the EEG put it, and the reverse); ``source`` says which best-100 lists hold
        the session.
    sessions : pd.DataFrame
        Session metadata (``session_id``, ``report``, ...).
    k : int
    mask : np.ndarray of bool, optional
        Sessions allowed by the filters.
    mode : {"fused", "eeg", "report"}

    Returns
    -------
    pd.DataFrame
        :func:`clef.search.fuse` columns, then every session column (the full report included).
    """
    from clef.search import fuse

    if mode not in SEARCH_MODES:
        raise InvalidQuery(f"search mode {mode!r} is not one of {list(SEARCH_MODES)}.")
    eeg = np.asarray(eeg_scores, dtype=np.float64)
    depth = max(100, int(k))
    fused = fuse(eeg, report_scores, sessions["session_id"], k=len(eeg), mask=mask,
                 depth=depth)
    if mode == "eeg":
        fused = fused[fused["eeg_rank"] > 0].sort_values("eeg_rank", kind="stable")
    elif mode == "report":
        fused = fused[fused["report_rank"] > 0].sort_values("report_rank", kind="stable")
    fused = fused.head(int(k)).reset_index(drop=True)
    fused["rank"] = np.arange(1, len(fused) + 1)
    meta = sessions.iloc[fused["row"].to_numpy()].reset_index(drop=True)
    return pd.concat([fused, meta.drop(columns=["session_id"], errors="ignore")], axis=1)


def findings_text(report, chars: int = 220) -> str:
    """A report's findings and impression (statements joined), shortened for a table cell."""
    from clef.text.statements import split_statements

    text = " ".join(s.text for s in split_statements(report))
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " …"


def results_table(results: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`hybrid_results` for ``st.dataframe``: which source found each session and
    at which rank, the EEG percentile (not a raw cosine), demographics, findings excerpt."""
    out = pd.DataFrame({
        "rank": results["rank"].to_numpy(), "session_id": results["session_id"].to_numpy(),
        "found by": results["source"].to_numpy(),
        "report rank": results["report_rank"].replace(0, np.nan).astype("Int64"),
        "EEG rank": results["eeg_rank"].replace(0, np.nan).astype("Int64"),
        "EEG percentile": results["eeg_percentile"].to_numpy()})
    for c in ("age", "sex", "site"):
        if c in results:
            out[c] = results[c].to_numpy()
    if "age" in out:
        out["age"] = pd.to_numeric(out["age"], errors="coerce").round(1)
    if "diagnoses" in results:
        out["diagnoses"] = [("; ".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray))
                             else "" if v is None else str(v)) for v in results["diagnoses"]]
    out["findings"] = [findings_text(r) for r in results.get("report", [None] * len(out))]
    return out.reset_index(drop=True)


def evidence_markdown(evidence: pd.DataFrame) -> list[str]:
    """Markdown lines of :func:`clef.search.statement_evidence`: matching affirmed statements
    highlighted (check icon, "affirmed"), matching negated ones struck through (block icon,
    "negated"), hedged ones tagged, the rest plain. Icons are Streamlit's bundled Material
    symbols, which render without an emoji font."""
    lines = []
    for r in evidence.itertuples(index=False):
        text = str(r.text).replace("[", "(").replace("]", ")")
        hedge = " *(hedged)*" if r.certainty == "hedged" else ""
        sec = f"`{r.section}` " if r.section else ""
        if r.match and r.polarity == "negated":
            lines.append(f"{sec}:red-background[:material/block: negated: ~~{text}~~]{hedge}")
        elif r.match:
            lines.append(f"{sec}:green-background[:material/check_circle: affirmed: **{text}**]{hedge}")
        else:
            lines.append(f"{sec}:gray[{text}]{hedge}")
    return lines


def trust_message(strength, n_report_hits: int, known: bool = True
                  ) -> tuple[str | None, str]:
    """What the page says about a query's scores: ("warning", …) for no good match, ("info", …)
    when only the reports carry it, (None, …) otherwise.

    Parameters
    ----------
    strength : clef.search.MatchStrength
    n_report_hits : int
        Sessions whose report matches the query (under the filters).
    known : bool
        Whether any query word is a clinical term (:func:`clef.search.is_known_query`).
    """
    beat = (f"its best 10 sessions score {strength.statistic:.3f} above the cohort median "
            f"(mean cosine), beating "
            f"{strength.null_percentile:.0f}% of unrelated texts (threshold "
            f"{strength.null_threshold:.3f})")
    if not known and n_report_hits == 0:
        return "warning", ("No good match: none of these words appears in any report or in "
                           f"clef's clinical vocabulary, so the EEG ranking below means nothing "
                           f"({beat}). Fix: describe a finding, e.g. 'generalized slowing'.")
    if strength.beats_null:
        return None, f"EEG match: {beat}."
    if n_report_hits == 0:
        return "warning", (f"No good match: no report uses these words, and the EEG model scores "
                           f"this query no better than unrelated text ({beat}). The list below "
                           "is what the EEG ranks first, not evidence of the concept.")
    return "info", (f"The EEG model scores this query no better than unrelated text ({beat}); "
                    f"{n_report_hits} reports match it, so trust the report rank column.")


def neighbours(index, model, *, k: int = 10, session_id: str | None = None, vector=None,
               steer_text: str = "", steer_weight: float = 0.5
               ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Nearest sessions of a stored session or a vector, plain and (optionally) steered.

    Parameters
    ----------
    index : clef.index.SessionIndex
    model : clef.model.CLEFModel
        For the steering concept's text embedding.
    k : int
    session_id : str, optional
        A stored session (excluded from its own results).
    vector : array (D,), optional
        Used when ``session_id`` is None (e.g. an upload).
    steer_text : str
        "like this one, but with (weight > 0) / without (weight < 0) <concept>"; empty: none.
    steer_weight : float

    Returns
    -------
    plain, steered : pd.DataFrame, pd.DataFrame or None
    """
    from clef.index import steer

    if session_id is not None:
        plain = index.by_session(session_id, k)
        base, exclude = index.vector(session_id), (session_id,)
    elif vector is not None:
        base, exclude = np.asarray(vector, dtype=np.float32), ()
        plain = index.by_vector(base, k)
    else:
        raise InvalidQuery("no session chosen. Fix: pick a session id or upload a recording.")
    if not steer_text or not steer_text.strip():
        return plain, None
    v = steer(base, steer_text.strip(), steer_weight, model)
    return plain, index.by_vector(v, k, exclude=exclude)


def score_histogram(scores: np.ndarray, positives: np.ndarray | None = None,
                    title: str = "", bins: int = 40) -> go.Figure:
    """Histogram of concept scores (binned here: the browser gets ``bins`` bars, not every score),
    split into task positives vs the rest when labels exist."""
    scores = np.asarray(scores, dtype=float)
    edges = np.histogram_bin_edges(scores[np.isfinite(scores)], bins=bins)
    mids, width = (edges[:-1] + edges[1:]) / 2, float(edges[1] - edges[0])
    fig = go.Figure()
    groups = ([("all", np.ones(len(scores), bool), "#4062bb")] if positives is None else
              [("positive", np.asarray(positives) == 1, "crimson"),
               ("rest", np.asarray(positives) == 0, "#4062bb")])
    for name, m, colour in groups:
        counts, _ = np.histogram(scores[m], bins=edges)
        fig.add_trace(go.Bar(x=mids, y=counts, width=width, name=name, marker_color=colour,
                             opacity=0.65 if positives is not None else 1.0,
                             hovertemplate="%{x:.3f}: %{y} sessions<extra>" + name + "</extra>"))
    fig.update_layout(barmode="overlay", bargap=0, height=260, title=title,
                      margin={"l": 40, "r": 10, "t": 30, "b": 40},
                      xaxis_title="cosine similarity", yaxis_title="sessions")
    return fig


def two_query_figure(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str,
                     color: pd.Series | None = None, hover: np.ndarray | None = None, *,
                     max_points: int = 5000, seed: int = 0) -> go.Figure:
    """Scatter of two concept scores per session (a random ``max_points`` subsample above that;
    the correlation in the title uses every session)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = len(a)
    rows = (np.arange(n) if n <= max_points else
            np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False)))
    scatter = go.Scattergl if len(rows) >= WEBGL_MIN else go.Scatter
    codes = None if color is None else pd.factorize(pd.Series(color).astype(str))[0][rows]
    fig = go.Figure(scatter(
        x=a[rows], y=b[rows], mode="markers", customdata=rows,
        text=None if hover is None else np.asarray(hover)[rows],
        hovertemplate=("%{text}<br>" if hover is not None else "") + "x %{x:.3f} · y %{y:.3f}"
        "<extra></extra>",
        marker={"size": 5, "opacity": 0.7, "color": codes, "colorscale": "Turbo"}))
    r = float(np.corrcoef(a, b)[0, 1]) if n > 2 else float("nan")
    shown = f" · {len(rows):,} of {n:,} shown" if len(rows) < n else ""
    fig.update_layout(height=420, margin={"l": 50, "r": 10, "t": 40, "b": 50}, xaxis_title=name_a,
                      yaxis_title=name_b, title=f"Pearson r = {r:.2f}{shown}")
    return fig


def check_query(text: str) -> str:
    """Strip a free-text query; raise ``InvalidQuery`` when empty."""
    q = (text or "").strip()
    if not q:
        raise InvalidQuery("empty concept query. Fix: type a phrase such as "
                           "'left temporal sharp waves'.")
    return q
