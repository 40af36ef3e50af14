"""Streamlit AppTest over every dashboard page: renders without exception on the sample data (or a
small demo bundle when data_samples/ holds none), and the main widget of each page changes what
the page shows."""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from clef.bundle import Bundle, map_dir
from clef.demo import build_demo_bundle
from clef.errors import BundleNotFound

pytestmark = pytest.mark.slow  # ~30 s on data_samples/; building a demo bundle adds ~40 s

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 120


@pytest.fixture(scope="module")
def bundle_root(find_or_build_bundle) -> Path:
    """data_samples/ when it holds a bundle, else a 24-session demo bundle built once
    ($CLEF_TEST_BUNDLE reuses one built earlier, e.g. while working on the pages)."""
    return find_or_build_bundle(on_build=lambda out: _probe_tables(out / "probe"))


def _probe_tables(folder: Path) -> None:
    """Two small probe tables, in the shape `clef probe` writes, for the model page."""
    folder.mkdir()
    pd.DataFrame({"category": ["finding", "medication", "phenotype"] * 2,
                  "model": ["clef"] * 3 + ["band_power"] * 3,
                  "auroc": [0.8, 0.7, 0.65, 0.7, 0.6, 0.6]}).to_csv(folder / "summary.csv",
                                                                   index=False)
    pd.DataFrame({"task": ["gsw_3hz", "lorazepam"], "category": ["finding", "medication"],
                  "auroc": [0.9, 0.7]}).to_csv(folder / "per_task.csv", index=False)


@pytest.fixture()
def app(bundle_root, monkeypatch):
    for name in ("CLEF_STORE", "CLEF_INDEX", "CLEF_CHECKPOINT", "CLEF_COHORT", "CLEF_MAP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLEF_BUNDLE", str(bundle_root))

    def make(page: str | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.run()
        if page is not None:
            at.switch_page(f"views/{page}.py")
            at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return make


def _arr(v) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array ``{"dtype", "bdata"}`` (base64)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def _plots(at) -> list[dict]:
    return [json.loads(p.proto.spec) for p in at.get("plotly_chart")]


def _frames(at) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def _frame(at, *columns: str, nth: int = 0) -> pd.DataFrame:
    """The nth dataframe on the page holding all ``columns`` (st.dataframe is not keyed here)."""
    hits = [f for f in _frames(at) if set(columns) <= set(f.columns)]
    assert len(hits) > nth, f"no table with {columns}: {[list(f.columns) for f in _frames(at)]}"
    return hits[nth]


def _ok(at) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# ---- cohort map ---------------------------------------------------------------------------------

def _points(plot) -> list[dict]:
    """A map's point traces (an image map also has an invisible hover grid, a heatmap)."""
    return [tr for tr in plot["data"] if tr.get("type") != "heatmap"]


def test_map_renders_and_colour_changes_figure(app):
    at = app()
    _ok(at)
    assert at.title[0].value == "Cohort map"
    assert "sessions" in at.sidebar.caption[0].value
    before = _plots(at)[0]
    names_before = {tr.get("name") for tr in before["data"]}
    at.selectbox(key="map_color").set_value("sex").run()
    _ok(at)
    after = _plots(at)[0]
    names_after = {tr.get("name") for tr in after["data"]}
    assert names_before != names_after and names_after & {"F", "M"}
    at.selectbox(key="map_color").set_value("concept score…").run()
    _ok(at)
    cont = _points(_plots(at)[0])[0]
    assert cont["marker"].get("showscale") is True  # continuous concept-score colouring


def test_map_selection_gives_table_profile_and_csv(app, bundle_root):
    at = app()
    ids = _first_ids(bundle_root, 8)
    at.session_state["map_highlight_ids"] = ids
    at.run()
    _ok(at)
    sub = [s.value for s in at.subheader]
    assert any(s.startswith(f"Selected cohort: {len(ids)} of") for s in sub)
    table = _frame(at, "session_id", "report")
    assert sorted(table["session_id"]) == sorted(ids)
    prof = _frame(at, "variable", "level")
    assert {"variable", "level", "odds_ratio", "cohen_h"} <= set(prof.columns)
    assert at.session_state["map_selected_ids"] == table["session_id"].tolist()
    assert len(at.get("download_button")) == 1


def test_map_figure_cache_follows_colour_concept_and_highlight(app, bundle_root):
    """The map figure is cached (dashboard/state.py): each key part must still change the map."""
    at = app()
    first = _plots(at)[0]
    colour = at.selectbox(key="map_color").value
    at.selectbox(key="map_color").set_value("sex").run()
    at.selectbox(key="map_color").set_value(colour).run()
    _ok(at)
    assert _plots(at)[0] == first  # back to the first colouring: the same figure

    at.selectbox(key="map_color").set_value("concept score…").run()
    a = _arr(_points(_plots(at)[0])[0]["marker"]["color"])
    at.text_input(key="map_concept").set_value("generalized slowing").run()
    _ok(at)
    b = _arr(_points(_plots(at)[0])[0]["marker"]["color"])
    assert a.shape == b.shape and not np.allclose(a, b)  # keyed by the concept text

    def ring(ids):
        at.session_state["map_highlight_ids"] = ids
        at.run()
        _ok(at)
        traces = [t for t in _plots(at)[0]["data"] if t.get("name") == "highlighted"]
        return sorted(_arr(traces[0]["customdata"]).tolist()) if traces else []

    ids = _first_ids(bundle_root, 12)
    assert ring(ids[:4]) == [0, 1, 2, 3]
    assert ring(ids[4:12]) == list(range(4, 12))  # keyed by the ids, not only their number
    assert ring([]) == []


def test_app_keeps_its_folder_on_sys_path(app):
    """With dashboard/ kept on sys.path, Streamlit stops adding and removing it on every run (a
    removal under another thread's import, e.g. the model warm-up, can make it miss packages)."""
    at = app()
    assert str(APP.parent) in sys.path
    before = list(sys.path)
    at.run()
    _ok(at)
    assert sys.path == before


def _first_ids(root: Path, n: int) -> list[str]:
    table = pd.read_parquet(Bundle.locate(root).index / "sessions.parquet")
    return table["session_id"].astype(str).head(n).tolist()


# ---- concept search -----------------------------------------------------------------------------

def test_search_query_ranks_and_changes(app):
    at = app("concept_search")
    _ok(at)
    assert at.info  # asks for a query first
    at.text_input(key="search_query").set_value("generalized slowing").run()
    _ok(at)
    res = _frame(at, "rank", "found by")
    assert len(res) == 20 and res["rank"].tolist() == list(range(1, 21))
    assert set(res["found by"]) <= {"both", "report", "EEG"}
    hist = next(p for p in _plots(at) if p["layout"]["title"]["text"] == "Scores of every session")
    assert sum(_arr(tr["y"]).sum() for tr in hist["data"]) > len(res)  # every labelled session
    at.text_input(key="search_query").set_value("burst suppression").run()
    _ok(at)
    res2 = _frame(at, "rank", "found by")
    assert res2["session_id"].tolist() != res["session_id"].tolist()
    at.slider(key="search_k").set_value(7).run()
    assert len(_frame(at, "rank", "found by")) == 7


def test_search_filter_and_task_auroc(app):
    at = app("concept_search")
    at.text_input(key="search_query").set_value("lorazepam").run()
    sites = at.multiselect(key="search_site").options
    at.multiselect(key="search_site").set_value([sites[0]]).run()
    _ok(at)
    res = _frame(at, "rank", "found by")
    assert len(res) > 0 and set(res["site"]) == {sites[0]}
    metrics = [m.label for m in at.metric]
    assert any("AUROC" in m for m in metrics), metrics


def test_search_example_pill_sets_query(app):
    at = app("concept_search")
    at.pills(key="search_example").set_value("triphasic waves").run()
    _ok(at)
    assert at.text_input(key="search_query").value == "triphasic waves"
    assert len(_frame(at, "rank", "found by")) > 0


# ---- similar sessions ---------------------------------------------------------------------------

def test_similar_by_id_changes_with_session_and_steering(app):
    at = app("similar_sessions")
    _ok(at)
    t1 = _frame(at, "rank", "score")
    first = at.selectbox(key="similar_id").value
    assert first not in t1["session_id"].tolist() and t1["score"].is_monotonic_decreasing
    other = at.selectbox(key="similar_id").options[3]
    at.selectbox(key="similar_id").set_value(other).run()
    _ok(at)
    t2 = _frame(at, "rank", "score")
    assert other not in t2["session_id"].tolist() and not t2["session_id"].equals(t1["session_id"])
    at.text_input(key="similar_steer_text").set_value("benzodiazepine effect").run()
    _ok(at)
    steered = _frame(at, "rank", "score", nth=1)
    assert len(steered) == len(t2)
    thumbs = [img for el in at.get("image") for img in el.proto.imgs]
    assert len(thumbs) == 4  # the query's and its top 3 neighbours' spectrogram thumbnails
    captions = " ".join(t.caption for t in thumbs)
    assert other in captions and all(s in captions for s in steered["session_id"].head(3))


def test_similar_thumbnails_come_from_the_store_without_signals(app, bundle_root, monkeypatch):
    """The neighbours' spectrogram thumbnails are the ones ``clef embed`` stored: the page shows
    them when no session's signals can be read (issue 18: 0.2-0.5 s per thumbnail otherwise)."""
    from clef.cohort import Cohort
    from clef.explore import thumbnail_png
    from clef.store import EmbeddingStore

    store = EmbeddingStore.open(Bundle.locate(bundle_root).store)

    def no_signals(self, session_id, **kwargs):
        raise AssertionError(f"signals of {session_id} read for a thumbnail")

    monkeypatch.setattr(Cohort, "session", no_signals)
    at = app("similar_sessions")
    _ok(at)
    top = _frame(at, "rank", "score")["session_id"].head(3).tolist()
    imgs = [img for el in at.get("image") for img in el.proto.imgs]
    assert len(imgs) == 4 and not at.warning
    for sid, img in zip([at.selectbox(key="similar_id").value, *top], imgs):
        th = store.thumbnail(sid)
        assert th is not None and img.caption.startswith(f"{sid} · 0-{th.span_s / 60:.0f} min")
    assert thumbnail_png(store.thumbnail(top[0])) != thumbnail_png(store.thumbnail(top[1]))


def test_similar_upload_real_and_bad_file(app, eegmmidb_edf):
    at = app("similar_sessions")
    at.radio(key="similar_source").set_value("Upload a recording").run()
    _ok(at)
    at.file_uploader(key="similar_upload").set_value(("bad.edf", b"0" * 4096,
                                                      "application/octet-stream")).run()
    assert at.error and "Fix:" in at.error[0].value and not at.exception
    at.file_uploader(key="similar_upload").set_value((eegmmidb_edf.name,
                                                      eegmmidb_edf.read_bytes(),
                                                      "application/octet-stream")).run()
    _ok(at)
    assert at.success and eegmmidb_edf.name in at.success[0].value
    assert len(_frame(at, "rank", "score")) == 10
    maps = [p for p in _plots(at) if any(tr.get("name") == "upload" for tr in p["data"])]
    assert len(maps) == 1


def test_similar_upload_refuses_wrong_units_and_low_rate(app, tmp_path):
    from test_io_plausibility import _edf, _relabel_units

    mv = _relabel_units(_edf(tmp_path / "g.edf"), tmp_path / "millivolts.edf", "mV")
    low = _edf(tmp_path / "low_rate.edf", sfreq=50.0, seconds=60.0)
    at = app("similar_sessions")
    at.radio(key="similar_source").set_value("Upload a recording").run()
    for path, words in ((mv, "1e3 times too large"), (low, "below 80 Hz")):
        at.file_uploader(key="similar_upload").set_value((path.name, path.read_bytes(),
                                                          "application/octet-stream")).run()
        assert not at.exception and at.error, path.name
        assert words in at.error[0].value, at.error[0].value
        assert "Fix:" in at.error[0].value


def test_similar_upload_shipped_real_example(app):
    at = app("similar_sessions")
    at.radio(key="similar_source").set_value("Upload a recording").run()
    _ok(at)
    assert not at.success
    at.toggle(key="similar_upload_example").set_value(True).run()
    _ok(at)
    assert at.success and "S001R03.edf" in at.success[0].value
    assert len(_frame(at, "rank", "score")) == 10


# ---- session viewer ---------------------------------------------------------------------------

def _trace_title(at) -> str:
    """The title above the viewer's traces (montage, gain, start, filters)."""
    return next(m.value for m in at.markdown if "µV/division" in m.value)


def _trace_image(at) -> str:
    """The address of the traces' image (the other image, the topomap, has a caption)."""
    return next(el.proto.imgs[0].url for el in at.get("image")
                if not el.proto.imgs[0].caption)


def test_viewer_montage_gain_time(app):
    at = app("session_viewer")
    _ok(at)
    assert "Double banana · 100 µV/division · 0.0 s" in _trace_title(at)
    first = _trace_image(at)
    at.radio(key="viewer_montage").set_value("average").run()
    _ok(at)
    assert "Average reference · 100 µV/division" in _trace_title(at)
    assert _trace_image(at) != first  # the traces were drawn again
    at.select_slider(key="viewer_gain").set_value(50).run()
    assert "· 50 µV/division" in _trace_title(at)
    at.slider(key="viewer_t").set_value(30.0).run()
    _ok(at)
    assert "· 30.0 s" in _trace_title(at)
    at.button(key="viewer_next").click().run()
    assert at.slider(key="viewer_t").value == pytest.approx(40.0)
    assert "· 40.0 s" in _trace_title(at)
    spec = [p for p in _plots(at) if p["data"][0]["type"] == "heatmap"]
    assert spec, "whole-session spectrogram"
    assert _frame(at, "field", "value")["field"].tolist()[0] == "session_id"


def test_viewer_concept_timeline_changes(app):
    at = app("session_viewer")
    bars1 = _arr(next(p for p in _plots(at) if p["data"][0]["type"] == "bar")["data"][0]["y"])
    at.text_input(key="viewer_concept").set_value("burst suppression").run()
    _ok(at)
    bars2 = _arr(next(p for p in _plots(at) if p["data"][0]["type"] == "bar")["data"][0]["y"])
    assert len(bars1) == len(bars2) and not np.allclose(bars1, bars2)
    ids = at.selectbox(key="viewer_id").options
    at.selectbox(key="viewer_id").set_value(ids[1]).run()
    _ok(at)
    assert at.slider(key="viewer_t").value == 0.0


# ---- model --------------------------------------------------------------------------------------

def test_model_page_card_and_probe(app, bundle_root):
    at = app("model")
    _ok(at)
    facts = _frame(at, "field", "value")
    assert "weights sha256" in facts["field"].tolist()
    assert any(m.value.startswith("#") or "CLEF" in m.value for m in at.markdown)
    assert (bundle_root / "probe").is_dir()
    names = at.selectbox(key="model_table").options
    before = [f for f in _frames(at) if "field" not in f.columns]  # the probe table shown
    assert len(names) > 1 and before
    at.selectbox(key="model_table").set_value(names[1]).run()
    _ok(at)
    after = [f for f in _frames(at) if "field" not in f.columns]
    assert after and not after[0].equals(before[0])


# ---- bundle location and the launch command ------------------------------------------------------

def test_bundle_locate_from_root_store_and_errors(bundle_root, tmp_path):
    b = Bundle.locate(bundle_root)
    assert all(getattr(b, p) is not None for p in ("cohort", "checkpoint", "store", "index", "map"))
    # from the index alone: its manifest names the store, siblings give the rest
    b2 = Bundle.locate(store=None, index=b.index)
    assert b2.store.resolve() == b.store.resolve() and b2.checkpoint.resolve() == \
        b.checkpoint.resolve()
    with pytest.raises(BundleNotFound, match="--store"):
        Bundle.locate(store=tmp_path / "nope")
    with pytest.raises(BundleNotFound, match="clef demo"):
        Bundle.locate(tmp_path)  # an empty folder is no bundle


def test_dashboard_command_binds_loopback_headless(bundle_root):
    from clef.demo import MAX_UPLOAD_MB, dashboard_command

    cmd = dashboard_command(bundle=bundle_root, port=8599)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboard/app.py")
    flags = dict(zip(cmd[5:cmd.index("--"):2], cmd[6:cmd.index("--"):2]))
    assert flags["--server.address"] == "127.0.0.1"
    assert flags["--server.port"] == "8599"
    assert flags["--server.headless"] == "true"
    assert flags["--server.fileWatcherType"] == "none"
    assert flags["--server.maxUploadSize"] == str(MAX_UPLOAD_MB)
    assert flags["--runner.postScriptGC"] == "false"  # a full GC per rerun cost 0.1-0.2 s a click
    assert cmd[cmd.index("--") + 1:] == ["--bundle", str(Path(bundle_root).resolve())]
    other = dashboard_command(store=Path(bundle_root) / "store", address="0.0.0.0")
    assert other[other.index("--server.address") + 1] == "0.0.0.0"


def test_cli_dashboard_refuses_missing_data(tmp_path):
    from typer.testing import CliRunner

    from clef.cli import app as cli

    res = CliRunner().invoke(cli, ["dashboard", "--bundle", str(tmp_path)])
    assert res.exit_code == 2 and "clef demo" in res.output


def test_build_demo_bundle_contents_and_overwrite(bundle_root, tmp_path):
    """The demo builder's bundle (the fixture's when it built one, else a minimal new one)."""
    import json as _json

    from clef.index import SessionIndex
    from clef.maps import CohortMap
    from clef.model import CLEFModel
    from clef.store import EmbeddingStore

    root = Path(bundle_root)
    if not (root / "bundle.json").is_file() or \
            _json.loads((root / "bundle.json").read_text()).get("n_sessions", 99) > 24:
        root = tmp_path / "mini"
        build_demo_bundle(root, n_sessions=8, seed=1, minutes=1.0, progress=False)
    info = _json.loads((root / "bundle.json").read_text())
    n = info["n_sessions"]
    store = EmbeddingStore.open(root / "store", verify=True)
    assert len(store) == n and store.manifest["states"] is True
    model = CLEFModel.from_pretrained(root / "checkpoint")
    index = SessionIndex.load(root / "index", model)  # refuses a mismatched model
    assert len(index) == n
    cmap = CohortMap.load(map_dir(root / "index"))  # the map lives inside its index
    assert set(cmap.coords["session_id"]) == set(store.session_ids)
    with pytest.raises(FileExistsError, match="not empty"):
        build_demo_bundle(root, n_sessions=8)


# ---- issue 18: compare page, state in the URL ---------------------------------------------------

def test_compare_page_and_viewer_url_state(app):
    at = app("compare")
    _ok(at)
    heat = [p for p in _plots(at) if p["data"][0]["type"] == "heatmap"]
    assert len(heat) >= 3  # two spectrograms and the state similarity
    # entered from the menu: nothing is written yet (Streamlit would push that write under the
    # previous page's path, a wrong Back step); the first interaction writes the whole state
    assert not set(at.query_params) & {"a", "b", "montage"}
    at.radio(key="compare_montage").set_value("average").run()
    _ok(at)
    assert {"a", "b"} <= set(at.query_params) and at.query_params["montage"] == "average"
    at = app("session_viewer")
    at.radio(key="viewer_montage").set_value("transverse").run()
    at.selectbox(key="viewer_notch").set_value(50).run()
    _ok(at)
    assert at.query_params["montage"] == "transverse" and at.query_params["notch"] == "50"
    assert "notch 50" in _trace_title(at)
