"""Dashboard bundles: where the cohort, checkpoint, store, index, map and probe results live.

A bundle is a folder with one sub-folder per artefact (the layout of ``data_samples/``)::

    cohort/      clef.cohort folder (sessions.parquet, tasks.parquet, cohort.json)
    checkpoint/  CLEFModel.save_pretrained folder
    store/       clef.store.EmbeddingStore
    index/       clef.index.SessionIndex
    map/         clef.maps.CohortMap
    probe/       optional probe results (markdown, CSV, PNG)
    bundle.json  what made it; optional ``{"parts": {"checkpoint": "clef-tiny"}}`` names folders

:func:`build_demo_bundle` makes one from a synthetic cohort (tests, the ``clef demo`` fallback and
``data_samples/``); :meth:`Bundle.locate` finds the parts from a root folder or explicit paths.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from clef.errors import ClefError

PARTS = ("cohort", "checkpoint", "store", "index", "map", "probe")
BUILT = ("cohort", "checkpoint", "store", "index", "map")  # what build_demo_bundle writes
DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "data_samples"


class BundleNotFound(ClefError):
    """The dashboard's data (store, index, checkpoint) cannot be found."""


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _existing(p) -> Path | None:
    if p is None or str(p) == "":
        return None
    p = Path(p).expanduser()
    return p if p.exists() else None


@dataclass
class Bundle:
    """Paths of everything the dashboard reads (None = absent; only store/index/checkpoint needed).

    Attributes
    ----------
    root : Path or None
    cohort, checkpoint, store, index, map, probe : Path or None
    """

    root: Path | None = None
    cohort: Path | None = None
    checkpoint: Path | None = None
    store: Path | None = None
    index: Path | None = None
    map: Path | None = None
    probe: Path | None = None

    @classmethod
    def locate(cls, root=None, *, store=None, index=None, checkpoint=None, cohort=None,
               map=None, probe=None, require: bool = True) -> Bundle:
        """Resolve a bundle from a root folder and/or explicit paths.

        Explicit paths win; the rest come from ``root/<part>``, then from the manifests (an index
        records its store; a store may record its cohort and checkpoint), then from folders next
        to the store.

        Parameters
        ----------
        root : path, optional
            Bundle folder; default ``data_samples/`` when no explicit store/index is given.
        store, index, checkpoint, cohort, map, probe : path, optional
        require : bool
            Raise ``BundleNotFound`` unless a store, an index and a checkpoint are found.

        Returns
        -------
        Bundle
        """
        given = {"store": store, "index": index, "checkpoint": checkpoint, "cohort": cohort,
                 "map": map, "probe": probe}
        for name, value in given.items():
            if value not in (None, "") and not Path(value).expanduser().exists():
                raise BundleNotFound(f"--{name} {value}: no such folder. Fix: pass an existing "
                                     f"{name} folder, or drop --{name} to use the default.")
        if root is None and store in (None, "") and index in (None, ""):
            root = DEFAULT_ROOT
        root_p = _existing(root)
        found = {k: _existing(v) for k, v in given.items()}
        if root_p is not None:
            # bundle.json may name a part's folder, e.g. {"parts": {"checkpoint": "clef-tiny"}}
            declared = _read_json(root_p / "bundle.json").get("parts") or {}
            for part in PARTS:
                if found[part] is None:
                    found[part] = _existing(root_p / declared.get(part, part))
        if found["store"] is None and found["index"] is not None:
            recorded = _read_json(found["index"] / "manifest.json").get("store")
            if recorded:  # relative paths are relative to the index folder
                found["store"] = _existing(found["index"] / recorded)
        if found["store"] is not None:
            sm = _read_json(found["store"] / "manifest.json")
            for part in ("cohort", "checkpoint", "map"):
                if found[part] is None and sm.get(part):
                    cand = Path(sm[part])
                    if not cand.is_absolute():
                        cand = found["store"] / cand
                    found[part] = _existing(cand)
            parent = found["store"].parent  # siblings of the store folder
            declared = _read_json(parent / "bundle.json").get("parts") or {}
            for part in PARTS:
                if found[part] is None:
                    found[part] = _existing(parent / declared.get(part, part))
        bundle = cls(root=root_p, **found)
        if require:
            missing = [p for p in ("store", "index", "checkpoint") if getattr(bundle, p) is None]
            if missing:
                where = root_p or root or "(no root)"
                raise BundleNotFound(
                    f"dashboard data not found: no {', '.join(missing)} (looked in {where} and "
                    "next to the store). Fix: pass --bundle DIR or --store STORE --index INDEX "
                    "--checkpoint CHECKPOINT, or build a demo bundle (synthetic cohort, "
                    "random-init model) with `clef demo --build DIR`.")
        return bundle

    def to_dict(self) -> dict:
        return {k: (str(v) if v is not None else None) for k, v in asdict(self).items()}


def build_demo_bundle(out, n_sessions: int = 48, seed: int = 0, checkpoint=None, *,
                      minutes: float = 3.0, config: str = "clef-tiny", progress: bool = True,
                      overwrite: bool = False) -> Bundle:
    """Build a small self-contained dashboard bundle from a synthetic cohort.

    Parameters
    ----------
    out : path
        Bundle folder to create (see module docstring for the layout).
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
        Rebuild in a non-empty folder: its cohort/, store/, index/, map/ (and checkpoint/ unless it
        is ``checkpoint`` itself) are replaced; probe/ and other files are kept.

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
    cmap.save(out / "map", created_by="clef.demo.build_demo_bundle")

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
MAX_UPLOAD_MB = 200  # streamlit server.maxUploadSize (the upload widget's limit)


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
