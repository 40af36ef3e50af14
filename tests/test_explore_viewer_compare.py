"""Issue 18 library pieces: URL state, display montages and filters, events, qEEG panels,
compare helpers, upload honesty, named map clusters, the EHR table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clef import explore
from clef.channels import STANDARD_CHANNELS
from clef.explore import url_state
from clef.session import Session

SF = 200.0


def _session(seconds: float = 30.0, seed: int = 0) -> Session:
    rng = np.random.default_rng(seed)
    n = int(seconds * SF)
    t = np.arange(n) / SF
    data = rng.normal(0, 10e-6, (19, n)).astype(np.float32)
    data[STANDARD_CHANNELS.index("O1")] += (40e-6 * np.sin(2 * np.pi * 10 * t)).astype(np.float32)
    data += (20e-6 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)  # line noise everywhere
    marks = [(0.0, seconds, "state:awake"), (5.0, 0.4, "eye_blinks"), (12.0, 8.0, "seizure")]
    return Session(data, SF, list(STANDARD_CHANNELS), {}, marks)


# ---- URL state --------------------------------------------------------------------------------

def test_url_restore_publish_round_trip_and_back():
    params, state = {}, {}
    b = [url_state.Binding("q", "query", str, ""),
         url_state.Binding("t", "t", url_state.number, 0.0, url_state.fmt_number)]
    state["query"], state["t"] = "slowing", 12.0
    url_state.publish(params, state, "p", b)
    assert params == {"q": "slowing", "t": "12"}
    # Back: the URL holds an older query; restore applies it, t untouched
    params["q"] = "spikes"
    assert url_state.restore(params, state, "p", b) == ["q"]
    assert state["query"] == "spikes" and state["t"] == 12.0
    # Back to a URL without t: the widget goes back to its default (state dropped)
    del params["t"]
    url_state.restore(params, state, "p", b)
    assert "t" not in state
    # a page switch dropped widget state: the URL restores it even though it did not change
    state.pop("query")
    url_state.restore(params, state, "p", b)
    assert state["query"] == "spikes"
    # defaults leave the URL
    state["query"] = ""
    url_state.publish(params, state, "p", b)
    assert "q" not in params


def test_url_restore_ignores_values_the_widget_cannot_take():
    state = {"montage": "bipolar"}
    b = [url_state.Binding("montage", "montage", url_state.choice(explore.MONTAGE_LABELS),
                           "bipolar")]
    url_state.restore({"montage": "nonsense"}, state, "v", b)
    assert state["montage"] == "bipolar"
    assert url_state.choice([0.0, 0.5, 1.0])("0.5") == 0.5
    assert url_state.choice([0, 50, 60])("50") == 50


def test_selection_encoding_round_trip_selects_same_rows():
    rng = np.random.default_rng(0)
    coords = pd.DataFrame({"x": rng.uniform(0, 10, 500), "y": rng.uniform(0, 10, 500)})
    ang = np.linspace(0, 2 * np.pi, 300)
    lasso = {"lasso": [{"x": list(5 + 3 * np.cos(ang)), "y": list(5 + 3 * np.sin(ang))}]}
    text = url_state.encode_selection(lasso)
    assert text.startswith("lasso:") and len(text) < 1200
    a = explore.selected_rows(coords, lasso)
    b = explore.selected_rows(coords, url_state.decode_selection(text))
    assert len(a) > 50 and len(np.setxor1d(a, b)) <= 0.03 * len(a)  # thinned polygon
    box = {"box": [{"x": [1, 4], "y": [2, 6]}]}
    assert np.array_equal(explore.selected_rows(coords, box), explore.selected_rows(
        coords, url_state.decode_selection(url_state.encode_selection(box))))
    pts = {"points": [{"customdata": 3}, {"customdata": 7}]}
    assert url_state.encode_selection(pts) == "rows:3,7"
    assert url_state.decode_selection("lasso:1,2,oops") is None
    assert url_state.encode_selection({}) is None


# ---- viewer ---------------------------------------------------------------------------------

@pytest.mark.parametrize("montage,n", [("bipolar", 18), ("transverse", 18), ("average", 19),
                                       ("cz", 18), ("laplacian", 19)])
def test_display_montages(montage, n):
    s = _session(4.0)
    x, names = explore.apply_display_montage(s.data, s.ch_names, montage, SF)
    assert x.shape == (n, s.n_samples) and len(names) == n and np.isfinite(x).all()
    if montage == "transverse":
        i = names.index("O1-O2")
        ref = s.data[STANDARD_CHANNELS.index("O1")] - s.data[STANDARD_CHANNELS.index("O2")]
        np.testing.assert_allclose(x[i], ref, atol=1e-9)
    if montage == "cz":
        assert "Cz" not in names


def test_display_filter_notch_and_band():
    s = _session(10.0)
    raw = s.data[0].astype(float)

    def amp(x, f):
        spec = np.abs(np.fft.rfft(x)) / len(x)
        return spec[round(f * len(x) / SF)]
    notched = explore.display_filter(s.data, SF, notch_hz=50)[0]
    assert amp(notched, 50) < 0.1 * amp(raw, 50)
    low = explore.display_filter(s.data, SF, high_hz=30)[0]
    assert amp(low, 50) < 0.1 * amp(raw, 50)
    assert explore.display_filter(s.data, SF) is not None
    with pytest.raises(ValueError, match="Fix"):
        explore.display_filter(s.data, SF, low_hz=30, high_hz=15)


def test_trace_figure_filter_changes_the_trace_and_events_are_coloured():
    s = _session(30.0)
    plain = explore.trace_figure(s, montage="average", start_s=0, window_s=15, marks=s.annotations)
    filt = explore.trace_figure(s, montage="average", start_s=0, window_s=15, notch_hz=50,
                                marks=s.annotations)
    assert not np.allclose(np.asarray(plain.data[0].y), np.asarray(filt.data[0].y))
    assert "notch 50" in filt.layout.title.text
    colours = {sh.fillcolor for sh in plain.layout.shapes}
    assert explore.EVENT_COLOURS["eye_blinks"] in colours
    assert explore.EVENT_COLOURS["seizure"] in colours
    ev = explore.events_table(s.annotations)
    assert ev["onset_s"].is_monotonic_increasing and set(ev["type"]) == {"state", "eye_blinks",
                                                                         "seizure"}
    spec = explore.spectrogram_figure(np.arange(10.0) * 3, np.arange(1, 31.0),
                                      np.zeros((30, 10)), marks=s.annotations)
    assert {tr.name for tr in spec.data} >= {"seizure", "eye_blinks"}
    assert len(spec.layout.shapes) == 1  # the seizure outline


def test_trace_window_is_what_both_renderers_draw():
    import io

    from PIL import Image

    s = _session(60.0)
    w = explore.trace_window(s, montage="bipolar", start_s=5, window_s=10, gain_uv=70,
                             marks=s.annotations)
    assert w.uv.shape == (18, 2000) and len(w.names) == 18 and w.uv.dtype == np.float32
    assert list(w.offsets[:2]) == [17 * 70, 16 * 70] and w.offsets[-1] == 0
    assert w.t.min() >= 5 - 1e-6 and w.t.max() < 15
    assert w.title.startswith("Double banana · 70 µV/division · 5.0 s")
    fig = explore.trace_figure(s, montage="bipolar", start_s=5, window_s=10, gain_uv=70,
                               marks=s.annotations)
    assert np.allclose(np.asarray(fig.data[0].y), w.uv[0] + w.offsets[0])
    assert fig.layout.title.text == w.title
    assert len(fig.layout.shapes) == len(w.spans)
    avg = explore.trace_window(s, montage="average", start_s=50, window_s=30, max_points=600)
    assert avg.uv.shape == (19, 600) and avg.start_s == pytest.approx(30.0)  # decimated, clamped
    png = explore.trace_png(w, width=800)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size[0] == 800 and img.size[1] > 300
    assert explore.trace_png(avg, width=800) != png
    assert explore.trace_png(w, width=800) == png  # the reused figure keeps nothing of the last
    # a new thread (Streamlit runs each script run on one) reuses the figure, and draws the same
    from concurrent.futures import ThreadPoolExecutor

    from clef.explore import images
    n_frames = sum(len(v) for v in images._FREE_FRAMES.values())
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(lambda _: explore.trace_png(w, width=800), range(4))) == [png] * 4
    assert sum(len(v) for v in images._FREE_FRAMES.values()) <= n_frames + 1  # 2 at a time
    # the traces are drawn: dark pixels in every derivation's row band
    a = np.asarray(img.convert("L"), dtype=float)
    assert (a < 100).mean() > 0.005
    with pytest.raises(ValueError, match="gain_uv"):
        explore.trace_window(s, gain_uv=-1)


def test_qeeg_asymmetry_and_topomap():
    s = _session(60.0)
    sp = explore.channel_spectra(s)
    assert sp.density.shape[0] == 19
    trend = explore.asymmetry_trend(sp)
    alpha = trend[trend["band"] == "alpha"]["asymmetry"]
    assert (alpha < -0.2).all()  # the 10 Hz rhythm is on O1: left
    beta = trend[trend["band"] == "beta"]["asymmetry"]
    assert beta.abs().mean() < 0.2
    left = explore.region_spectrogram(sp, explore.LEFT_CHANNELS)
    right = explore.region_spectrogram(sp, explore.RIGHT_CHANNELS)
    assert left.shape == right.shape and not np.allclose(left, right)
    fig = explore.topomap_figure(sp, 30.0, "alpha")
    assert "alpha 8-13 Hz" in fig.axes[0].get_title()
    png = explore.topomap_png(sp, 30.0, "alpha")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    import matplotlib.pyplot as plt
    assert not plt.get_fignums()  # outside pyplot: nothing left open on a server thread


def test_ehr_table_shows_report_medications_when_ehr_has_none():
    row = pd.Series({"session_id": "s", "medications": None,
                     "report": "HISTORY: x.\nMEDICATIONS: lorazepam, valproate.\nTECHNIQUE: y"})
    t = explore.ehr_table(row).set_index("field")["value"]
    assert "not recorded" in t["medications"]
    assert t["medications (report)"] == "lorazepam, valproate"
    row2 = pd.Series({"session_id": "s", "medications": ["lorazepam"], "report": "none"})
    t2 = explore.ehr_table(row2).set_index("field")["value"]
    assert t2["medications"] == "lorazepam" and "medications (report)" not in t2


# ---- compare, neighbours, steering ----------------------------------------------------------

def test_drop_same_patient_and_steering_effect():
    res = pd.DataFrame({"rank": [1, 2, 3, 4], "session_id": ["a1", "b", "a2", "c"],
                        "patient_id": ["A", "B", "A", "C"], "score": [.9, .8, .7, .6],
                        "medications": [["lorazepam"], [], None, ["clonazepam"]]})
    out = explore.drop_same_patient(res, "A", 2)
    assert out["session_id"].tolist() == ["b", "c"] and out["rank"].tolist() == [1, 2]
    assert len(explore.drop_same_patient(res, None, 3)) == 3
    steered = res.iloc[[0, 3, 1]]
    eff = explore.steering_effect(res.head(2), steered, "benzodiazepine effect").set_index(
        "measure")
    assert eff.loc["on a benzodiazepine (EHR medications)", "before"] == 1
    assert eff.loc["on a benzodiazepine (EHR medications)", "after"] == 2


def test_state_and_region_similarity():
    a, b = _session(60.0, 0), _session(60.0, 1)
    sim = explore.state_similarity(np.eye(3), np.eye(3)[::-1])
    assert sim[0, 2] == pytest.approx(1.0) and sim[0, 0] == pytest.approx(0.0)
    reg = explore.region_similarity(explore.channel_spectra(a), explore.channel_spectra(b))
    reg = reg.set_index("region")
    assert set(reg.index) == set(explore.REGIONS)
    assert reg.loc["left parieto-occipital", "spectral_correlation"] > 0.9  # same alpha peak
    b.data[STANDARD_CHANNELS.index("O1")] = b.data[STANDARD_CHANNELS.index("O2")]  # alpha gone
    reg2 = explore.region_similarity(explore.channel_spectra(a), explore.channel_spectra(b))
    reg2 = reg2.set_index("region")
    assert reg2.loc["left parieto-occipital", "alpha_db"] < -3
    assert abs(reg2.loc["right parieto-occipital", "alpha_db"]) < 1


# ---- upload honesty --------------------------------------------------------------------------

def test_upload_report_names_dropped_channels_and_rate(eegmmidb_edf):
    s = explore.read_uploaded(eegmmidb_edf.read_bytes(), eegmmidb_edf.name, sfreq=200.0)
    line = explore.channel_report(s.meta, s.sfreq, s.duration_s)
    assert "recorded at 160 Hz, 64 channels" in line and "dropped 45" in line
    assert "kept 19" in line and "resampled to 200 Hz" in line


def test_upload_errors_hide_server_paths():
    with pytest.raises(explore.InvalidRecording if hasattr(explore, "InvalidRecording")
                       else Exception) as err:
        explore.read_uploaded(b"0" * 4096, "bad.edf")
    msg = explore.error_message(err.value)
    assert msg.startswith("bad.edf:") and "clef-upload-" not in msg and "b'" not in msg
    assert "Fix:" in msg


def test_distribution_check_and_neighbour_position():
    ref = np.linspace(0.6, 0.9, 100)
    pct, warn = explore.distribution_check([0.3] * 10, ref)
    assert pct == 0.0 and "does not look like this cohort" in warn
    assert explore.distribution_check([0.8] * 10, ref)[1] is None
    sessions = pd.DataFrame({"session_id": ["a", "b", "c"], "x": [0.0, 10.0, 1.0],
                             "y": [0.0, 10.0, 1.0]})
    nb = pd.DataFrame({"session_id": ["a", "c"], "score": [0.9, 0.9]})
    np.testing.assert_allclose(explore.neighbour_position(sessions, nb), [0.5, 0.5])


# ---- map ---------------------------------------------------------------------------------------

def test_map_clusters_named_and_colour_options():
    rng = np.random.default_rng(0)
    n = 400
    centre = np.repeat([[0, 0], [20, 20]], n // 2, axis=0)
    dx = [["G40.109"] if i < n // 2 else ["G43.909"] for i in range(n)]
    s = pd.DataFrame({"session_id": [f"s{i}" for i in range(n)],
                      "x": centre[:, 0] + rng.normal(0, 1, n),
                      "y": centre[:, 1] + rng.normal(0, 1, n),
                      "diagnoses": dx, "medications": [[] for _ in range(n)],
                      "sfreq": 200.0, "session_index": np.arange(n), "site": ["A", "B"] * (n // 2)})
    names = explore.diagnosis_names(s)
    assert names["G40.109"] == "focal epilepsy"
    cl = explore.map_clusters(s, n_clusters=2, names=names)
    assert sorted(cl["label"]) == sorted(["focal epilepsy", names["G43.909"]])
    opts = explore.color_options(s)
    assert set(opts) == {"site"}  # no x, y, sfreq (one value), session_index
    fig = explore.map_figure(s, color=s["site"])
    sel = explore.map_figure(s, color=s["site"], selected=[0, 1, 2])
    assert sum(len(tr.selectedpoints) for tr in sel.data) == 3
    assert fig.data[0].selectedpoints is None


def test_spectrogram_png_thumbnail_orientation_size_and_bad_input():
    import io

    from PIL import Image

    from clef.explore import spectrogram_png

    p = np.zeros((40, 90))
    p[:10] = 20.0  # strong low frequencies (first rows ascend in frequency)
    img = Image.open(io.BytesIO(spectrogram_png(p, width=120, height=60))).convert("RGB")
    assert img.size == (120, 60)
    px = np.asarray(img, float)
    bottom, top = px[-5:].mean((0, 1)), px[:5].mean((0, 1))
    assert bottom[1] > 200 and top[1] < 20  # Viridis: yellow (high) at the bottom, dark on top
    for bad in (np.zeros((0, 5)), np.full((4, 4), np.nan), np.zeros(7)):
        with pytest.raises(ValueError, match="no finite values"):
            spectrogram_png(bad)
