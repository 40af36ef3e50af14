"""`run_probe`: the whole evaluation of a checkpoint on a cohort, written to one folder."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clef.errors import InvalidCohort
from clef.probe.battery import BatteryConfig, feature_matrix, probe_tasks, results_long, summarize
from clef.probe.report import (
    atomic_write_csv,
    atomic_write_text,
    evaluate_targets,
    read_previous,
    write_plots,
    write_summary_md,
)
from clef.probe.representations import (
    RANDOM_SEED_OFFSET,
    REPRESENTATIONS,
    RepresentationConfig,
    checkpoint_id,
    compute_representations,
    features_digest,
    random_encoder,
    store_features,
)
from clef.probe.semantics import load_query_set, semantics_eval
from clef.probe.splits import patient_split, site_split
from clef.probe.zeroshot import concept_prompts, summarize_zeroshot, text_encoder, zeroshot_eval


@dataclass
class ProbeRunConfig:
    """Settings of one `clef probe` run."""

    baselines: tuple[str, ...] = ("recon", "short-window", "band-power", "random", "oracle")
    train_site: str = "A"  # probes are trained on this site; other sites are external tests
    use_split_column: bool = True  # test = the cohort's "test" split (sessions never trained on)
    test_size: float = 0.3  # patient share of the test side when there is no split column
    n_boot: int = 200  # bootstrap resamples for the 95% intervals
    seed: int = 0
    zeroshot: bool = True  # zero-shot concept scoring with the checkpoint's text tower
    # Clinician query set (YAML task -> queries) scored as "unseen phrasings"; None: the repo's
    # benchmarks/queries/unseen_phrasings.yaml when present. The text-side diagnostic runs too.
    query_set: str | None = None
    # An earlier run's output folder whose zero-shot, unseen-phrasings and text-side numbers
    # summary.md prints next to this run's (``before`` columns); None: no comparison.
    compare_to: str | None = None
    # A markdown file (e.g. an ablation made by a benchmark) printed in summary.md; None: none.
    append_md: str | None = None
    battery: BatteryConfig = field(default_factory=BatteryConfig)
    representation: RepresentationConfig = field(default_factory=RepresentationConfig)


def _splits(sessions: pd.DataFrame, cfg: ProbeRunConfig) -> tuple[dict, str]:
    col = None
    if cfg.use_split_column and "split" in sessions.columns:
        s = sessions["split"].astype(str)
        home = sessions["site"].astype(str) == str(cfg.train_site)
        if {"train", "test"} <= set(s[home]):
            col = "split"
    if sessions["site"].nunique() > 1 or str(cfg.train_site) in set(sessions["site"].astype(str)):
        sets = site_split(sessions, train_site=cfg.train_site, test_size=cfg.test_size,
                          seed=cfg.seed, split_column=col)
    else:
        tr, te = patient_split(sessions, cfg.test_size, cfg.seed, split_column=col)
        sets = {"train": tr, "test": te}
    how = ("the cohort's patient-level 'split' column" if col else
           f"a random patient-level split (test_size={cfg.test_size}, seed={cfg.seed})")
    return sets, how


def _cohort_and_splits(cohort_dir, cfg: ProbeRunConfig, say):
    """The cohort, its train/test/external-site sets and how they were made (announced)."""
    from clef.cohort import Cohort

    cohort = Cohort.load(cohort_dir)
    sessions, info = cohort.sessions, cohort.task_info()
    if info.empty:
        raise InvalidCohort(f"{cohort_dir}: tasks.parquet has no tasks. Fix: derive them with "
                            "`clef tasks --cohort DIR`.")
    sets, split_how = _splits(sessions, cfg)
    external = {k: v for k, v in sets.items() if k not in ("train", "test") and len(v)}
    say(f"cohort {cohort_dir}: {len(sessions)} sessions, {len(info)} tasks; train "
        f"{len(sets['train'])}, test {len(sets['test'])}"
        + "".join(f", site {k} {len(v)}" for k, v in external.items()) + f" ({split_how})")
    return cohort, sets, split_how


@dataclass
class _Encoders:
    """What each representation is computed from (the result of :func:`_load_encoders`)."""

    models: dict  # name -> CLEFModel encoded here
    sources: dict  # name -> identity (checkpoint sha256, store path, ...) for the report
    skipped: dict  # name -> why it is not computed
    stores: dict  # name -> precomputed embedding store path
    clef_model: object | None  # the probed checkpoint's model (zero-shot, random init)
    checkpoint: object | None  # its resolved folder
    want_oracle: bool


def _load_encoders(checkpoint, cohort, cfg: ProbeRunConfig, baseline_checkpoints: dict | None,
                   embeddings: dict | None) -> _Encoders:
    """Load the checkpoint and the model baselines; note what is skipped and why."""
    models, sources, skipped = {}, {}, {}
    clef_model = None
    bc = dict(baseline_checkpoints or {})
    stores = {k: Path(v) for k, v in (embeddings or {}).items()}
    bad = sorted(set(stores) - set(REPRESENTATIONS))
    if bad:
        raise ValueError(f"embeddings given for unknown representation(s) {bad}; choose from "
                         f"{list(REPRESENTATIONS)}.")
    for name, path in stores.items():
        sources[name] = f"embedding store {path}"
    if checkpoint is not None:
        from clef.model import CLEFModel
        from clef.model.hub import resolve_checkpoint

        checkpoint = resolve_checkpoint(checkpoint)
        clef_model = CLEFModel.from_pretrained(checkpoint)
        clef_model.eval()
        if "clef" not in stores:
            models["clef"], sources["clef"] = clef_model, checkpoint_id(checkpoint)
    for name in ("recon", "short-window"):
        if name not in cfg.baselines or name in stores:
            continue
        if name in bc:
            from clef.model import CLEFModel

            models[name] = CLEFModel.from_pretrained(bc[name]).eval()
            sources[name] = checkpoint_id(bc[name])
        else:
            skipped[name] = (f"no checkpoint given (pass --baseline-checkpoints {name}=DIR, "
                             "trained by `clef pretrain`)")
    if "random" in cfg.baselines and "random" not in stores:
        if clef_model is None:
            skipped["random"] = "needs --checkpoint for the architecture"
        else:
            models["random"] = random_encoder(clef_model, cfg.seed).eval()
            sources["random"] = (f"random init (torch seed {cfg.seed + RANDOM_SEED_OFFSET}) of "
                                 f"the config of {sources.get('clef', checkpoint)}")
    want_oracle = "oracle" in cfg.baselines
    if want_oracle and cohort.oracle is None:
        skipped["oracle"] = "the cohort has no oracle.parquet (only synthetic cohorts do)"
        want_oracle = False
    if not models and not stores and "band-power" not in cfg.baselines and not want_oracle:
        raise ValueError("nothing to probe: give --checkpoint or at least one baseline.")
    return _Encoders(models, sources, skipped, stores, clef_model, checkpoint, want_oracle)


def _features(cohort, enc: _Encoders, ids: list, cfg: ProbeRunConfig, cache_dir,
              progress: bool) -> tuple[dict, dict]:
    """Every representation's features of ``ids`` (computed, cached or read from stores)."""
    rcfg = cfg.representation
    if enc.clef_model is not None:
        rcfg.sfreq = float(getattr(enc.clef_model.config.tokenizer_config(), "sfreq", rcfg.sfreq))
    feats, failed = compute_representations(
        cohort, enc.models, ids,
        band_power_on="band-power" in cfg.baselines and "band-power" not in enc.stores,
        oracle=enc.want_oracle, cache_dir=cache_dir, config=rcfg, progress=progress,
        sources=enc.sources)
    for name, path in enc.stores.items():
        if name == "clef" or name in cfg.baselines:
            feats[name], missing = store_features(path, ids)
            failed.update(missing)
    return feats, failed


def _probe_all(feats: dict, order: list, cohort_tables: tuple, sets: dict, external: dict,
               cfg: ProbeRunConfig, say, progress: bool) -> dict:
    """Linear probes of every task for each representation, in report order."""
    sessions, labels, info = cohort_tables
    results = {}
    for name in order:
        say(f"probing {name} ({feats[name].shape[1]} features)")
        results[name] = probe_tasks(feats[name], sessions, labels, info, sets["train"],
                                    sets["test"], n_boot=cfg.n_boot, seed=cfg.seed,
                                    external=external, config=cfg.battery, progress=progress,
                                    desc=name)
    return results


def _semantics(model, X, sessions: pd.DataFrame, labels: pd.DataFrame, zs: pd.DataFrame,
               test_ids, cfg: ProbeRunConfig) -> dict:
    """Unseen-phrasings zero-shot and the text-side diagnostic on the held-out sessions."""
    ids = [str(i) for i in test_ids]
    reports = sessions.set_index(sessions["session_id"].astype(str))["report"].reindex(ids)
    ok = zs[zs["status"] == "ok"]
    prompts = {t: concept_prompts(t, {t: str(p).split("; ")})
               for t, p in zip(ok["task"], ok["prompts"])}
    query_set = load_query_set(cfg.query_set) if cfg.query_set else None
    return semantics_eval(model, feature_matrix(X, sessions, ids), reports.fillna("").tolist(),
                          labels.reindex(ids).astype(float), prompts, query_set)


def _write_outputs(out: Path, *, results: dict, summary, summary_ext, ext_name, zs, zs_sum,
                   sem, meta: dict, failed: dict, order: list, before: dict | None,
                   appendix: str) -> tuple:
    """results.csv, summary tables, targets, zero-shot, summary.md, plots, run.json (last)."""
    long = results_long(results)
    targets = evaluate_targets(summary, results, zs_sum, external=ext_name or "B", zeroshot=zs,
                               semantics=sem)
    atomic_write_csv(long, out / "results.csv", index=False)
    atomic_write_csv(summary.table, out / "summary_table.csv")
    atomic_write_csv(summary.beats, out / "beats.csv")
    atomic_write_csv(targets, out / "targets.csv", index=False)
    if zs is not None:
        atomic_write_csv(zs, out / "zeroshot.csv", index=False)
    if sem is not None:
        atomic_write_csv(sem["unseen"], out / "zeroshot_unseen_phrasings.csv", index=False)
        atomic_write_csv(sem["text_side"], out / "text_side.csv", index=False)
    write_summary_md(out / "summary.md", summary=summary, summary_ext=summary_ext,
                     results_long=long, targets=targets, zeroshot=zs, zs_summary=zs_sum,
                     semantics=sem, before=before, appendix=appendix,
                     meta=meta, failed=failed, external=ext_name or "B")
    plots = write_plots(out, summary, reference="clef" if "clef" in results else order[0])
    atomic_write_text(out / "run.json", json.dumps(meta, indent=2, default=str))
    return long, targets, plots


def run_probe(cohort_dir, checkpoint, out, *, baseline_checkpoints: dict | None = None,
              embeddings: dict | None = None, config: ProbeRunConfig | None = None,
              progress: bool = True, command: str | None = None, cache_dir=None) -> dict:
    """Probe a checkpoint and its baselines on a cohort; write results, summary and plots.

    Parameters
    ----------
    cohort_dir : path
        Cohort folder (``clef.cohort`` contract, with ``tasks.parquet``).
    checkpoint : path or None
        The CLEF checkpoint (``CLEFModel.save_pretrained`` folder). None probes baselines only.
    out : path
        Output folder: ``results.csv``, ``zeroshot.csv``, ``targets.csv``, ``summary.md``,
        ``run.json``, PNG plots, ``features/`` (cache; a rerun resumes from it).
    baseline_checkpoints : dict of str -> path, optional
        Checkpoints of model baselines, e.g. ``{"recon": dir1, "short-window": dir2}``.
    embeddings : dict of str -> path, optional
        Precomputed embedding stores (``clef embed``) by representation name, used instead of
        encoding the sessions here (e.g. embedded on a GPU or a Dask cluster).
    config : ProbeRunConfig, optional
    progress : bool
        Progress bars and status lines.
    command : str, optional
        The command line, recorded in the summary.
    cache_dir : path, optional
        Feature cache (default ``out/features``); a rerun with the same cache resumes.

    Returns
    -------
    dict
        ``summary`` (Summary), ``summary_external``, ``results`` (long DataFrame), ``zeroshot``,
        ``targets``, ``skipped_representations`` and ``paths``.
    """
    t0 = time.time()
    cfg = config or ProbeRunConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = print if progress else (lambda *a, **k: None)
    unknown = sorted(set(cfg.baselines) - set(REPRESENTATIONS))
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; choose from {list(REPRESENTATIONS)}.")
    before = read_previous(cfg.compare_to) if cfg.compare_to else None  # fail before the work
    appendix = Path(cfg.append_md).read_text() if cfg.append_md else ""
    cohort, sets, split_how = _cohort_and_splits(cohort_dir, cfg, say)
    sessions, labels, info = cohort.sessions, cohort.labels(), cohort.task_info()
    external = {k: v for k, v in sets.items() if k not in ("train", "test") and len(v)}
    # -- encoders and features --------------------------------------------------------------
    enc = _load_encoders(checkpoint, cohort, cfg, baseline_checkpoints, embeddings)
    for k, v in enc.skipped.items():
        say(f"skipping representation {k}: {v}")
    ids = sorted(set(sets["train"]) | set(sets["test"]) | {s for v in external.values()
                                                            for s in v})
    feats, failed = _features(cohort, enc, ids, cfg,
                              Path(cache_dir) if cache_dir is not None else out / "features",
                              progress)
    if failed:
        say(f"{len(failed)} session(s) could not be used and are left out (see summary.md)")
    good = set.intersection(*(set(X.index) for X in feats.values())) if feats else set()
    good -= set(failed)
    sets = {k: np.array([s for s in v if s in good]) for k, v in sets.items()}
    external = {k: sets[k] for k in external}
    order = [r for r in REPRESENTATIONS if r in feats]
    # -- probes and zero-shot ---------------------------------------------------------------
    results = _probe_all(feats, order, (sessions, labels, info), sets, external, cfg, say,
                         progress)
    summary = summarize(results, "test")
    ext_name = next(iter(external), None)
    summary_ext = summarize(results, ext_name) if ext_name else None
    zs, zs_sum, sem = None, None, None
    if cfg.zeroshot and enc.clef_model is not None:
        say("zero-shot concept scoring")
        zs = zeroshot_eval(feats["clef"], sessions, labels, info, text_encoder(enc.clef_model),
                           ids=sets["test"], n_boot=cfg.n_boot, seed=cfg.seed,
                           min_pos=cfg.battery.min_pos_test)
        zs_sum = summarize_zeroshot(zs)
        say("clinical semantics: unseen phrasings and the text-side diagnostic")
        sem = _semantics(enc.clef_model, feats["clef"], sessions, labels, zs, sets["test"], cfg)
    # -- write ------------------------------------------------------------------------------
    sources = enc.sources
    for name, why in enc.skipped.items():
        sources.setdefault(name, f"skipped: {why}")
    meta = {
        "cohort": str(cohort_dir), "cohort_kind": cohort.kind,
        "checkpoint": str(enc.checkpoint), "command": command, "n_sessions": len(sessions),
        "n_train": len(sets["train"]), "n_test": len(sets["test"]),
        "n_external": {k: len(v) for k, v in external.items()}, "split": split_how,
        "representations": ", ".join(order), "n_boot": cfg.n_boot, "seed": cfg.seed,
        "sources": sources, "feature_digests": {k: features_digest(v) for k, v in feats.items()},
        "failed_sessions": len(failed), "elapsed_s": round(time.time() - t0, 1),
    }
    long, targets, plots = _write_outputs(out, results=results, summary=summary,
                                          summary_ext=summary_ext, ext_name=ext_name, zs=zs,
                                          zs_sum=zs_sum, sem=sem, meta=meta, failed=failed,
                                          order=order, before=before, appendix=appendix)
    say(f"wrote {out / 'summary.md'}")
    return {"summary": summary, "summary_external": summary_ext, "results": long,
            "zeroshot": zs, "targets": targets, "skipped_representations": enc.skipped,
            "failed": failed,
            "paths": {"results": out / "results.csv", "summary": out / "summary.md",
                      "plots": plots}}
