"""The live Plotly chart (dashboard/live_chart.py) without a browser: its frame's folder is made
under the user's cache from the repository's files and the installed plotly bundle, it falls back
to st.plotly_chart with a reason when it cannot be set up, and its frame speaks the components-v1
message protocol of the installed Streamlit. The browser side is tests/e2e/test_live_chart.py."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]
DASH = REPO / "dashboard"


@pytest.fixture()
def live(monkeypatch, tmp_path):
    """dashboard/live_chart.py, freshly loaded, with its cache under ``tmp_path``."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CLEF_LIVE_CHARTS", raising=False)
    spec = importlib.util.spec_from_file_location("live_chart_under_test", DASH / "live_chart.py")
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, mod)  # declare_component looks its caller up
    spec.loader.exec_module(mod)
    return mod


def test_assets_folder_is_made_in_the_cache_not_the_repository(live, tmp_path):
    root = live.cache_root()
    assert root == tmp_path / "cache" / "clef" / "live_plotly"
    folder = live.prepare_assets()
    assert folder.parent == root and REPO not in folder.resolve().parents
    for name in (*live.FILES, live.PLOTLY_JS):
        assert (folder / name).is_file(), name
    assert (folder / "plotly.min.js").read_bytes() == live.plotly_bundle().read_bytes()
    assert (folder / "live_plotly.js").read_text() == (live.ASSETS / "live_plotly.js").read_text()
    stamp = (folder / "index.html").stat().st_mtime_ns
    assert live.prepare_assets() == folder  # made once
    assert (folder / "index.html").stat().st_mtime_ns == stamp
    assert not [p for p in root.iterdir() if p.name.startswith(".building-")]


def test_default_cache_is_under_home_without_xdg(live, monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert live.cache_root() == tmp_path / "home" / ".cache" / "clef" / "live_plotly"


def test_edited_frame_files_get_a_new_folder(live, tmp_path):
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in live.FILES:
        (assets / name).write_text((live.ASSETS / name).read_text())
    first = live.prepare_assets(tmp_path / "c", assets=assets)
    (assets / "live_plotly.js").write_text("// edited\n")
    second = live.prepare_assets(tmp_path / "c", assets=assets)
    assert first != second and (second / "live_plotly.js").read_text() == "// edited\n"


def test_missing_plotly_bundle_falls_back_with_a_reason(live, monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match="plotly.min.js"):
        live.prepare_assets(tmp_path / "c", bundle=tmp_path / "gone" / "plotly.min.js")
    monkeypatch.setattr(live, "plotly_bundle", lambda: tmp_path / "gone" / "plotly.min.js")
    live._component.cache_clear()
    why = live.why_not_live()
    assert why and "could not be set up" in why and "plotly.min.js" in why
    monkeypatch.setenv("CLEF_LIVE_CHARTS", "0")
    assert "CLEF_LIVE_CHARTS=0" in live.why_not_live()


def test_live_chart_can_be_set_up_here(live):
    assert live.why_not_live() is None  # outside AppTest, with plotly's bundle installed


SCRIPT = """
import sys
sys.path.insert(0, {dash!r})
import plotly.graph_objects as go
import live_chart
fig = go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 0, 1], customdata=[0, 1, 2], mode="markers"))
sel = live_chart.live_chart(fig, "chart", select=True)
live_chart.live_chart(fig, "plain")
import streamlit as st
st.write("selection", sel)
"""


def _app(tmp_path) -> AppTest:
    script = tmp_path / "app.py"
    script.write_text(SCRIPT.format(dash=str(DASH)))
    at = AppTest.from_file(str(script), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_under_apptest_it_is_a_plotly_chart_without_caption(tmp_path, monkeypatch):
    monkeypatch.delenv("CLEF_LIVE_CHARTS", raising=False)
    sys.modules.pop("live_chart", None)
    at = _app(tmp_path)
    assert len(at.get("plotly_chart")) == 2
    assert not at.caption


def test_switched_off_it_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("CLEF_LIVE_CHARTS", "0")
    sys.modules.pop("live_chart", None)
    at = _app(tmp_path)
    assert len(at.get("plotly_chart")) == 2
    said = "Chart drawn by st.plotly_chart: live charts are off (CLEF_LIVE_CHARTS=0)."
    assert [c.value for c in at.caption] == [said, said]


def test_frame_speaks_the_installed_streamlit_protocol():
    """The message types live_plotly.js sends and reads are those of this Streamlit's frontend
    (components v1); a Streamlit upgrade that renames them fails here, not only in a browser."""
    js = (DASH / "components" / "live_plotly" / "live_plotly.js").read_text()
    static = Path(streamlit.__file__).parent / "static"
    texts = [p.read_text(errors="ignore") for p in static.rglob("*.js")]
    frontend = "\n".join(t for t in texts if "streamlit:componentReady" in t
                         or "isStreamlitMessage" in t)
    for word in ("streamlit:componentReady", "streamlit:render", "streamlit:setComponentValue",
                 "streamlit:setFrameHeight", "isStreamlitMessage"):
        assert word in js, word
        assert word in frontend, word
    assert "apiVersion: 1" in js
    html = (DASH / "components" / "live_plotly" / "index.html").read_text()
    assert 'src="plotly.min.js"' in html and "http" not in html.split("<body>")[0].lower()
    assert not (DASH / "components" / "live_plotly" / "plotly.min.js").exists()
    assert os.path.getsize(DASH / "components" / "live_plotly" / "live_plotly.js") < 20_000
