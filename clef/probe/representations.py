"""Session features for every representation on the same sessions: CLEF, reconstruction-only,
short-window, randomly initialised encoder (all ``CLEFModel`` checkpoints), band power, oracle.

Signals are loaded once per chunk and shared by every signal-based representation; model
representations are embedded by :mod:`clef.embedding` (one tokenization per tokenizer config);
finished chunks are cached under ``cache_dir`` (``<name>.npy`` + ``<name>.json``, atomic), so a
killed run resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from clef.errors import ClefError, InvalidCohort
from clef.features import BandPowerConfig, band_power
from clef.fileio import atomic_save_npy, atomic_write_json

# Names the probe command understands, in report order.
REPRESENTATIONS = ("clef", "recon", "short-window", "band-power", "random", "oracle")
MODEL_REPRESENTATIONS = ("clef", "recon", "short-window", "random")


@dataclass
class RepresentationConfig:
    """How session features are computed."""

    sfreq: float = 200.0  # sessions are loaded (resampled) at this rate; models re-check theirs
    chunk: int = 32  # sessions loaded into memory at once (20 min x 19 ch x 200 Hz ~ 18 MB each)
    batch_size: int = 8  # sessions per encoder forward pass
    seed: int = 0  # seed of the randomly initialised encoder
    device: str = "cpu"  # torch device for the encoders ("cuda" on a GPU machine)
    n_jobs: int = 1  # processes reading/regenerating sessions (encoders stay in this process)


def checkpoint_id(path) -> str:
    """A short identity of a checkpoint folder: the weights sha256 recorded in its config."""
    p = Path(path)
    cfg = p / "config.json"
    if cfg.is_file():
        sha = json.loads(cfg.read_text("utf-8")).get("weights_sha256")
        if sha:
            return str(sha)
    return str(p.resolve())


RANDOM_SEED_OFFSET = 7919  # random-init seed = seed + this, away from common training seeds


def random_encoder(model, seed: int = 0):
    """A freshly initialised ``CLEFModel`` with ``model``'s config (the random-init baseline).

    Warns when the fresh weights equal ``model``'s (an untrained checkpoint made with the same
    seed), since the two rows of the table would then be one model twice.
    """
    import warnings

    import torch

    state = torch.random.get_rng_state()
    torch.manual_seed(seed + RANDOM_SEED_OFFSET)
    try:
        fresh = type(model)(model.config)
    finally:
        torch.random.set_rng_state(state)
    a, b = model.state_dict(), fresh.state_dict()
    if all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a if k in b):
        warnings.warn("the random-init baseline has the checkpoint's exact weights: the "
                      "checkpoint looks untrained. Its rows are not a comparison.", stacklevel=2)
    return fresh


def oracle_features(oracle_df: pd.DataFrame, sessions_df: pd.DataFrame) -> pd.DataFrame:
    """True latent findings as features: presence and fraction of the session per concept.

    Parameters
    ----------
    oracle_df : DataFrame
        ``session_id``, ``concept`` and, when known, ``onset_s`` and ``duration_s`` (or
        ``end_s``) of each occurrence.
    sessions_df : DataFrame
        ``session_id`` and ``duration_s``.

    Returns
    -------
    DataFrame
        Index session_id (all sessions), columns ``has_<concept>`` and ``frac_<concept>``.
    """
    for col in ("session_id", "concept"):
        if col not in oracle_df.columns:
            raise InvalidCohort(f"oracle.parquet lacks column {col!r}; the oracle representation "
                                "needs session_id and concept. Fix: regenerate the cohort.")
    o = oracle_df.copy()
    o["session_id"] = o["session_id"].astype(str)
    dur = sessions_df.set_index(sessions_df["session_id"].astype(str))["duration_s"].astype(float)
    if "duration_s" in o.columns:
        d = o["duration_s"].astype(float)
    elif {"onset_s", "end_s"} <= set(o.columns):
        d = o["end_s"].astype(float) - o["onset_s"].astype(float)
    else:
        d = pd.Series(np.nan, index=o.index)
    total = o["session_id"].map(dur)
    o["frac"] = (d / total).fillna(1.0).clip(0, 1)  # no interval: whole session
    concepts = sorted(o["concept"].astype(str).unique())
    ids = sessions_df["session_id"].astype(str)
    has = (o.assign(v=1).pivot_table(index="session_id", columns="concept", values="v",
                                     aggfunc="max").reindex(index=ids, columns=concepts)
           .fillna(0.0))
    frac = (o.pivot_table(index="session_id", columns="concept", values="frac", aggfunc="sum")
            .reindex(index=ids, columns=concepts).fillna(0.0).clip(0, 1))
    out = pd.concat([has.add_prefix("has_"), frac.add_prefix("frac_")], axis=1)
    out.index.name = "session_id"
    return out.astype(np.float32)


class _Cache:
    """Per-representation feature rows on disk (``<name>.npy`` float32 + ``<name>.json``)."""

    def __init__(self, folder, name: str, source: str):
        self.folder = None if folder is None else Path(folder)
        self.name, self.source = name, source
        self.rows: dict[str, np.ndarray] = {}
        if self.folder is None:
            return
        meta_p, arr_p = self._paths()
        if meta_p.is_file() and arr_p.is_file():
            meta = json.loads(meta_p.read_text("utf-8"))
            if meta.get("source") == source:
                arr = np.load(arr_p, allow_pickle=False)
                if arr.shape[0] == len(meta["session_ids"]):
                    self.rows = dict(zip(meta["session_ids"], arr))

    def _paths(self):
        safe = self.name.replace("/", "_")
        return self.folder / f"{safe}.json", self.folder / f"{safe}.npy"

    def save(self) -> None:
        if self.folder is None or not self.rows:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        meta_p, arr_p = self._paths()
        ids = list(self.rows)
        arr = np.stack([self.rows[i] for i in ids]).astype(np.float32)  # (sessions, d)
        atomic_save_npy(arr_p, arr)
        atomic_write_json(meta_p, {"source": self.source, "session_ids": ids}, indent=None)


_WORKER_COHORTS: dict = {}


def _load_one(cohort, sid: str, sfreq: float):
    try:
        return sid, cohort.session(sid, sfreq=sfreq)
    except ClefError as e:
        return sid, f"{type(e).__name__}: {e}"


def _load_chunk(root: str, ids: list[str], sfreq: float):
    """Worker: load sessions of a cohort folder (the cohort is read once per process)."""
    from clef.cohort import Cohort

    if root not in _WORKER_COHORTS:
        _WORKER_COHORTS[root] = Cohort.load(root)
    return [_load_one(_WORKER_COHORTS[root], sid, sfreq) for sid in ids]


def _load_sessions(cohort, ids: list[str], cfg: RepresentationConfig, pool):
    """(session_id, Session or error text) for each id, in order; in worker processes when
    ``pool`` is given (each worker takes a slice of the chunk)."""
    if pool is None:
        return [_load_one(cohort, sid, cfg.sfreq) for sid in ids]
    k = max(1, -(-len(ids) // cfg.n_jobs))  # ceil: one slice per worker
    futures = [pool.submit(_load_chunk, str(cohort.root), ids[i:i + k], cfg.sfreq)
               for i in range(0, len(ids), k)]
    return [pair for f in futures for pair in f.result()]


def store_features(path, session_ids) -> tuple[pd.DataFrame, dict]:
    """Embeddings of sessions from an embedding store written by ``clef embed``.

    Returns
    -------
    features : DataFrame
        Index session_id (ids found in the store).
    missing : dict of str -> str
        Ids the store lacks, with the reason.
    """
    from clef.store import EmbeddingStore

    store = EmbeddingStore.open(path)
    sids = store.sessions["session_id"].astype(str).to_numpy()
    pos = {s: i for i, s in enumerate(sids)}
    ids = [str(s) for s in session_ids]
    have = [s for s in ids if s in pos]
    X = np.asarray(store.embeddings[[pos[s] for s in have]], np.float32)  # (sessions, d)
    missing = {s: f"not in the embedding store {path}" for s in ids if s not in pos}
    return pd.DataFrame(X, index=pd.Index(have, name="session_id")), missing


def _tokenizer_groups(models: dict, sfreq: float) -> list[list[str]]:
    """Model names grouped by identical tokenizer config, so each group tokenizes once."""
    groups: dict[str, list[str]] = {}
    for name, m in models.items():
        key = json.dumps(m.config.tokenizer, sort_keys=True, default=str)
        groups.setdefault(key, []).append(name)
    return list(groups.values())


def _embed_group(models: dict, sessions, ids, batch_size: int, failed: dict) -> dict:
    """Embed sessions with models sharing one tokenizer; ``{name: {index: vector}}``.

    One tokenization feeds every model (:func:`clef.embedding.embed_sessions_shared`); sessions
    a model cannot take (e.g. shorter than one token span) are recorded in ``failed`` (id ->
    reason) and skipped for every representation.
    """
    from clef.embedding import embed_sessions_shared

    out: dict[str, dict[int, np.ndarray]] = {n: {} for n in models}
    if not sessions:
        return out
    vectors, errors = embed_sessions_shared(models, sessions, batch_size=batch_size,
                                            catch=ClefError)
    for i, e in errors.items():
        failed[ids[i]] = f"{type(e).__name__}: {e}"
    for name, arr in vectors.items():  # (n, D) per model, NaN rows for failures
        out[name] = {i: arr[i] for i in range(len(sessions)) if i not in errors}
    return out


def _featurize_chunk(pairs, models: dict, caches: dict, failed: dict,
                     cfg: RepresentationConfig, bp_cfg: BandPowerConfig | None) -> None:
    """Fill ``caches`` with the features of one chunk of loaded sessions (signals shared by
    every representation); failures go to ``failed``. ``bp_cfg`` None: no band power."""
    loaded, sessions = [], []
    for sid, sess in pairs:
        if isinstance(sess, str):  # one bad recording loses nothing else
            failed[sid] = sess
        else:
            loaded.append(sid)
            sessions.append(sess)
    for group in _tokenizer_groups(models, cfg.sfreq):
        need = [i for i, s in enumerate(loaded) if s not in failed
                and any(s not in caches[n].rows for n in group)]
        got = _embed_group({n: models[n] for n in group}, [sessions[i] for i in need],
                           [loaded[i] for i in need], cfg.batch_size, failed)
        for name, rows in got.items():
            for i, e in rows.items():
                caches[name].rows[loaded[need[i]]] = e
    if bp_cfg is not None:
        for sid, sess in zip(loaded, sessions):
            if sid not in caches["band-power"].rows and sid not in failed:
                # log band power only (channels x bands): the definition of the band-power
                # row pinned in benchmarks/results/synth_ceilings.md
                caches["band-power"].rows[sid] = band_power(sess.data, sess.sfreq, bp_cfg,
                                                            relative=False)


def compute_representations(cohort, models: dict, session_ids, *, band_power_on: bool = True,
                            oracle: bool = False, cache_dir=None,
                            config: RepresentationConfig | None = None, progress: bool = True,
                            sources: dict | None = None):
    """Compute each representation's features for the given sessions.

    Parameters
    ----------
    cohort : clef.cohort.Cohort
        Provides ``session(session_id, sfreq=...)``, ``sessions`` and ``oracle``.
    models : dict of str -> CLEFModel
        Encoders by representation name (e.g. ``{"clef": m, "recon": m1, "random": m0}``);
        embeddings come from :func:`clef.embedding.embed_sessions_shared`.
    session_ids : sequence of str
    band_power_on : bool
        Also compute ``band-power`` (:func:`clef.features.band_power`).
    oracle : bool
        Also build ``oracle`` features from ``cohort.oracle`` (synthetic cohorts).
    cache_dir : path, optional
        Resume/cache folder.
    config : RepresentationConfig, optional
    progress : bool
        Progress bar over sessions.
    sources : dict of str -> str, optional
        Identity of each model (e.g. :func:`checkpoint_id`), used to validate the cache.

    Returns
    -------
    features : dict of str -> DataFrame
        Index session_id (sessions that loaded), one column per feature dimension.
    failed : dict of str -> str
        Sessions that could not be loaded, with the reason (skipped for every representation).
    """
    cfg = config or RepresentationConfig()
    ids = [str(s) for s in session_ids]
    sources = sources or {}
    bp_cfg = BandPowerConfig()
    caches: dict[str, _Cache] = {}
    for name in models:
        caches[name] = _Cache(cache_dir, name, f"{sources.get(name, name)}|sfreq={cfg.sfreq}")
    if band_power_on:
        caches["band-power"] = _Cache(cache_dir, "band-power",
                                      f"{bp_cfg}|log-only|sfreq={cfg.sfreq}")
    failed: dict[str, str] = {}
    if cache_dir is not None and (Path(cache_dir) / "failed.json").is_file():
        failed = json.loads((Path(cache_dir) / "failed.json").read_text("utf-8"))
    todo = [s for s in ids if s not in failed and any(s not in c.rows for c in caches.values())]
    for m in models.values():
        m.to(cfg.device).eval()
    bar = tqdm(total=len(todo), desc="features", unit="session", disable=not progress)
    pool = None
    if cfg.n_jobs > 1 and len(todo) > cfg.chunk:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        pool = ProcessPoolExecutor(cfg.n_jobs, mp_context=get_context("spawn"))
    for start in range(0, len(todo), cfg.chunk):
        chunk = todo[start:start + cfg.chunk]
        _featurize_chunk(_load_sessions(cohort, chunk, cfg, pool), models, caches, failed, cfg,
                         bp_cfg if band_power_on else None)
        for c in caches.values():
            c.save()
        if cache_dir is not None and failed:
            atomic_write_json(Path(cache_dir) / "failed.json", failed, indent=1)
        bar.update(len(chunk))
    bar.close()
    if pool is not None:
        pool.shutdown()
    ok = [s for s in ids if s not in failed and all(s in c.rows for c in caches.values())]
    out = {}
    for name, c in caches.items():
        out[name] = pd.DataFrame(np.stack([c.rows[s] for s in ok]) if ok else np.zeros((0, 0)),
                                 index=pd.Index(ok, name="session_id"))
    if oracle:
        if getattr(cohort, "oracle", None) is None:
            raise InvalidCohort(f"{cohort.root}: no oracle.parquet, so the oracle representation "
                                "cannot be built. Fix: drop 'oracle' from the baselines (real "
                                "cohorts have no oracle).")
        o = cohort.oracle
        if "category" in o.columns:  # true findings only (not states, artifacts, procedures),
            o = o[o["category"] == "finding"]  # as in the pinned synth_ceilings oracle row
        out["oracle"] = oracle_features(o, cohort.sessions).loc[ok]
    return out, {s: r for s, r in failed.items() if s in set(ids)}


def features_digest(X: pd.DataFrame) -> str:
    """sha256 (16 hex) of a feature table, for provenance in the results."""
    h = hashlib.sha256(np.ascontiguousarray(X.to_numpy(np.float32)).tobytes())
    h.update("|".join(map(str, X.index)).encode())
    return h.hexdigest()[:16]
