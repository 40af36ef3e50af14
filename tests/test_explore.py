"""clef.explore (package): cohort profiles, concept scores/timelines, figures, selections, uploads.

Most tests use the names the dashboard uses (``clef.explore.<name>``); private helpers come from
their module."""
from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clef import explore
from clef.channels import DOUBLE_BANANA, STANDARD_CHANNELS
from clef.errors import InvalidQuery, InvalidRecording, UnsupportedFormat
from clef.explore.profile import _two_by_two_p
from clef.session import Session


def _cohort(n=120, seed=0):
    rng = np.random.default_rng(seed)
    dx_pool = ["G40.909", "G30.9", "I63.9", "R56.9"]
    med_pool = ["lorazepam", "levetiracetam", "propofol"]
    return pd.DataFrame({
        "session_id": [f"s{i:03d}" for i in range(n)],
        "age": rng.normal(50, 15, n).round(1),
        "sex": rng.choice(["F", "M"], n),
        "site": rng.choice(["A", "B", "C"], n),
        "setting": rng.choice(["outpatient", "emu", "icu"], n),
        "diagnoses": [list(rng.choice(dx_pool, rng.integers(0, 3))) for _ in range(n)],
        "medications": [list(rng.choice(med_pool, rng.integers(0, 3))) for _ in range(n)],
        "report": [f"report {i}" for i in range(n)],
    })


# ---- selections and profiles ------------------------------------------------------------------

def test_selection_mask_ids_and_bool():
    ids = ["a", "b", "c", "d"]
    assert explore.selection_mask(ids, ["b", "d", "zz"]).tolist() == [False, True, False, True]
    m = np.array([True, False, False, True])
    assert explore.selection_mask(ids, m).tolist() == m.tolist()
    with pytest.raises(ValueError, match="boolean mask"):
        explore.selection_mask(ids, np.array([True, False]))


def test_ids_key_is_a_short_digest_that_follows_the_list():
    k = explore.ids_key(["a", "b"])
    assert len(k) == 32 and k == explore.ids_key(("a", "b"))
    assert k != explore.ids_key(["b", "a"]) and k != explore.ids_key(["ab"])


def test_profile_matches_brute_force_and_scipy():
    df = _cohort()
    sel = df["site"].eq("A").to_numpy() | (df["age"] > 65).to_numpy()
    prof = explore.cohort_profile(df, df["session_id"][sel])
    assert (prof.n_selected, prof.n_rest) == (sel.sum(), (~sel).sum())

    # numeric: Cohen's d with pooled SD, Mann-Whitney p
    age = prof.numeric.set_index("variable").loc["age"]
    x1, x0 = df["age"][sel].to_numpy(), df["age"][~sel].to_numpy()
    sp = np.sqrt(((len(x1) - 1) * x1.var(ddof=1) + (len(x0) - 1) * x0.var(ddof=1))
                 / (len(x1) + len(x0) - 2))
    assert age["effect"] == pytest.approx((x1.mean() - x0.mean()) / sp)
    assert age["p_value"] == pytest.approx(stats.mannwhitneyu(x1, x0).pvalue)

    cat = prof.categorical.set_index(["variable", "level"])
    # list column, brute force per item (each session counted once even with repeats)
    for item in ["G40.909", "I63.9"]:
        has = df["diagnoses"].map(lambda v, it=item: it in v).to_numpy()
        a, c = int((has & sel).sum()), int((has & ~sel).sum())
        b, d = int(sel.sum()) - a, int((~sel).sum()) - c
        row = cat.loc[("diagnoses", item)]
        assert (row["n_sel"], row["n_rest"]) == (a, c)
        assert row["rate_diff"] == pytest.approx(a / (a + b) - c / (c + d))
        assert row["p_value"] == pytest.approx(_reference_p(a, b, c, d))
        if min(a, b, c, d) > 0:
            ref = stats.contingency.odds_ratio([[a, b], [c, d]], kind="sample").statistic
            assert row["odds_ratio"] == pytest.approx(ref)
        h = 2 * np.arcsin(np.sqrt(a / (a + b))) - 2 * np.arcsin(np.sqrt(c / (c + d)))
        assert row["effect"] == pytest.approx(h)
    # categorical: site A fully inside the selection
    assert cat.loc[("site", "A"), "rate_sel"] > cat.loc[("site", "A"), "rate_rest"]
    assert cat.loc[("site", "A"), "n_rest"] == 0
    assert np.isfinite(cat.loc[("site", "A"), "odds_ratio"])  # Haldane correction for the zero
    # BH q-values and ordering by |effect|
    q = stats.false_discovery_control(prof.categorical["p_value"].to_numpy(), method="bh")
    np.testing.assert_allclose(prof.categorical["q_value"], q)
    eff = prof.categorical["effect"].abs().to_numpy()
    assert np.all(np.diff(eff) <= 1e-12)


def _reference_p(a, b, c, d) -> float:
    """scipy: Pearson chi-square without correction if all expected counts >= 5, else Fisher."""
    table = np.array([[a, b], [c, d]])
    expected = stats.contingency.expected_freq(table)
    if expected.min() >= 5:
        return stats.chi2_contingency(table, correction=False)[1]
    return stats.fisher_exact(table)[1]


def test_two_by_two_p_both_branches():
    tables = [(5, 995, 40, 8960), (500, 500, 4000, 5000), (2, 8, 30, 60), (0, 10, 5, 85),
              (30, 70, 20, 80)]
    got = _two_by_two_p(*np.array(tables, dtype=float).T)
    for t, p in zip(tables, got):
        assert p == pytest.approx(_reference_p(*t), rel=1e-9)


def test_profile_counts_repeated_items_once():
    df = pd.DataFrame({"session_id": ["a", "b", "c"], "medications": [["x", "x"], ["x"], []]})
    prof = explore.cohort_profile(df, ["a"], numeric=(), categorical=())
    row = prof.categorical.set_index("level").loc["x"]
    assert (row["n_sel"], row["n_rest"]) == (1, 1)


# ---- concept scores, task matching, timelines ---------------------------------------------------

def test_concept_scores_is_cosine():
    rng = np.random.default_rng(1)
    e, t = rng.normal(size=(50, 16)), rng.normal(size=16)
    ref = [float(v @ t / np.linalg.norm(v) / np.linalg.norm(t)) for v in e]
    np.testing.assert_allclose(explore.concept_scores(e, t), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="dimension"):
        explore.concept_scores(e, t[:8])


def test_match_task_by_name_or_concept():
    info = pd.DataFrame({"task": ["ied_left_temporal", "lorazepam"],
                         "concept": ["left temporal epileptiform discharges", None]})
    assert explore.match_task("IED left-temporal", info) == "ied_left_temporal"
    assert explore.match_task("left temporal epileptiform discharges", info) == "ied_left_temporal"
    assert explore.match_task("Lorazepam", info) == "lorazepam"
    assert explore.match_task("something else", info) is None
    assert explore.match_task("", info) is None


def test_concept_timeline_against_loop():
    rng = np.random.default_rng(2)
    states = rng.normal(size=(30, 8)).astype(np.float32)
    time_idx = np.repeat(np.arange(6), 5)
    mask = np.ones(30, bool)
    mask[-3:] = False  # padding
    text = rng.normal(size=8)
    tl = explore.concept_timeline(states, time_idx, mask, text, time_patch_s=24.0)
    for _, row in tl.iterrows():
        sel = (time_idx == row["time_patch"]) & mask
        cos = [s @ text / np.linalg.norm(s) / np.linalg.norm(text) for s in states[sel]]
        assert row["score"] == pytest.approx(np.mean(cos), rel=1e-5)
        assert row["max_score"] == pytest.approx(np.max(cos), rel=1e-5)
        assert row["n_tokens"] == sel.sum()
        assert row["start_min"] == pytest.approx(row["time_patch"] * 24.0 / 60)
    # per-patch states (no time_idx): one row per patch
    tl2 = explore.concept_timeline(states[:4], None, None, text, 12.0)
    assert tl2["time_patch"].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="shared space"):
        explore.concept_timeline(states, time_idx, mask, text[:4], 24.0)


# ---- traces and spectrogram ------------------------------------------------------------------

def _session(seconds=30.0, sfreq=200.0, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    t = np.arange(n) / sfreq
    data = (20e-6 * np.sin(2 * np.pi * 10 * t)[None, :]
            + 5e-6 * rng.normal(size=(19, n))).astype(np.float32)
    return Session(data, sfreq, list(STANDARD_CHANNELS), {"session_id": "x"})


def test_montage_window_bipolar_and_average():
    s = _session(5)
    bip, names = explore.montage_window(s.data, s.ch_names, "bipolar", s.sfreq)
    assert names == [f"{a}-{b}" for a, b in DOUBLE_BANANA]
    idx = {n: i for i, n in enumerate(STANDARD_CHANNELS)}
    for k, (a, b) in enumerate(DOUBLE_BANANA):
        np.testing.assert_allclose(bip[k], s.data[idx[a]] - s.data[idx[b]], atol=1e-12)
    avg, names = explore.montage_window(s.data, s.ch_names, "average", s.sfreq)
    np.testing.assert_allclose(avg.mean(axis=0), 0, atol=1e-10)
    with pytest.raises(ValueError, match="montage"):
        explore.montage_window(s.data, s.ch_names, "sideways")


def test_minmax_decimate_keeps_extremes():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(3, 10_001))
    y[1, 7777] = 50.0  # a spike must survive
    t = np.arange(y.shape[1]) / 200.0
    td, yd = explore.minmax_decimate(t, y, 1000)
    assert yd.shape[1] <= 1002 and td.shape[0] == yd.shape[1]
    np.testing.assert_allclose(yd.max(axis=1), y.max(axis=1))
    np.testing.assert_allclose(yd.min(axis=1), y.min(axis=1))
    assert np.all(np.diff(td) >= 0)
    same_t, same_y = explore.minmax_decimate(t[:100], y[:, :100], 1000)
    assert same_y.shape == (3, 100) and same_t is not None


def test_trace_figure_montage_window_gain():
    s = _session(30)
    fig = explore.trace_figure(s, montage="bipolar", start_s=5, window_s=10, gain_uv=100)
    assert len(fig.data) == 18
    x = np.asarray(fig.data[0].x)
    assert x.min() >= 5 - 1e-9 and x.max() <= 15
    fig2 = explore.trace_figure(s, montage="average", start_s=5, window_s=10, gain_uv=50)
    assert len(fig2.data) == 19
    assert list(fig2.layout.yaxis.tickvals)[:2] == [18 * 50, 17 * 50]
    # start beyond the end is clamped to the last full window
    fig3 = explore.trace_figure(s, start_s=1e6, window_s=10)
    assert np.asarray(fig3.data[0].x).min() == pytest.approx(20.0)
    with pytest.raises(ValueError, match="gain_uv"):
        explore.trace_figure(s, gain_uv=0)
    marks = [(0.0, 600.0, "state:awake"), (6.0, 1.5, "eye movement"), (25.0, 1.0, "later")]
    fig4 = explore.trace_figure(s, start_s=0, window_s=10, marks=marks)
    assert fig4.layout.title.text.endswith("· awake")  # the state, without its "state:" prefix
    assert len(fig4.layout.shapes) == 1 and fig4.layout.shapes[0].x0 == 6.0


def test_session_spectrogram_peak_and_axes():
    s = _session(60)
    times, freqs, power = explore.session_spectrogram(s)
    assert power.shape == (len(freqs), len(times))
    assert freqs.max() <= 30.0
    assert abs(freqs[np.argmax(power.mean(axis=1))] - 10.0) <= 0.5  # the 10 Hz sine
    assert times[0] == pytest.approx(2.0) and np.allclose(np.diff(times), 2.0)


def test_clicked_time_points_and_box():
    assert explore.clicked_time({"points": [{"x": 2.5}], "box": []}) == pytest.approx(150.0)
    assert explore.clicked_time({"points": [], "box": [{"x": [3.0, 1.0], "y": [0, 1]}]}) == 60.0
    assert explore.clicked_time({"points": [], "box": []}) is None
    assert explore.clicked_time(None) is None


# ---- cohort map ---------------------------------------------------------------------------------

def _coords(n, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"session_id": [f"s{i}" for i in range(n)], "x": rng.uniform(0, 10, n),
                         "y": rng.uniform(0, 10, n)})


def test_map_figure_scatter_categories_and_customdata():
    df = _cohort(200)
    coords = _coords(200)
    df["x"], df["y"] = coords["x"], coords["y"]
    fig = explore.map_figure(df, color=df["site"], color_name="site",
                             hover=explore.hover_text(df))
    assert {tr.name for tr in fig.data} == {"A", "B", "C"}
    assert all(tr.type == "scatter" for tr in fig.data)  # SVG below WEBGL_MIN points
    gl = explore.map_figure(df, color=df["site"], webgl_min=100)
    assert all(tr.type == "scattergl" for tr in gl.data)
    for tr in fig.data:  # customdata = row position, so a click maps back to its session
        rows = np.asarray(tr.customdata)
        assert (df["site"].to_numpy()[rows] == tr.name).all()
        np.testing.assert_allclose(np.asarray(tr.x), df["x"].to_numpy()[rows], rtol=1e-6)
    cont = explore.map_figure(df, color=df["age"], color_name="age")
    assert len(cont.data) == 1 and cont.data[0].marker.showscale


def test_map_colour_levels_keep_the_commonest():
    n_levels = explore.cohort_map.MAX_CATEGORIES + 3
    counts = np.arange(n_levels, 0, -1) * 3  # level i is the i-th commonest
    values = pd.Series(np.repeat([f"L{i}" for i in range(n_levels)], counts)).sample(
        frac=1, random_state=0).reset_index(drop=True)
    values.iloc[:2] = None
    labs, colours = explore.cohort_map._category_levels(values)
    kept = [f"L{i}" for i in range(explore.cohort_map.MAX_CATEGORIES)]
    assert list(colours) == kept + ["other"]
    expected = values.fillna("n/a").where(values.fillna("n/a").isin(kept), "other")
    assert list(labs) == expected.tolist()
    codes, palette = explore.cohort_map._point_codes(values, len(values),
                                                     (labs, colours))
    for i in (0, 5, 99):  # each point's palette entry is its level's colour
        want = colours[labs[i]].lstrip("#")
        assert bytes(palette[codes[i]]).hex() == want.lower()


def test_map_figure_density_view():
    coords = _coords(3000)
    fig = explore.map_figure(coords, mode="density", sample=500)
    kinds = [tr.type for tr in fig.data]
    assert kinds[0] == "heatmap" and kinds[1] == "scatter"  # 500-point subsample: SVG
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.nansum(10 ** z - 1) == pytest.approx(3000, rel=1e-6)  # every point is binned
    assert len(fig.data[1].x) == 500
    holes = coords.copy()
    holes.loc[:99, "x"] = np.nan  # sessions not on the map are left out, not an error
    fig2 = explore.map_figure(holes, mode="density", sample=500)
    assert np.nansum(10 ** np.asarray(fig2.data[0].z, dtype=float) - 1) == pytest.approx(2900)
    assert np.asarray(fig2.data[1].customdata).min() >= 100
    small = explore.map_figure(coords.head(100), mode="density", sample=50)
    assert [tr.type for tr in small.data] == ["heatmap", "scatter"]
    with pytest.raises(ValueError, match="mode="):
        explore.map_figure(coords, mode="hexbin")


def _image(fig):
    import base64
    import io

    from PIL import Image

    src = fig.layout.images[0].source
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
                      .convert("RGBA"))


def _pixel(fig, img, x, y):
    """The image pixel under data point (x, y)."""
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    h, w = img.shape[:2]
    return img[round((y1 - y) / (y1 - y0) * (h - 1)), round((x - x0) / (x1 - x0) * (w - 1))]


def test_map_figure_image_draws_every_point_under_a_sample():
    from plotly.colors import hex_to_rgb

    n = 4000
    coords = _coords(n, seed=3)
    coords["x"] = np.where(np.arange(n) < n // 2, coords["x"] * 0.3, coords["x"] * 0.3 + 7)
    site = pd.Series(np.where(np.arange(n) < n // 2, "A", "B"))
    site.iloc[5] = "rare"  # one session: its level keeps a legend entry without sampled points
    hover = np.array([f"session {i}<br>dx: G40<br><i>report {i}</i>" for i in range(n)],
                     dtype=object)
    fig = explore.map_figure(coords, color=site, color_name="site", hover=hover)
    assert len(fig.layout.images) == 1  # "auto" above IMAGE_MIN points
    points = [tr for tr in fig.data if tr.type != "heatmap"]
    assert sum(len(tr.x) for tr in points if tr.x[0] is not None) == explore.IMAGE_SAMPLE
    assert all(tr.type == "scatter" for tr in points)  # the sample is SVG
    assert {tr.name for tr in points} == {"A", "B", "rare"}
    # hover: an invisible grid names the topmost session of each spot, every session's spot
    grid = next(tr for tr in fig.data if tr.type == "heatmap")
    assert grid.opacity == 0 and grid.hoverongaps is False
    text, gx, gy = np.asarray(grid.text), np.asarray(grid.x), np.asarray(grid.y)
    for i in (0, 7, n - 1):
        cell = text[np.abs(gy - coords["y"][i]).argmin(), np.abs(gx - coords["x"][i]).argmin()]
        assert cell.startswith("session "), cell
    filled = text[text != ""]
    # the grid carries a session's first two hover lines (the sample points carry all of it)
    assert all(t.split("<br>")[1] == "dx: G40" and "report" not in t for t in filled)
    sample_text = [t for tr in points if tr.text is not None for t in tr.text]
    assert sample_text and all(t.endswith("</i>") for t in sample_text)
    shown = sum(1 + (int(t.split("(+")[1].split()[0]) if "(+" in t else 0) for t in filled)
    assert shown == n  # each session is on top of its spot or counted under another
    img = _image(fig)
    assert img.shape == (520, 1200, 4) and (img[..., 3] > 0).mean() > 0.01
    colours = {tr.name: tr.marker.color for tr in points}
    for i in (0, 1, n - 1):  # each point is drawn in its level's colour
        want = hex_to_rgb(colours[site[i]])
        assert tuple(_pixel(fig, img, coords["x"][i], coords["y"][i])[:3]) == want
    # a selection: its points keep their colour, the others turn grey
    sel = explore.map_figure(coords, color=site, selected=np.arange(n // 2))
    simg = _image(sel)
    assert tuple(_pixel(sel, simg, coords["x"][1], coords["y"][1])[:3]) == hex_to_rgb(colours["A"])
    assert tuple(_pixel(sel, simg, coords["x"][n - 1], coords["y"][n - 1])[:3]) == (200, 200, 200)
    chosen = [i for tr in sel.data if tr.selectedpoints is not None
              for i in np.asarray(tr.customdata)[list(tr.selectedpoints)]]
    assert chosen and max(chosen) < n // 2  # the sample's selected points are the selection's
    assert [explore.map_view(k) for k in (explore.IMAGE_MIN, explore.IMAGE_MIN + 1)] == [
        "scatter", "image"]
    assert explore.map_view(10**6, "density") == "density"
    # every point as a point on request; continuous colours: the sample spans the same scale
    assert not explore.map_figure(coords, mode="scatter").layout.images
    age = pd.Series(np.linspace(0, 90, n))
    cont = explore.map_figure(coords, color=age, color_name="age")
    assert (cont.data[0].marker.cmin, cont.data[0].marker.cmax) == (0.0, 90.0)


def test_selected_rows_box_lasso_points():
    coords = _coords(2000)
    x, y = coords["x"].to_numpy(), coords["y"].to_numpy()
    box = {"box": [{"x": [2, 5], "y": [7, 3]}], "lasso": [], "points": []}
    want = np.flatnonzero((x >= 2) & (x <= 5) & (y >= 3) & (y <= 7))
    np.testing.assert_array_equal(explore.selected_rows(coords, box), want)
    # lasso: triangle (0,0) (10,0) (0,10): inside iff x + y < 10
    tri = {"lasso": [{"x": [0, 10, 0], "y": [0, 0, 10]}], "box": [], "points": []}
    got = explore.selected_rows(coords, tri)
    inside = np.flatnonzero(x + y < 10)
    near = np.abs(x + y - 10) < 1e-9
    assert set(got) ^ set(inside) <= set(np.flatnonzero(near))
    pts = {"points": [{"customdata": 7}, {"customdata": [11]}], "box": [], "lasso": []}
    assert explore.selected_rows(coords, pts).tolist() == [7, 11]
    assert explore.selected_rows(coords, None).size == 0


def test_color_options_and_values():
    df = _cohort(20)
    labels = pd.DataFrame({"lorazepam": pd.array([1, 0] * 10, dtype="Int8")},
                          index=df["session_id"])
    labels.iloc[0, 0] = pd.NA
    opts = explore.color_options(df, labels)
    assert "site" in opts and "diagnoses" not in opts and "report" not in opts
    assert opts["task: lorazepam"] == "task:lorazepam"
    v = explore.color_values("task:lorazepam", df, labels)
    assert v.tolist()[:3] == ["unlabelled", "negative", "positive"]
    with pytest.raises(ValueError, match="colour source"):
        explore.color_values("bogus:x", df, labels)


def test_score_histogram_bins_every_score_and_splits_labels():
    rng = np.random.default_rng(6)
    scores = rng.normal(size=500)
    pos = rng.integers(-1, 2, 500)  # -1 = unlabelled
    fig = explore.score_histogram(scores, pos, bins=25)
    counts = {tr.name: np.asarray(tr.y) for tr in fig.data}
    assert counts["positive"].sum() == (pos == 1).sum() and counts["rest"].sum() == (pos == 0).sum()
    ref, _ = np.histogram(scores[pos == 1], bins=np.histogram_bin_edges(scores, 25))
    np.testing.assert_array_equal(counts["positive"], ref)
    assert np.asarray(explore.score_histogram(scores).data[0].y).sum() == 500


def test_two_query_figure_subsamples_but_correlates_all():
    rng = np.random.default_rng(7)
    a = rng.normal(size=20_000)
    b = a + rng.normal(size=20_000)
    fig = explore.two_query_figure(a, b, "a", "b", max_points=3000)
    assert len(fig.data[0].x) == 3000
    rows = np.asarray(fig.data[0].customdata)
    np.testing.assert_allclose(np.asarray(fig.data[0].x), a[rows])
    assert f"{np.corrcoef(a, b)[0, 1]:.2f}" in fig.layout.title.text


def test_profile_reuses_its_preparation():
    df = _cohort(80)
    mask = df["site"].eq("B").to_numpy()
    prep = explore.prepare_profile(df)
    assert set(prep.lists) == {"diagnoses", "medications"} and "age" in prep.ranks
    again, fresh = explore.cohort_profile(df, mask, prepared=prep), explore.cohort_profile(df, mask)
    pd.testing.assert_frame_equal(again.categorical, fresh.categorical)
    pd.testing.assert_frame_equal(again.numeric, fresh.numeric)


# ---- tables, filters, evaluation, neighbours ------------------------------------------------

def test_tables_and_csv():
    df = _cohort(5)
    df.at[0, "medications"] = ["lorazepam", "propofol"]
    csv = explore.to_csv_bytes(df).decode()
    back = pd.read_csv(io.StringIO(csv))
    assert len(back) == 5 and list(back.columns) == list(df.columns)
    assert back.loc[0, "medications"] == "lorazepam; propofol"
    disp = explore.display_table(df.assign(score=np.linspace(0, 1, 5)))
    assert disp["diagnoses"].map(type).eq(str).all()
    prof = explore.cohort_profile(df, ["s000", "s001"])
    assert len(explore.profile_figure(prof).data) == 1
    assert "cohen_h" in explore.profile_table(prof).columns


def test_build_filters_drops_unused():
    f = explore.build_filters(site=["A"], sex=[], age=(0, 100), full_age=(0, 100),
                              diagnosis=" G40, I63 ", medication=["lorazepam"])
    assert f == {"site": ["A"], "medication": ["lorazepam"], "diagnosis": ["G40", "I63"]}
    assert explore.build_filters(age=(10, 50), full_age=(0, 100)) == {"age": (10.0, 50.0)}


def test_query_evaluation_auroc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    df = _cohort(60)
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 60)
    labels = pd.DataFrame({"lorazepam": pd.array(y, dtype="Int8")}, index=df["session_id"])
    labels.iloc[:5, 0] = pd.NA
    info = pd.DataFrame({"task": ["lorazepam"], "concept": [None]})
    scores = y * 0.3 + rng.normal(0, 0.3, 60)
    ev = explore.query_evaluation("Lorazepam", scores, df, labels, info)
    assert ev.task == "lorazepam" and ev.positives[:5].tolist() == [-1] * 5
    assert ev.auroc == pytest.approx(roc_auc_score(y[5:], scores[5:]))
    assert (ev.n_pos, ev.n_neg) == (int(y[5:].sum()), int((1 - y[5:]).sum()))
    assert explore.query_evaluation("nothing like it", scores, df, labels, info).task is None
    cls_labels = labels.rename(columns={"lorazepam": "benzodiazepine_class"})
    cls_info = pd.DataFrame({"task": ["benzodiazepine_class"],
                             "concept": ["benzodiazepine medication"]})
    ev2 = explore.query_evaluation("Benzodiazepine effect", scores, df, cls_labels, cls_info)
    assert ev2.task == "benzodiazepine_class" and ev2.auroc == pytest.approx(ev.auroc)


class _TextModel:
    """Test double for the text tower: fixed vectors for known phrases (also inside the prompts a
    query is wrapped in, e.g. "EEG shows <phrase>."); any other text (the vocabulary a query is
    linked against) gets one far-away vector, so nothing links."""

    def __init__(self, table):
        self.table = table
        d = len(next(iter(table.values())))
        self.other = np.eye(d)[-1]

    def encode_text(self, texts, normalize=True, **kwargs):
        return np.stack([next((v for k, v in self.table.items() if k in t), self.other)
                         for t in texts])


def test_neighbours_plain_and_steered():
    from clef.index import SessionIndex

    rng = np.random.default_rng(5)
    d = 16
    base = np.eye(d)[0]
    concept = np.eye(d)[1]
    vecs = rng.normal(0, 0.05, (40, d)) + base
    vecs[0] = base  # the query session
    vecs[1] = base + 0.02 * rng.normal(size=d)  # its plain nearest neighbour
    vecs[2] = base + 0.9 * concept  # like it, but with the concept
    idx = SessionIndex.from_vectors(vecs, [f"s{i}" for i in range(40)])
    model = _TextModel({"the concept": concept})
    plain, steered = explore.neighbours(idx, model, k=5, session_id="s0",
                                        steer_text="the concept", steer_weight=1.0)
    assert plain["session_id"].iloc[0] == "s1" and "s0" not in plain["session_id"].tolist()
    assert steered["session_id"].iloc[0] == "s2" and "s0" not in steered["session_id"].tolist()
    p2, s2 = explore.neighbours(idx, model, k=3, vector=vecs[0])
    assert s2 is None and p2["session_id"].iloc[0] == "s0"
    with pytest.raises(InvalidQuery):
        explore.neighbours(idx, model, k=3)


# ---- uploads -------------------------------------------------------------------------------------

def _tmp_uploads() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("clef-upload-*")}


def test_read_uploaded_rejects_bad_files():
    before = _tmp_uploads()
    with pytest.raises(UnsupportedFormat, match="not supported"):
        explore.read_uploaded(b"abc", "notes.txt")
    with pytest.raises(InvalidRecording, match="limit"):
        explore.read_uploaded(b"x" * 2000, "big.edf", max_mb=0.001)
    with pytest.raises(InvalidRecording, match="zip"):
        explore.read_uploaded(b"not a zip", "bv.zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "no header here")
    with pytest.raises(InvalidRecording, match=r"\.vhdr"):
        explore.read_uploaded(buf.getvalue(), "bv.zip")
    with pytest.raises(InvalidRecording):  # garbage bytes named .edf: clef.io's error
        explore.read_uploaded(b"0" * 4096, "garbage.edf")
    assert _tmp_uploads() == before  # temporary folders are removed even on errors


def test_read_uploaded_real_edf_and_brainvision_zip(eegmmidb_edf, tmp_path):
    before = _tmp_uploads()
    sess = explore.read_uploaded(eegmmidb_edf.read_bytes(), eegmmidb_edf.name)
    assert sess.ch_names == list(STANDARD_CHANNELS) and sess.sfreq == 200.0
    assert sess.meta["upload_name"] == eegmmidb_edf.name
    pytest.importorskip("pybv")
    import mne

    raw = mne.io.read_raw_edf(eegmmidb_edf, preload=True, verbose="error")
    raw.crop(0, 30)
    vhdr = tmp_path / "rec.vhdr"
    mne.export.export_raw(vhdr, raw, fmt="brainvision", verbose="error")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in tmp_path.glob("rec.*"):
            zf.write(p, f"set/{p.name}")
    bv = explore.read_uploaded(buf.getvalue(), "rec.zip")
    assert bv.ch_names == list(STANDARD_CHANNELS)
    assert bv.duration_s == pytest.approx(30.0, abs=0.1)
    assert _tmp_uploads() == before


def test_error_message_and_check_query():
    assert "Fix:" in explore.error_message(InvalidQuery("x. Fix: y"))
    assert explore.error_message(KeyError("k")).startswith("KeyError")
    assert explore.check_query("  spikes ") == "spikes"
    with pytest.raises(InvalidQuery, match="empty"):
        explore.check_query("   ")


def test_package_layout_names_and_no_streamlit():
    """The dashboard's names resolve, each module stays small, and none imports Streamlit."""
    import subprocess
    import sys

    pkg = Path(explore.__file__).parent
    assert all(getattr(explore, name, None) is not None for name in explore.__all__)
    sizes = {p.name: len(p.read_text().splitlines()) for p in pkg.glob("*.py")}
    assert {"profile.py", "concepts.py", "viewer.py", "cohort_map.py", "upload.py", "search.py",
            "tables.py", "model_page.py"} <= set(sizes)
    assert max(sizes.values()) <= 500, sizes
    code = "import sys, clef.explore; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
