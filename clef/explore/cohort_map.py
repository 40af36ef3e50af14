"""Cohort map figure, map selections (box, lasso, clicks) and colour choices."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clef.explore.colours import viridis_lut

IMAGE_MIN = 1_500  # "auto" draws more points than this as an image (+ a hover grid, a sample)
IMAGE_SAMPLE = 60  # points drawn as points on an image map (to click; a lasso needs none)
HOVER_CELL_PX = 12  # an image map's hover grid: one cell per this many pixels
HOVER_GRID_LINES = 2  # lines of a session's hover text the grid keeps (id, age/sex/site; dx)
IMAGE_PX = (1200, 520)  # the image's size (width, height); Plotly stretches it over the axes
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
                         cats: tuple[np.ndarray, dict[str, str]], hv: np.ndarray | None,
                         tip: str, marker_size: int, legend_all: bool = False) -> None:
    """One scatter trace per colour level (the ``MAX_CATEGORIES`` commonest; the rest "other",
    grey), in descending frequency, for :func:`map_figure`. ``rows`` are the drawn points;
    ``cats`` is :func:`_category_levels`' answer; ``legend_all`` keeps a legend entry for levels
    none of them has (an image map's sample)."""
    levels, colours = cats
    lab_rows = levels[rows]
    for level, colour in colours.items():
        m = lab_rows == level
        if not m.any():
            if legend_all:
                fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"{level}",
                                         marker={"size": marker_size, "color": colour}))
            continue
        r = rows[m]
        fig.add_trace(scatter(
            x=x[r], y=y[r], mode="markers", customdata=r, name=f"{level}",
            text=hv[m] if hv is not None else None,
            hovertemplate=tip + "<extra>" + str(level) + "</extra>",
            marker={"size": marker_size, "opacity": 0.75, "color": colour},
            unselected=UNSELECTED))


def _category_levels(color: pd.Series) -> tuple[np.ndarray, dict[str, str]]:
    """Each point's colour level (the ``MAX_CATEGORIES`` commonest, the rest "other") and the
    levels' colours in descending frequency ("other", "n/a", "unlabelled" grey)."""
    codes, uniq = pd.factorize(color.astype("string").fillna("n/a"))  # (n,), (levels,)
    uniq = np.asarray(uniq, dtype=object)
    counts = np.bincount(codes, minlength=len(uniq))
    ranked = np.argsort(-counts, kind="stable")  # commonest first; ties in order of appearance
    kept = np.zeros(len(uniq), bool)
    kept[ranked[:MAX_CATEGORIES]] = True
    lab = np.where(kept, uniq, "other")[codes]
    order = list(uniq[ranked[:MAX_CATEGORIES]]) + (["other"] if len(uniq) > MAX_CATEGORIES
                                                   else [])
    return lab, {str(level): "#b0b0b0" if level in ("other", "n/a", "unlabelled")
                 else CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
                 for i, level in enumerate(order)}


GREY_CODE = 255  # palette index of grey points (unselected, no value)


def _point_codes(color: pd.Series | None, n: int, cats: tuple | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Each point's palette index (0 is the background) and the (256, 3) uint8 palette, so an
    image map colours every point as :func:`map_figure`'s traces do; ``cats``: the categories
    (:func:`_category_levels`), None for a continuous colouring."""
    from plotly.colors import hex_to_rgb

    palette = np.zeros((256, 3), np.uint8)
    palette[GREY_CODE] = (200, 200, 200)
    if color is None:
        palette[1] = hex_to_rgb("#4062bb")
        return np.ones(n, np.uint8), palette
    if cats is None:
        v = pd.to_numeric(color, errors="coerce").to_numpy(float)
        lo, hi = np.nanmin(v), np.nanmax(v)
        palette[1:255] = viridis_lut(254)
        with np.errstate(invalid="ignore"):
            codes = 1 + np.round((v - lo) / max(hi - lo, 1e-12) * 253)
        return np.where(np.isnan(v), GREY_CODE, codes).astype(np.uint8), palette
    levels, colours = cats
    index = {k: i + 1 for i, k in enumerate(colours)}
    for k, i in index.items():
        palette[i] = hex_to_rgb(colours[k])
    codes, uniq = pd.factorize(levels)  # each distinct level looked up once
    return np.array([index[u] for u in uniq], np.uint8)[codes], palette


def points_image(x: np.ndarray, y: np.ndarray, codes: np.ndarray, palette: np.ndarray,
                 extent: tuple, *, size: tuple[int, int] = IMAGE_PX, radius: float = 1.6,
                 alpha: float = 0.8) -> bytes:
    """Points drawn as small discs into a transparent paletted PNG (later points on top).

    Parameters
    ----------
    x, y : np.ndarray
        (n,) coordinates, finite.
    codes : np.ndarray
        (n,) uint8 palette index of each point (not 0: the background).
    palette : np.ndarray
        (256, 3) uint8 colours.
    extent : (x0, x1, y0, y1)
        The data area the image covers.
    size : (width, height)
        Pixels.
    radius : float
        Disc radius in pixels.
    alpha : float
        Opacity of a point.

    Returns
    -------
    bytes
        The PNG file.
    """
    import io

    from PIL import Image

    w, h = size
    x0, x1, y0, y1 = extent
    px = np.round((np.asarray(x, float) - x0) / max(x1 - x0, 1e-12) * (w - 1)).astype(np.int64)
    py = np.round((y1 - np.asarray(y, float)) / max(y1 - y0, 1e-12) * (h - 1)).astype(np.int64)
    img = np.zeros((h, w), np.uint8)  # (height, width) palette indices; 0 = transparent
    r = int(np.ceil(radius))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx * dx + dy * dy > radius * radius:
                continue
            qx, qy = px + dx, py + dy
            ok = (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h)
            img[qy[ok], qx[ok]] = codes[ok]  # numpy assigns in order: later points win
    out = Image.fromarray(img, "P")
    out.putpalette(np.asarray(palette, np.uint8).reshape(-1).tolist())
    buf = io.BytesIO()
    out.save(buf, "PNG", compress_level=1, transparency=bytes([0] + [round(255 * alpha)] * 255))
    return buf.getvalue()


def _add_points_image(fig: go.Figure, x: np.ndarray, y: np.ndarray, rows: np.ndarray,
                      codes: np.ndarray, palette: np.ndarray) -> tuple:
    """Every placed point (``rows``, in drawing order) as an image under the chart's traces,
    with the axes fixed to the image's extent (returned: x0, x1, y0, y1)."""
    import base64

    xs, ys = x[rows].astype(float), y[rows].astype(float)
    (x0, x1), (y0, y1) = (xs.min(), xs.max()), (ys.min(), ys.max())
    px, py = 0.03 * max(x1 - x0, 1e-6), 0.03 * max(y1 - y0, 1e-6)
    extent = (x0 - px, x1 + px, y0 - py, y1 + py)
    png = points_image(xs, ys, codes[rows], palette, extent)
    fig.add_layout_image(source="data:image/png;base64," + base64.b64encode(png).decode(),
                         xref="x", yref="y", x=extent[0], y=extent[3], sizex=extent[1] - extent[0],
                         sizey=extent[3] - extent[2], sizing="stretch", layer="below")
    fig.update_layout(xaxis={"range": list(extent[:2])}, yaxis={"range": list(extent[2:])})
    return extent


def _add_hover_grid(fig: go.Figure, x: np.ndarray, y: np.ndarray, rows: np.ndarray,
                    hover: np.ndarray, extent: tuple) -> None:
    """An invisible heatmap over an image map: hovering a spot shows its topmost session (the
    last of ``rows``, in drawing order, in that cell; :func:`_first_lines` of its hover text) and
    how many more lie there."""
    nx, ny = IMAGE_PX[0] // HOVER_CELL_PX, IMAGE_PX[1] // HOVER_CELL_PX
    x0, x1, y0, y1 = extent
    ix = np.clip(((x[rows] - x0) / (x1 - x0) * nx).astype(np.int64), 0, nx - 1)
    iy = np.clip(((y[rows] - y0) / (y1 - y0) * ny).astype(np.int64), 0, ny - 1)
    cell = pd.Series(iy * nx + ix)
    top = cell.drop_duplicates(keep="last")  # the topmost point of each cell
    count = cell.value_counts()
    more = count.reindex(top.to_numpy()).to_numpy() - 1
    text = np.full(nx * ny, "", dtype=object)
    text[top.to_numpy()] = [_first_lines(t) for t in
                            np.asarray(hover, dtype=object)[rows[top.index.to_numpy()]]]
    text[top.to_numpy()] += np.where(more > 0, [f"<br>(+{m} more here)" for m in more], "")
    z = np.full(nx * ny, np.nan, np.float32)
    z[top.to_numpy()] = 1.0
    fig.add_trace(go.Heatmap(
        x=x0 + (np.arange(nx) + 0.5) * (x1 - x0) / nx, y=y0 + (np.arange(ny) + 0.5) * (y1 - y0) / ny,
        z=z.reshape(ny, nx), text=text.reshape(ny, nx), hovertemplate="%{text}<extra></extra>",
        hoverongaps=False, opacity=0, showscale=False, name="hover"))


def _first_lines(text: str, n: int = HOVER_GRID_LINES) -> str:
    """The first ``n`` lines (``<br>``-separated) of a hover text: the grid is sent with every
    figure (~4,000 spots), so it carries the short form; the sample points carry it whole."""
    return "<br>".join(str(text).split("<br>", n)[:n])


def map_view(n_points: int, mode: str = "auto", image_min: int = IMAGE_MIN) -> str:
    """The view :func:`map_figure` draws for ``n_points`` placed sessions: ``"auto"`` resolved to
    ``"image"`` above ``image_min`` points, else ``"scatter"``; other modes as given."""
    if mode not in ("auto", "image", "scatter", "density"):
        raise ValueError(f"mode={mode!r}: use 'auto', 'image', 'scatter' or 'density'.")
    if mode != "auto":
        return mode
    return "image" if n_points > image_min else "scatter"


def map_figure(coords: pd.DataFrame, *, color: pd.Series | None = None, color_name: str = "",
               hover: np.ndarray | None = None, highlight: np.ndarray | None = None,
               mode: str = "auto", selected=None, image_min: int = IMAGE_MIN,
               image_sample: int = IMAGE_SAMPLE,
               bins: int = 200, sample: int = 5000, seed: int = 0,
               extra_points: pd.DataFrame | None = None,
               highlight_name: str = "highlighted", webgl_min: int = WEBGL_MIN) -> go.Figure:
    """Cohort map: points, or (big cohorts) every point in an image under a selectable sample.

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
    mode : {"auto", "image", "scatter", "density"}
        ``image``: every point drawn in an image, under an invisible grid that shows the
        topmost session of each spot on hover, and ``image_sample`` points to click (a colour
        change paints in 0.2-0.3 s in headless Chromium at 10,000 and 100,000 sessions, where
        10,000 WebGL points took ~1.4 s: benchmarks/results/dashboard_browser.md). ``scatter``:
        every point as a point (WebGL from ``webgl_min``). ``density``: binned counts with a ``sample``-point
        subsample. ``auto``: ``image`` above ``image_min`` points, else ``scatter``.
    selected : array of int, optional
        Row positions drawn as selected; every other point grey.
    image_min, image_sample, bins, sample, seed :
        See ``mode``; density grid size, density subsample size, the samples' RNG seed.
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
    n = len(coords)
    x = coords["x"].to_numpy(np.float32)
    y = coords["y"].to_numpy(np.float32)
    rows = np.flatnonzero(np.isfinite(x) & np.isfinite(y))  # sessions placed on the map
    mode = map_view(len(rows), mode, image_min)
    chosen = None if selected is None else rows_to_mask(np.asarray(selected, np.int64), n)
    fig = go.Figure()
    rng = np.random.default_rng(seed)
    # the categories once (a colour change at 100k sessions would otherwise count them twice)
    cats = None if color is None or _is_continuous(color) else _category_levels(color)
    if mode == "density" and len(rows):
        h, xe, ye = np.histogram2d(x[rows], y[rows], bins=bins)
        z = np.where(h.T > 0, np.log10(h.T + 1), np.nan)  # (bins_y, bins_x)
        fig.add_trace(go.Heatmap(x=(xe[:-1] + xe[1:]) / 2, y=(ye[:-1] + ye[1:]) / 2, z=z,
                                 colorscale="Blues", showscale=False, hoverinfo="skip",
                                 name="density"))
        rows = np.sort(rng.choice(rows, size=min(sample, len(rows)), replace=False))
    elif mode == "image" and len(rows):
        _add_image_layers(fig, x, y, rows, color, cats, hover, chosen)
        rows = np.sort(rng.choice(rows, size=min(image_sample, len(rows)), replace=False))
    marker_size = 6 if n < 2000 else (4 if n < 20000 else 3)
    scatter = go.Scattergl if len(rows) >= webgl_min else go.Scatter
    hv = hover[rows] if hover is not None else None
    tip = "%{text}" if hv is not None else "session %{customdata}"
    if color is None:
        fig.add_trace(scatter(x=x[rows], y=y[rows], mode="markers", customdata=rows, text=hv,
                              hovertemplate=tip + "<extra></extra>", name="sessions",
                              marker={"size": marker_size, "color": "#4062bb", "opacity": 0.7},
                              showlegend=False, unselected=UNSELECTED))
    elif cats is None:  # continuous
        cv = pd.to_numeric(color, errors="coerce").to_numpy(float)
        fig.add_trace(scatter(
            x=x[rows], y=y[rows], mode="markers", customdata=rows, text=hv,
            hovertemplate=tip + "<br>" + color_name + ": %{marker.color:.3g}<extra></extra>",
            marker={"size": marker_size, "color": cv[rows], "colorscale": "Viridis",
                    "cmin": np.nanmin(cv), "cmax": np.nanmax(cv), "showscale": True,
                    "opacity": 0.8, "colorbar": {"title": color_name[:20], "thickness": 12}},
            name=color_name, showlegend=False, unselected=UNSELECTED))
    else:
        _add_category_traces(fig, scatter, x, y, rows, cats, hv, tip, marker_size,
                             legend_all=mode == "image")
        fig.update_layout(legend={"title": color_name, "itemsizing": "constant"})
    if chosen is not None:
        _mark_selected(fig, chosen)
    _add_marks(fig, scatter, x, y, highlight, highlight_name, extra_points, marker_size)
    note = " (density; subsample shown)" if mode == "density" else ""
    fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 30, "b": 10}, dragmode="lasso",
                      xaxis={"showticklabels": False, "title": "", "zeroline": False},
                      yaxis={"showticklabels": False, "title": "", "zeroline": False},
                      title=f"{n:,} sessions{note}", uirevision="map")
    return fig


def _add_marks(fig: go.Figure, scatter, x: np.ndarray, y: np.ndarray,
               highlight: np.ndarray | None, highlight_name: str,
               extra_points: pd.DataFrame | None, marker_size: int) -> None:
    """Rings around the highlighted sessions and stars for the extra points (uploads)."""
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


def _add_image_layers(fig: go.Figure, x: np.ndarray, y: np.ndarray, rows: np.ndarray,
                      color: pd.Series | None, cats: tuple | None, hover: np.ndarray | None,
                      chosen: np.ndarray | None) -> None:
    """An image map's image of every placed point (``rows``) and its hover grid; ``chosen``
    (a row mask) keeps its colours, every other point grey."""
    codes, palette = _point_codes(color, len(x), cats)
    if chosen is not None:  # unselected grey
        codes = np.where(chosen, codes, GREY_CODE).astype(np.uint8)
    if chosen is not None or cats is not None:
        # stacked as the traces are: grey first, the commonest level next, the rarest on top
        key = np.where(codes[rows] == GREY_CODE, -1, codes[rows].astype(np.int64))
        rows = rows[np.argsort(key, kind="stable")]
    extent = _add_points_image(fig, x, y, rows, codes, palette)
    if hover is not None:
        _add_hover_grid(fig, x, y, rows, hover, extent)


def _mark_selected(fig: go.Figure, chosen: np.ndarray) -> None:
    """Draw the session points in ``chosen`` (a row mask) selected and the others grey, in place.
    Only traces whose ``customdata`` are row positions (the session points) are touched."""
    for tr in fig.data:
        cd = getattr(tr, "customdata", None)
        if cd is None or getattr(tr, "name", "") in ("density",):
            continue
        cd = np.asarray(cd).reshape(len(cd), -1)[:, 0].astype(np.int64)
        tr.selectedpoints = np.flatnonzero(chosen[cd]).tolist()
        if getattr(tr, "unselected", None) is not None:
            tr.unselected = UNSELECTED


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
