"""The dashboard's data contract: where the cohort, checkpoint, store, index, map and probes live.

A bundle is a folder with one sub-folder per artefact (the layout of ``data_samples/``)::

    cohort/      clef.cohort folder (sessions.parquet, tasks.parquet, cohort.json)
    checkpoint/  CLEFModel.save_pretrained folder
    store/       clef.store.EmbeddingStore
    index/       clef.index.SessionIndex
      map/       clef.maps.CohortMap of the index's sessions (see "where the map lives")
    probe/       optional probe results (markdown, CSV, PNG)
    bundle.json  what made it; optional ``{"parts": {"checkpoint": "clef-tiny"}}`` names folders

Where the map lives (one rule): a cohort map belongs to an index and is kept inside it, in
``INDEX/map`` (:func:`map_dir`). ``clef index`` (``--map``, the default) and ``clef map`` write it
there, :meth:`Bundle.locate` (so ``clef dashboard`` and the notebooks) read it from there; only an
explicit ``--map DIR`` points elsewhere.

Where your own cohort's parts live (one rule): everything built from a cohort folder ``DIR`` is
written into it, so ``clef dashboard --cohort DIR`` finds it all::

    DIR/                 clef cohort build --recordings RECORDINGS --out DIR
      store/             clef embed --cohort DIR          (default --out: DIR/store)
      index/             clef index --cohort DIR          (default --out: the store's sibling index/)
        map/             fitted by clef index (or clef map --index DIR/index)
    checkpoint           the one the store's manifest records (default: the shipped clef-tiny)

:func:`cohort_store_dir` and :func:`store_index_dir` are that rule; the commands' defaults use them.

:meth:`Bundle.locate` finds the parts from a root folder or explicit paths;
:func:`clef.demo.build_demo_bundle` makes a bundle from a synthetic cohort.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from clef.errors import BundleNotFound

PARTS = ("cohort", "checkpoint", "store", "index", "probe")  # folders named in a bundle root
MAP_DIRNAME = "map"
DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "data_samples"
# The dashboard's upload limit: streamlit's server.maxUploadSize (set by clef.demo's launcher) and
# the size clef.explore.upload accepts. Here so both read it without the explore layer importing
# the launcher.
MAX_UPLOAD_MB = 200


def map_dir(index) -> Path:
    """The folder of an index's cohort map: ``INDEX/map`` (the one place a map lives).

    Parameters
    ----------
    index : path
        Index folder (``clef index --out``); ``clef index --map`` and ``clef map`` fit the map
        into it.

    Returns
    -------
    Path
    """
    return Path(index) / MAP_DIRNAME


def cohort_store_dir(cohort) -> Path:
    """Where ``clef embed --cohort DIR`` writes its store by default: ``DIR/store``.

    Parameters
    ----------
    cohort : path
        Cohort folder (``clef cohort build --out``).

    Returns
    -------
    Path
    """
    return Path(cohort) / "store"


def store_index_dir(store) -> Path:
    """Where ``clef index`` writes a store's index by default: the store's sibling ``index/``.

    For a cohort's store (``DIR/store``) that is ``DIR/index``; for a bundle (``data_samples/``)
    ``data_samples/index``.

    Parameters
    ----------
    store : path
        Store folder (``clef embed --out``).

    Returns
    -------
    Path
    """
    return Path(store).parent / "index"


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


def _cohort_store(cohort: Path, require: bool) -> Path | None:
    """The store a cohort folder holds by the commands' defaults, or a typed error naming them."""
    store = cohort_store_dir(cohort)
    if (store / "manifest.json").is_file():
        return store
    if not require:
        return None
    raise BundleNotFound(
        f"--cohort {cohort}: no embeddings in {store}. Fix: run `clef embed --cohort {cohort}` "
        f"then `clef index --cohort {cohort}` (they write {store} and "
        f"{store_index_dir(store)}), or pass --store STORE --index INDEX.")


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
        to the store. The map is the index's ``INDEX/map`` (:func:`map_dir`) unless given. A cohort
        given without a store, index or root is a cohort folder laid out by the commands' defaults
        (``DIR/store``, ``DIR/index``; see the module docstring).

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
            if cohort not in (None, ""):
                given["store"] = _cohort_store(Path(cohort).expanduser(), require)
            else:
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
            for part in ("cohort", "checkpoint"):
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
        if found["map"] is None and found["index"] is not None:
            found["map"] = _existing(map_dir(found["index"]))
        bundle = cls(root=root_p, **found)
        if require:
            missing = [p for p in ("store", "index", "checkpoint") if getattr(bundle, p) is None]
            if missing and cohort not in (None, "") and root_p is None:
                raise BundleNotFound(
                    f"--cohort {cohort}: no {', '.join(missing)} found for it. Fix: run "
                    f"`clef index --cohort {cohort}` (it writes "
                    f"{store_index_dir(cohort_store_dir(cohort))}), or pass the missing folders.")
            if missing:
                where = root_p or root or "(no root)"
                raise BundleNotFound(
                    f"dashboard data not found: no {', '.join(missing)} (looked in {where} and "
                    "next to the store). Fix: pass --bundle DIR or --store STORE --index INDEX "
                    "--checkpoint CHECKPOINT, or build a demo bundle (synthetic cohort, "
                    "random-init model) with `clef demo --build DIR`.")
        return bundle

    def to_dict(self) -> dict:
        """The paths as strings (None kept), e.g. for JSON."""
        return {k: (str(v) if v is not None else None) for k, v in asdict(self).items()}
