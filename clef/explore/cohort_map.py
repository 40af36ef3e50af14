"""Cohort map figure, map selections (box, lasso, clicks) and colour choices."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

DENSITY_THRESHOLD = 20_000  # points above which the map shows binned density (+ a subsample)
UNSELECTED = {"marker": {"color": "#c8c8c8", "opacity": 0.3}}  # points outside a selection: grey
WEBGL_MIN = 2_000  # WebGL (Scattergl) from this many points; SVG below draws faster (measured)
MAX_CATEGORIES = 12  # categorical colours beyond this are lumped into "other"
CATEGORY_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                    "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#e7969c")  # D3 category10 + 2


def hover_text(sessions: pd.DataFrame, max_report: int = 90) -> np.ndarray:
    """One-line HTML hover summary per session (id, age, sex, site, diagnoses, report start)."""
    def col(name, default=""):
        return sessions[name] if name in sessions.columns else pd.Series(default, sessions.index)

    def join(v):
        return ", ".join(map(str, v[:4])) if isinstance(v, (list, tuple, np.ndarray)) else ""

    age = pd.to_numeric(col("age", np.nan), errors="coerce").round(0).astype("Int64").astype(str)
    rep = col("report").fillna("").astype(str).str.slice(0, max_report)
    txt = ("<b>" + col("session_id").astype(str) + "</b> · " + age + " y · "
           + col("sex").fillna("?").astype(str) + " · site " + col("site").fillna("?").astype(str)
           + "<br>dx: " + col("diagnoses").map(join) + "<br>meds: " + col("medications").map(join)
           + "<br><i>" + rep + "</i>")
    return txt.to_numpy()


def _is_continuous(values: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            and values.nunique(dropna=True) > MAX_CATEGORIES)


def _add_category_traces(fig: go.Figure, scatter, x: np.ndarray, y: np.ndarray, rows: np.ndarray,
                         color: pd.Series, hv: np.ndarray | None, tip: str,
                         marker_size: int) -> None:
    """One scatter trace per colour level (the ``MAX_CATEGORIES`` commonest; the rest "other",
    grey), in descending frequency, for :func:`map_figure`. ``rows`` are the drawn points."""
    lab = color.astype("string").fillna("n/a").to_numpy(dtype=object)
    counts = pd.Series(lab).value_counts()
    keep = set(counts.index[:MAX_CATEGORIES])
    lab = np.where(pd.Series(lab).isin(keep).to_numpy(), lab, "other")
    lab_rows = lab[rows]
    order = list(counts.index[:MAX_CATEGORIES]) + (["other"] if len(counts) > MAX_CATEGORIES
                                                   else [])
    for i, level in enumerate(order):
        m = lab_rows == level
        if not m.any():
            continue
        r = rows[m]
        grey = level in ("other", "n/a", "unlabelled")
        colour = "#b0b0b0" if grey else CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
        fig.add_trace(scatter(
            x=x[r], y=y[r], mode="markers", customdata=r, name=f"{level}",
            text=hv[m] if hv is not None else None,
            hovertemplate=tip + "<extra>" + str(level) + "</extra>",
            marker={"size": marker_size, "opacity": 0.75, "color": colour},
            unselected=UNSELECTED))


def map_figure(coords: pd.DataFrame, *, color: pd.Series | None = None, color_name: str = "",
               hover: np.ndarray | None = None, highlight: np.ndarray | None = None,
               density_threshold: int = DENSITY_THRESHOLD, mode: str = "auto",
               bins: int = 200, sample: int = 5000, seed: int = 0,
               extra_points: pd.DataFrame | None = None,
               highlight_name: str = "highlighted", webgl_min: int = WEBGL_MIN) -> go.Figure:
    """Cohort map: WebGL scatter, or binned density with a selectable subsample for big cohorts.

    Parameters
    ----------
    coords : pd.DataFrame
        Columns ``x``, ``y`` (one row per session, same order as ``color`` / ``hover``).
    color : pd.Series, optional
        Values to colour by; numeric with many levels -> continuous colour scale, else categories.
    hover : np.ndarray of str, optional
        Hover text per point.
    highlight : np.ndarray of bool, optional
        Points drawn on top with a ring (e.g. a search result or selection).
    density_threshold : int
        ``mode="auto"`` switches to density above this many points.
    mode : {"auto", "scatter", "density"}
    bins, sample, seed :
        Density grid size, size of the selectable subsample, its RNG seed.
    extra_points : pd.DataFrame, optional
        Columns ``x``, ``y``, ``label``: points added as stars (e.g. an uploaded recording).
    highlight_name : str
        Legend name of the highlighted points.
    webgl_min : int
        Drawn points from which the scatter uses WebGL (``Scattergl``); SVG below.

    Returns
    -------
    go.Figure
        Every scatter point carries ``customdata`` = its row position in ``coords``; box/lasso
        selections are resolved over all points with :func:`selected_rows`. Rows without
        coordinates (NaN: not on the map) are left out.
    """
    if mode not in ("auto", "scatter", "density"):
        raise ValueError(f"mode={mode!r}: use 'auto', 'scatter' or 'density'.")
    n = len(coords)
    x = coords["x"].to_numpy(np.float32)
    y = coords["y"].to_numpy(np.float32)
    rows = np.flatnonzero(np.isfinite(x) & np.isfinite(y))  # sessions placed on the map
    dense = mode == "density" or (mode == "auto" and len(rows) > density_threshold)
    fig = go.Figure()
    if dense and len(rows):
        h, xe, ye = np.histogram2d(x[rows], y[rows], bins=bins)
        z = np.where(h.T > 0, np.log10(h.T + 1), np.nan)  # (bins_y, bins_x)
        fig.add_trace(go.Heatmap(x=(xe[:-1] + xe[1:]) / 2, y=(ye[:-1] + ye[1:]) / 2, z=z,
                                 colorscale="Blues", showscale=False, hoverinfo="skip",
                                 name="density"))
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(rows, size=min(sample, len(rows)), replace=False))
    marker_size = 6 if n < 2000 else (4 if n < 20000 else 3)
    scatter = go.Scattergl if len(rows) >= webgl_min else go.Scatter
    hv = hover[rows] if hover is not None else None
    tip = "%{text}" if hv is not None else "session %{customdata}"
    if color is None:
        fig.add_trace(scatter(x=x[rows], y=y[rows], mode="markers", customdata=rows, text=hv,
                              hovertemplate=tip + "<extra></extra>", name="sessions",
                              marker={"size": marker_size, "color": "#4062bb", "opacity": 0.7},
                              showlegend=False, unselected=UNSELECTED))
    elif _is_continuous(color):
        cv = pd.to_numeric(color, errors="coerce").to_numpy(float)
        fig.add_trace(scatter(
            x=x[rows], y=y[rows], mode="markers", customdata=rows, text=hv,
            hovertemplate=tip + "<br>" + color_name + ": %{marker.color:.3g}<extra></extra>",
            marker={"size": marker_size, "color": cv[rows], "colorscale": "Viridis",
                    "showscale": True, "opacity": 0.8,
                    "colorbar": {"title": color_name[:20], "thickness": 12}},
            name=color_name, showlegend=False, unselected=UNSELECTED))
    else:
        _add_category_traces(fig, scatter, x, y, rows, color, hv, tip, marker_size)
        fig.update_layout(legend={"title": color_name, "itemsizing": "constant"})
    if highlight is not None and np.any(highlight):
        hr = np.flatnonzero(highlight)
        fig.add_trace(scatter(x=x[hr], y=y[hr], mode="markers", customdata=hr,
                              name=highlight_name, hoverinfo="skip",
                              marker={"size": marker_size + 6, "color": "rgba(0,0,0,0)",
                                      "line": {"width": 2, "color": "crimson"}}))
    if extra_points is not None and len(extra_points):
        fig.add_trace(go.Scatter(x=extra_points["x"], y=extra_points["y"], mode="markers+text",
                                 text=extra_points["label"], textposition="top center",
                                 marker={"symbol": "star", "size": 18, "color": "gold",
                                         "line": {"width": 1, "color": "black"}},
                                 name="upload", hoverinfo="text"))
    fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 30, "b": 10}, dragmode="lasso",
                      xaxis={"showticklabels": False, "title": "", "zeroline": False},
                      yaxis={"showticklabels": False, "title": "", "zeroline": False},
                      title=f"{n:,} sessions" + (" (density; subsample shown)" if dense else ""),
                      uirevision="map")
    return fig


def with_selection(fig: go.Figure, rows) -> go.Figure:
    """A copy of a :func:`map_figure` with ``rows`` drawn selected and every other point grey.

    For a selection restored from a link or Back (the chart itself holds none). Only traces
    whose ``customdata`` are row positions (the session points) are touched.
    """
    rows = np.asarray(rows, dtype=np.int64)
    out = go.Figure(fig)
    for tr in out.data:
        cd = getattr(tr, "customdata", None)
        if cd is None or getattr(tr, "name", "") in ("density",):
            continue
        cd = np.asarray(cd).reshape(len(cd), -1)[:, 0].astype(np.int64)
        tr.selectedpoints = np.flatnonzero(np.isin(cd, rows)).tolist()
        if getattr(tr, "unselected", None) is not None:
            tr.unselected = UNSELECTED
    return out


def _points_in_polygon(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Even-odd ray casting, vectorised over points. px/py: polygon vertices."""
    inside = np.zeros(x.shape, dtype=bool)
    j = len(px) - 1
    for i in range(len(px)):
        xi, yi, xj, yj = px[i], py[i], px[j], py[j]
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < xint)
        j = i
    return inside


def selected_rows(coords: pd.DataFrame, selection) -> np.ndarray:
    """Row positions in ``coords`` selected on a :func:`map_figure`.

    Box and lasso geometries are applied to every point (so density mode selects all sessions under
    the shape, not only the drawn subsample); plain clicks use the points' ``customdata``.

    Parameters
    ----------
    coords : pd.DataFrame
        Columns ``x``, ``y``.
    selection : dict
        Streamlit's plotly selection state (``points``, ``box``, ``lasso``).

    Returns
    -------
    np.ndarray
        int, sorted unique row positions.
    """
    if not selection:
        return np.zeros(0, dtype=np.int64)
    x = coords["x"].to_numpy(float)
    y = coords["y"].to_numpy(float)
    mask = np.zeros(len(coords), dtype=bool)
    shapes = 0
    for box in selection.get("box") or []:
        bx, by = box.get("x") or [], box.get("y") or []
        if len(bx) >= 2 and len(by) >= 2:
            mask |= ((x >= min(bx)) & (x <= max(bx)) & (y >= min(by)) & (y <= max(by)))
            shapes += 1
    for las in selection.get("lasso") or []:
        lx, ly = np.asarray(las.get("x") or [], float), np.asarray(las.get("y") or [], float)
        if len(lx) >= 3:
            mask |= _points_in_polygon(x, y, lx, ly)
            shapes += 1
    if not shapes:
        for p in selection.get("points") or []:
            cd = p.get("customdata")
            if isinstance(cd, (list, tuple)):
                cd = cd[0] if cd else None
            if cd is not None and 0 <= int(cd) < len(coords):
                mask[int(cd)] = True
    return np.flatnonzero(mask)


#: Columns that are not colours: ids, coordinates, free text, lists, and acquisition details that
#: say nothing about the patient (``sfreq``, the row index).
NOT_COLOURS = frozenset({"session_id", "patient_id", "path", "report", "diagnoses", "medications",
                         "diagnosis_names", "x", "y", "session_index", "sfreq", "split"})


def color_options(sessions: pd.DataFrame, labels: pd.DataFrame | None = None) -> dict[str, str]:
    """Colour-by choices: ``{display name: source}`` where source is ``meta:<col>`` or ``task:<t>``.

    Scalar metadata columns that describe a patient or session first (:data:`NOT_COLOURS`, lists
    and single-valued columns excluded), then task labels.
    """
    out: dict[str, str] = {}
    for c in sessions.columns:
        if c in NOT_COLOURS:
            continue
        s = sessions[c]
        if s.dtype == object:  # list-valued columns are not colours (first values decide)
            head = s.dropna().head(50)
            if head.map(lambda v: isinstance(v, (list, tuple, np.ndarray, dict))).any():
                continue
        if s.head(20_000).nunique(dropna=True) < 2:
            continue  # one value everywhere colours nothing
        out[c] = f"meta:{c}"
    if labels is not None:
        for t in labels.columns:
            out[f"task: {t}"] = f"task:{t}"
    return out


def color_values(source: str, sessions: pd.DataFrame, labels: pd.DataFrame | None) -> pd.Series:
    """Values for a :func:`color_options` source, aligned with ``sessions`` rows."""
    kind, _, name = source.partition(":")
    if kind == "meta":
        return sessions[name].reset_index(drop=True)
    if kind == "task" and labels is not None:
        v = labels[name].reindex(sessions["session_id"].to_numpy())
        return v.map({1: "positive", 0: "negative"}).astype("string").fillna("unlabelled") \
            .reset_index(drop=True)
    raise ValueError(f"unknown colour source {source!r}. Fix: pick one from color_options().")


def session_table(sessions: pd.DataFrame, coords: pd.DataFrame | None = None) -> pd.DataFrame:
    """Session metadata (row order kept) joined with map coordinates ``x``, ``y`` by session_id.

    Sessions missing from the map get NaN coordinates.
    """
    out = sessions.reset_index(drop=True).copy()
    out["session_id"] = out["session_id"].astype(str)
    if coords is not None:
        c = coords[["session_id", "x", "y"]].copy()
        c["session_id"] = c["session_id"].astype(str)
        c = c.drop_duplicates("session_id").set_index("session_id")
        xy = c.reindex(out["session_id"])
        out["x"] = xy["x"].to_numpy(np.float32)
        out["y"] = xy["y"].to_numpy(np.float32)
    return out


def as_series(values, name: str = "score") -> pd.Series:
    """A 1-D array as a Series (for :func:`map_figure` colours)."""
    return pd.Series(np.asarray(values), name=name)


def rows_to_mask(rows, n: int) -> np.ndarray:
    """Boolean (n,) mask with ``rows`` set."""
    m = np.zeros(int(n), dtype=bool)
    m[np.asarray(rows, dtype=np.int64)] = True
    return m
