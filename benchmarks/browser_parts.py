"""What the parts of a dashboard click cost in this Chromium (issue 18's 0.5 s goal).

Three measurements, in headless Chromium (Debian's ``/usr/bin/chromium``, software WebGL):

- **thumbnails**: a bare Streamlit page whose button redraws four session spectrograms, as
  Plotly heatmaps (the Similar page before) or as PNG thumbnails (``clef.explore.spectrogram_png``,
  now); click-to-paint until all four show the new data.
- **map drawing**: Plotly alone, a 10k-point WebGL scatter (the cohort map) against a raster
  image of all points plus a selectable 2,000-point SVG subsample (an alternative, not built);
  ``newPlot`` to the second frame after it resolves.
- **viewer clicks**: the dashboard on the sample bundle, the viewer's montage change and ▶ step,
  with Streamlit's full ``gc.collect()`` after every run on and off (``runner.postScriptGC``);
  every websocket message is timed in the page, so the table also says when the last message of
  the run arrived.

Usage: ``python benchmarks/browser_parts.py [--repeats 7] [--out F]``
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dashboard_browser as db  # the same browser settings and measuring code
from browser_floor import CHROME_ARGS, TIME_JS, report

THUMB_APP = '''import numpy as np, plotly.graph_objects as go, streamlit as st
from clef.explore import spectrogram_png
n = st.session_state.get("n", 0)
if st.button("Go"):
    n = st.session_state["n"] = n + 1
rng = np.random.default_rng(n)
st.markdown(f"### Count {n}")
for i, col in enumerate(st.columns(4)):
    z = rng.normal(size=(60, 150)).cumsum(1)  # (freqs, windows), like a 10-min spectrogram
    if "%s" == "heatmaps":
        fig = go.Figure(go.Heatmap(z=z, colorscale="Viridis"))
        fig.update_layout(height=220, title=f"S{i} {n}", margin=dict(l=50, r=10, t=30, b=40))
        col.plotly_chart(fig, key=f"p{i}")
    else:
        col.image(spectrogram_png(z), caption=f"S{i} {n}", output_format="PNG")
'''
THUMB_WAIT = """(want) => { window.__t = null; window.__ms = null;
  document.addEventListener('click', e => { window.__t = e.timeStamp; },
                            {once: true, capture: true});
  const done = () => {
    const h = [...document.querySelectorAll('h3')].find(e => e.textContent.trim() === 'Count ' + want);
    const t = [...document.querySelectorAll('.gtitle, [data-testid="stImageCaption"], [data-testid="caption"]')]
      .filter(e => e.textContent.trim().endsWith(' ' + want)).length;
    return h && t >= 4 && [...document.querySelectorAll('img')].every(i => i.complete)
      && !document.querySelector('[data-stale="true"]');
  };
  const tick = () => { if (window.__t !== null && done()) {
      requestAnimationFrame(() => { window.__ms = performance.now() - window.__t; }); return; }
    requestAnimationFrame(tick); };
  tick(); }"""
WS_LOG = """(() => { const O = window.WebSocket; window.__ws = [];
  class W extends O {
    constructor(...a) { super(...a);
      this.addEventListener('message', () => window.__ws.push(performance.now())); } }
  window.WebSocket = W; })();"""


def _serve(cmd: list[str], url: str):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        db.wait_healthy(url, proc)
    except RuntimeError:
        _stop(proc)
        raise
    return proc


def _stop(proc) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def thumbnails(browser, work: Path, kind: str, repeats: int) -> list[float]:
    """Click-to-paint (ms) of four spectrograms redrawn as ``kind`` (heatmaps or thumbnails)."""
    app = work / f"thumbs_{kind}.py"
    app.write_text(THUMB_APP % kind)
    port = db._free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve([sys.executable, "-m", "streamlit", "run", str(app), "--server.headless",
                   "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                   "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                  url)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        page.get_by_text("Count 0").wait_for()
        out = []
        for i in range(1, repeats + 2):
            page.evaluate(THUMB_WAIT, i)
            page.get_by_role("button", name="Go").click()
            page.wait_for_function("() => window.__ms !== null", timeout=60_000)
            out.append(page.evaluate("() => window.__ms"))
            time.sleep(0.4)
        page.close()
        return out[1:]
    finally:
        _stop(proc)


def map_drawing(browser, work: Path, repeats: int) -> dict[str, list[float]]:
    """``newPlot`` (ms) of a 10k-point WebGL map and of a raster + 2k-point SVG subsample."""
    import plotly
    from PIL import Image

    rng = np.random.default_rng(0)
    n, w, h = 10_000, 900, 650
    x, y, c = rng.normal(size=n), rng.normal(size=n), rng.integers(0, 8, n)
    img = np.zeros((h, w, 4), np.uint8)
    px = ((x - x.min()) / np.ptp(x) * (w - 3)).astype(int)
    py = ((y.max() - y) / np.ptp(y) * (h - 3)).astype(int)
    colours = rng.integers(0, 255, (8, 3))
    for dx in range(3):
        for dy in range(3):
            img[py + dy, px + dx, :3], img[py + dy, px + dx, 3] = colours[c], 255
    buf = io.BytesIO()
    Image.fromarray(img, "RGBA").save(buf, "PNG")
    sub = rng.choice(n, 2000, replace=False)
    data = {"x": x.round(3).tolist(), "y": y.round(3).tolist(), "c": c.tolist(),
            "sx": x[sub].round(3).tolist(), "sy": y[sub].round(3).tolist(),
            "img": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(),
            "r": [float(x.min()), float(x.max()), float(y.min()), float(y.max())]}
    js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    html = work / "map.html"
    html.write_text(f'<html><head><script src="{js.as_uri()}"></script></head><body>'
                    '<div id="g" style="width:1000px;height:700px"></div><script>'
                    f"window.D={json.dumps(data)};</script></body></html>")
    gl = ("[{type:'scattergl', mode:'markers', x:D.x, y:D.y, marker:{size:4, color:D.c}}]",
          "{dragmode:'lasso'}")
    raster = ("[{type:'scatter', mode:'markers', x:D.sx, y:D.sy, marker:{size:4, opacity:0.01}}]",
              ("{dragmode:'lasso', xaxis:{range:[D.r[0], D.r[1]]}, yaxis:{range:[D.r[2], D.r[3]]},"
               " images:[{source:D.img, xref:'x', yref:'y', x:D.r[0], y:D.r[3],"
               " sizex:D.r[1]-D.r[0], sizey:D.r[3]-D.r[2], sizing:'stretch', layer:'below'}]}"))
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(html.as_uri())
    page.wait_for_function("() => window.Plotly !== undefined")
    out: dict[str, list[float]] = {"gl": [], "raster": []}
    for _ in range(repeats + 1):
        for name, (traces, layout) in (("gl", gl), ("raster", raster)):
            out[name].append(page.evaluate(
                TIME_JS, f"(Plotly.purge('g'), Plotly.newPlot('g', {traces}, {layout}))"))
    page.close()
    return {k: v[1:] for k, v in out.items()}


def viewer_clicks(browser, gc_on: bool, repeats: int) -> dict[str, list[float]]:
    """Click-to-paint and last-message time (ms) of the viewer's montage change and ▶ step."""
    import pandas as pd

    from clef.bundle import DEFAULT_ROOT, Bundle
    from clef.demo import dashboard_command

    port = db._free_port()
    url = f"http://127.0.0.1:{port}"
    extra = ["--runner.postScriptGC", "true"] if gc_on else None  # the later flag wins
    proc = _serve(dashboard_command(bundle=DEFAULT_ROOT, port=port, extra=extra), url)
    table = pd.read_parquet(Bundle.locate(DEFAULT_ROOT).index / "sessions.parquet")
    sid = str(table["session_id"].iloc[1])
    out: dict[str, list[float]] = {}
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(WS_LOG)
        page.goto(f"{url}/viewer?session={sid}")
        page.get_by_text("µV/division", exact=False).first.wait_for(timeout=120_000)
        db._idle(page)
        radio = page.locator('[data-testid="stRadio"]').first
        nxt = page.get_by_role("button", name="▶")
        steps = [("montage", lambda i: radio.get_by_text(
            ["Average reference", "Double banana"][i % 2], exact=True).click)] * (repeats + 1)
        steps += [("▶ step", lambda i: nxt.click)] * (repeats + 1)
        for i, (name, action) in enumerate(steps):
            page.evaluate("() => { window.__ws = []; }")
            ms = db.measure(page, "click", db.SIG_TRACES, action(i))
            last = page.evaluate("() => Math.max(...window.__ws) - window.__lat.t0")
            out.setdefault(f"{name}: click-to-paint", []).append(ms)
            out.setdefault(f"{name}: last message of the run", []).append(last)
        page.close()
    finally:
        _stop(proc)
    half = repeats + 1  # drop each kind's warm-up
    return {k: v[1:half] for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None, help="markdown table (default: print)")
    args = ap.parse_args()
    if not db.CHROMIUM.exists():
        sys.exit(f"{db.CHROMIUM} not found (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    load = os.getloadavg()[0]
    rows: list[tuple[str, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="clef-parts-") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(db.CHROMIUM), args=CHROME_ARGS)
        for kind in ("heatmaps", "thumbnails", "heatmaps", "thumbnails"):  # alternating
            rows.append((f"4 spectrograms as {kind}: click-to-paint",
                         thumbnails(browser, Path(tmp), kind, args.repeats)))
        res = map_drawing(browser, Path(tmp), args.repeats)
        rows.append(("map, Plotly alone: 10k WebGL points, newPlot", res["gl"]))
        rows.append(("map, Plotly alone: raster of 10k + 2k SVG points, newPlot", res["raster"]))
        for gc_on in (True, False, True, False):  # alternating
            for name, v in viewer_clicks(browser, gc_on, args.repeats).items():
                rows.append((f"viewer {name}, post-run GC {'on' if gc_on else 'off'}", v))
        browser.close()
    report("Parts of a click in this Chromium",
           f"python benchmarks/browser_parts.py --repeats {args.repeats}", args.repeats, load,
           rows, args.out, note="; rows of the same name are alternating runs")


if __name__ == "__main__":
    main()
