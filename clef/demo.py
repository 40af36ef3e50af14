"""Demo bundles and the dashboard launcher.

:func:`build_demo_bundle` makes a self-contained bundle (layout: :mod:`clef.bundle`) from a
synthetic cohort, for tests, ``clef demo --build`` and trying the app; :func:`dashboard_command` /
:func:`launch_dashboard` start the Streamlit app on a bundle.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from clef.bundle import MAX_UPLOAD_MB, Bundle, map_dir
from clef.errors import BundleNotFound

BUILT = ("cohort", "checkpoint", "store", "index")  # what build_demo_bundle writes (map: index/map)


def build_demo_bundle(out, n_sessions: int = 48, seed: int = 0, checkpoint=None, *,
                      minutes: float = 3.0, config: str = "clef-tiny", progress: bool = True,
                      overwrite: bool = False) -> Bundle:
    """Build a small self-contained dashboard bundle from a synthetic cohort.

    Parameters
    ----------
    out : path
        Bundle folder to create (layout: :mod:`clef.bundle`).
    n_sessions : int
        Synthetic sessions (a few dozen is enough to try every page).
    seed : int
        Cohort and model-initialisation seed.
    checkpoint : path, optional
        A trained ``CLEFModel`` folder, copied into ``out/checkpoint``; None = a randomly
        initialised ``config`` model (fine for trying the app, meaningless scores).
    minutes : float
        Length of each synthetic session (signals are regenerated on demand, never stored).
    config : str
        Named model config for the random model.
    progress : bool
        Progress bars.
    overwrite : bool
        Rebuild in a non-empty folder: its cohort/, store/, index/ (with index/map/) and
        checkpoint/ (unless it is ``checkpoint`` itself) are replaced; probe/ and other files are
        kept.

    Returns
    -------
    Bundle
    """
    import numpy as np
    import torch

    from clef.cohort import Cohort
    from clef.index import SessionIndex
    from clef.maps import CohortMap
    from clef.model import CLEFModel
    from clef.synth import generate_cohort

    out = Path(out)
    if n_sessions < 8:
        raise ValueError(f"n_sessions={n_sessions}: a map needs at least 8 sessions. Fix: pass "
                         "n_sessions >= 8.")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty. Fix: pick a new folder or overwrite=True.")
        for part in BUILT:  # probe/ results and other files are kept
            if (out / part).exists() and not (checkpoint is not None and part == "checkpoint"
                                              and Path(checkpoint).resolve()
                                              == (out / part).resolve()):
                shutil.rmtree(out / part)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    cohort_dir = out / "cohort"
    generate_cohort(cohort_dir, n_sessions=n_sessions, seed=seed, minutes=minutes,
                    signals="none", progress=progress, created_by="clef.demo.build_demo_bundle")
    cohort = Cohort.load(cohort_dir)

    ckpt_dir = out / "checkpoint"
    if checkpoint is None:
        torch.manual_seed(seed)
        model = CLEFModel.from_config(config)
        model.save_pretrained(ckpt_dir, card={
            "training_data": f"none: random initialisation (torch seed {seed})",
            "command": f"clef.demo.build_demo_bundle(n_sessions={n_sessions}, seed={seed})",
            "notes": "A demo model: its embeddings show how the explorer works, not clinical "
                     "structure. Use a trained checkpoint (data_samples/) for meaningful scores."})
    elif Path(checkpoint).resolve() != ckpt_dir.resolve():
        shutil.copytree(checkpoint, ckpt_dir)

    from clef.embed import EmbedConfig, embed_cohort

    store = embed_cohort(cohort, ckpt_dir, out / "store",
                         EmbedConfig(scheduler="none", states=True, progress=progress),
                         created_by="clef.demo.build_demo_bundle")
    index = SessionIndex.build(store, progress=progress)
    index.save(out / "index", created_by="clef.demo.build_demo_bundle")
    cmap = CohortMap.fit(store, seed=seed, progress=progress)
    cmap.save(map_dir(out / "index"), created_by="clef.demo.build_demo_bundle")

    info = {"created_by": "clef.demo.build_demo_bundle", "n_sessions": int(n_sessions),
            "seed": int(seed), "minutes": float(minutes),
            "checkpoint": "random init (" + config + ")" if checkpoint is None else str(checkpoint),
            "seconds": round(time.perf_counter() - t0, 1),
            "embedding_dim": int(np.asarray(store.embeddings).shape[1])}
    from clef.store import atomic_write_json

    atomic_write_json(out / "bundle.json", info)
    return Bundle.locate(out)


# ---- launching the dashboard -------------------------------------------------------------------

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def dashboard_command(*, bundle=None, store=None, index=None, checkpoint=None, cohort=None,
                      map=None, address: str = "127.0.0.1", port: int = 8501,
                      python: str | None = None, extra: list[str] | None = None) -> list[str]:
    """The ``streamlit run dashboard/app.py`` command line for a bundle.

    The server binds to ``address`` (loopback by default), runs headless, without a file watcher,
    with a ``MAX_UPLOAD_MB`` upload limit; bundle paths follow ``--`` for ``dashboard/state.py``.
    """
    import sys

    if not APP.is_file():
        raise BundleNotFound(f"{APP}: the dashboard app is missing (clef was installed without "
                             "its dashboard/ folder). Fix: run from a source checkout "
                             "(`pip install -e .`).")
    cmd = [python or sys.executable, "-m", "streamlit", "run", str(APP),
           "--server.address", str(address), "--server.port", str(int(port)),
           "--server.headless", "true", "--server.fileWatcherType", "none",
           "--server.maxUploadSize", str(MAX_UPLOAD_MB), "--browser.gatherUsageStats", "false",
           # no full gc.collect() after every rerun: with the model, index and tables of a 10k-
           # or 100k-session bundle in memory it added up to 0.2-0.6 s to a click
           # (benchmarks/results/dashboard_browser.md); Python's own generational collector runs
           "--runner.postScriptGC", "false",
           *(extra or []), "--"]
    for name, value in (("bundle", bundle), ("store", store), ("index", index),
                        ("checkpoint", checkpoint), ("cohort", cohort), ("map", map)):
        if value is not None:
            cmd += [f"--{name}", str(Path(value).expanduser().resolve())]
    return cmd


def launch_dashboard(**kwargs) -> int:
    """Check the bundle, then run the dashboard in the foreground (Ctrl+C stops it).

    Keyword arguments are those of :func:`dashboard_command`; returns streamlit's exit code.
    """
    import subprocess

    Bundle.locate(kwargs.get("bundle"), store=kwargs.get("store"), index=kwargs.get("index"),
                  checkpoint=kwargs.get("checkpoint"), cohort=kwargs.get("cohort"),
                  map=kwargs.get("map"))
    cmd = dashboard_command(**kwargs)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0
