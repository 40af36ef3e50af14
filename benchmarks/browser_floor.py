"""The floor under the dashboard's click-to-paint: what this Chromium and Streamlit cost alone.

Issue 18 asks for <= 0.5 s from a click to the painted answer. `dashboard_browser.py` measures
the dashboard; this script measures, in the same headless Chromium (Debian's
``/usr/bin/chromium``, ``--disable-gpu``: WebGL is software-rendered), the two costs no dashboard
code can avoid:

- **a trivial Streamlit rerun**: a two-line app (a button and a heading); from the click's
  ``event.timeStamp`` to the first animation frame after the heading shows the new count;
- **Plotly alone** (no Streamlit), on a page with ``plotly.min.js`` from the installed plotly
  package: a scatter of N points (``scattergl``, as the cohort map draws, and SVG ``scatter``;
  and a 100-point SVG one, the size of the dashboard's small charts),
  timed from the call to the second animation frame after it resolves, for
  ``Plotly.newPlot`` (a new chart: what a Streamlit chart whose figure changed costs),
  ``Plotly.restyle`` of the marker colours and ``Plotly.react`` with new colours (what a chart
  kept mounted could cost for "colour by another field").

Usage: ``python benchmarks/browser_floor.py [--points 10000] [--repeats 7] [--out F]``
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard_browser import CHROME_ARGS as _DASHBOARD_ARGS  # the same browser settings
from dashboard_browser import CHROMIUM, _free_port, wait_healthy

CHROME_ARGS = [*_DASHBOARD_ARGS, "--allow-file-access-from-files"]  # Plotly's page is a file
APP = """import streamlit as st
if st.button("Go"):
    st.session_state.n = st.session_state.get("n", 0) + 1
st.markdown(f"### Count {st.session_state.get('n', 0)}")
"""
ARM_JS = """(want) => { window.__t = null; window.__ms = null;
  document.addEventListener('click', e => { window.__t = e.timeStamp; },
                            {once: true, capture: true});
  const tick = () => {
    const h = [...document.querySelectorAll('h3')].find(
      e => e.textContent.trim() === 'Count ' + want);
    if (h && window.__t !== null) {
      requestAnimationFrame(() => { window.__ms = performance.now() - window.__t; });
      return;
    }
    requestAnimationFrame(tick);
  };
  tick(); }"""
TIME_JS = """async (expr) => { const t0 = performance.now(); await eval(expr);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return performance.now() - t0; }"""


def trivial_rerun(browser, work: Path, repeats: int) -> list[float]:
    """Click-to-paint (ms) of a Streamlit rerun that only changes one heading."""
    app = work / "app.py"
    app.write_text(APP)
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port),
           "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}")
        page.get_by_text("Count 0").wait_for()
        out = []
        for i in range(1, repeats + 2):
            page.evaluate(ARM_JS, i)
            page.get_by_role("button", name="Go").click()
            page.wait_for_function("() => window.__ms !== null")
            out.append(page.evaluate("() => window.__ms"))
            time.sleep(0.3)
        page.close()
        return out[1:]  # the first is a warm-up
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def plotly_alone(browser, work: Path, n: int, kind: str, repeats: int) -> dict[str, list[float]]:
    """Milliseconds to paint ``newPlot``, ``restyle`` and ``react`` of an n-point scatter."""
    import plotly

    js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    rng = np.random.default_rng(0)
    data = {"x": rng.normal(size=n).round(3).tolist(), "y": rng.normal(size=n).round(3).tolist(),
            "c": [rng.integers(0, 8, n).tolist() for _ in range(4)]}
    html = work / f"plotly-{kind}.html"
    html.write_text(f'<html><head><script src="{js.as_uri()}"></script></head><body>'
                    '<div id="g" style="width:1000px;height:700px"></div><script>'
                    f"window.D={json.dumps(data)};</script></body></html>")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(html.as_uri())
    page.wait_for_function("() => window.Plotly !== undefined")
    trace = f"{{type:'{kind}', mode:'markers', x:D.x, y:D.y, marker:{{size:4, color:D.c[%d]}}}}"
    layout = "{dragmode:'lasso'}"
    out: dict[str, list[float]] = {"newPlot": [], "restyle": [], "react": []}
    for i in range(repeats + 1):
        out["newPlot"].append(page.evaluate(
            TIME_JS, f"(Plotly.purge('g'), Plotly.newPlot('g', [{trace % 0}], {layout}))"))
        out["restyle"].append(page.evaluate(
            TIME_JS, f"Plotly.restyle('g', {{'marker.color': [D.c[{1 + i % 3}]]}})"))
        out["react"].append(page.evaluate(
            TIME_JS, f"Plotly.react('g', [{trace % (1 + (i + 1) % 3)}], {layout})"))
    page.close()
    return {k: v[1:] for k, v in out.items()}


def _cell(v: list[float]) -> str:
    return f"{statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None, help="markdown table (default: print)")
    args = ap.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} not found (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="clef-floor-") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        rows.append(("Streamlit: trivial rerun (button -> heading), click-to-paint",
                     trivial_rerun(browser, Path(tmp), args.repeats)))
        for kind, n in (("scattergl", args.points), ("scatter", args.points), ("scatter", 100)):
            res = plotly_alone(browser, Path(tmp), n, kind, args.repeats)
            for name, what in (("newPlot", "new chart"), ("restyle", "new colours in place"),
                               ("react", "new figure in place")):
                rows.append((f"Plotly alone, {n:,} points {kind}: {name} ({what})", res[name]))
        browser.close()
    report("Floor of click-to-paint in this Chromium",
           f"python benchmarks/browser_floor.py --points {args.points} --repeats {args.repeats}",
           args.repeats, load, rows, args.out)


def report(title: str, command: str, repeats: int, load: float,
           rows: list[tuple[str, list[float]]], out: Path | None, note: str = "") -> None:
    """Print (and with ``out`` write) a markdown table of ``rows`` (name, milliseconds)."""
    lines = [f"### {title}", "",
             (f"Command: `{command}`; {platform.platform()}, {os.cpu_count()} CPU cores, load "
              f"average at start {load:.1f}, end {os.getloadavg()[0]:.1f}. Median (min-max) of "
              f"{repeats} after one warm-up, milliseconds{note}."), "",
             "| what | ms |", "|---|---|", *[f"| {name} | {_cell(v)} |" for name, v in rows], ""]
    text = "\n".join(lines)
    if out:
        out.write_text(text)
    print(text if out is None else f"{text}\n(written to {out})")


if __name__ == "__main__":
    main()
