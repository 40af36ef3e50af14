"""Difficulty of the synthetic benchmark: per-task AUROC ceilings of two simple probes.

(a) oracle probe: logistic regression on the true latent findings (presence and fraction of the
    session of every finding in ``oracle.parquet``, via ``clef.probe.representations.oracle_features``);
(b) band-power probe: logistic regression on log band power per channel x band (delta, theta,
    alpha, beta, gamma; ``clef.features.band_power``) of each session's signal, regenerated from
    (seed, session_id) and harmonized with ``clef.io.preprocess`` (200 Hz, average reference).

Both with ``clef.probe.fit_probe`` (balanced L2 logistic regression, C by patient-grouped inner
CV) on a patient-level split (``clef.probe.patient_split``, 30% of patients held out), AUROC on the
held-out patients with a patient-cluster bootstrap 95% interval. Writes
benchmarks/results/synth_ceilings.md.

    .venv/bin/python benchmarks/synth_ceilings.py [--n 600] [--minutes 10] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "results" / "synth_ceilings.md"
MIN_POS = 5  # positives (and negatives) needed in train, 3 in test


def _features(args):
    """Log band power (19 channels x 5 bands) of a chunk of sessions."""
    from clef.features import band_power
    from clef.io import preprocess
    from clef.synth import regenerate_session

    seed, ids = args
    out = []
    for sid in ids:
        s = preprocess(regenerate_session(seed, sid), sfreq=200.0, montage="average", l_freq=0.5)
        out.append(band_power(s.data, s.sfreq)[:19 * 5])  # log10 uV^2, (channels * bands,)
    return np.stack(out)


def main(argv=None) -> str:
    from clef.probe import auroc, bootstrap_auroc, fit_probe, patient_split
    from clef.probe.representations import oracle_features
    from clef.synth.cohort import build_tables, cohort_session_ids

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=0)
    ap.add_argument("--n-boot", type=int, default=200)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    dur = round(args.minutes * 60)
    ids = cohort_session_ids(args.n, args.seed, ("A", "B"), dur)
    sessions, tasks, oracle = build_tables(args.seed, ids)
    t_tables = time.perf_counter() - t0

    n_jobs = args.n_jobs or os.cpu_count() or 1
    chunks = [ids[i:i + 10] for i in range(0, len(ids), 10)]
    from tqdm.auto import tqdm
    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as ex:
        parts = list(tqdm(ex.map(_features, [(args.seed, c) for c in chunks]), total=len(chunks),
                          desc="band power", unit="chunk"))
    bp = pd.DataFrame(np.concatenate(parts), index=ids)
    t_feat = time.perf_counter() - t0 - t_tables

    finding_rows = oracle[oracle["category"] == "finding"]
    orc = oracle_features(finding_rows, sessions)
    reps = {"oracle": orc.loc[ids].to_numpy(np.float64), "band_power": bp.to_numpy(np.float64)}
    train_ids, test_ids = patient_split(sessions, test_size=0.3, seed=args.seed)
    pos = {sid: i for i, sid in enumerate(ids)}
    tr = np.array([pos[s] for s in train_ids])
    te = np.array([pos[s] for s in test_ids])
    groups = sessions["patient_id"].to_numpy()
    wide = tasks.pivot(index="session_id", columns="task", values="label").reindex(ids)
    meta = tasks.groupby("task")[["category", "held_out"]].first()
    rows = []
    for task in sorted(wide.columns, key=lambda t: (meta.loc[t, "category"], t)):
        y = wide[task].to_numpy(np.float64)
        ytr, yte = y[tr], y[te]
        ok_tr, ok_te = ~np.isnan(ytr), ~np.isnan(yte)
        n_tr, n_te = int(np.nansum(ytr)), int(np.nansum(yte))
        row = {"task": task, "category": meta.loc[task, "category"],
               "held_out": bool(meta.loc[task, "held_out"]),
               "pos_train": n_tr, "pos_test": n_te, "n_test": int(ok_te.sum())}
        enough = (min(n_tr, ok_tr.sum() - n_tr) >= MIN_POS and min(n_te, ok_te.sum() - n_te) >= 3)
        for name, X in reps.items():
            if not enough:
                row[name], row[f"{name}_ci"] = np.nan, ""
                continue
            probe = fit_probe(X[tr][ok_tr], ytr[ok_tr].astype(int), groups[tr][ok_tr],
                              seed=args.seed)
            score = probe.score(X[te][ok_te])
            a = auroc(yte[ok_te], score)
            lo, hi = bootstrap_auroc(yte[ok_te], score, n_boot=args.n_boot, seed=args.seed,
                                     groups=groups[te][ok_te])
            row[name], row[f"{name}_ci"] = a, f"{lo:.2f}-{hi:.2f}"
        rows.append(row)
    res = pd.DataFrame(rows)
    t_total = time.perf_counter() - t0

    summary = (res.dropna(subset=["oracle"]).groupby("category")[["oracle", "band_power"]]
               .agg(["mean", "median", "max"]).round(3))
    fmt = lambda v: "" if pd.isna(v) else f"{v:.3f}"
    lines = [
        "# Synthetic benchmark ceilings (`benchmarks/synth_ceilings.py`)",
        "",
        (f"Command: `.venv/bin/python benchmarks/synth_ceilings.py --n {args.n} --minutes "
        f"{args.minutes:g} --seed {args.seed}`"),
        "",
        (f"Cohort: {args.n} sessions ({sessions['patient_id'].nunique()} patients, sites A and B, "
        f"{args.minutes:g} min each, seed {args.seed}), generator "
        f"`clef.synth` {__import__('clef.synth').synth.GENERATOR_VERSION}. Patient-level split: "
        f"{len(train_ids)} train / {len(test_ids)} test sessions (30% of patients). Probes: "
        "`clef.probe.fit_probe` (balanced L2 logistic regression, C chosen by patient-grouped "
        "inner CV); AUROC on test patients with a patient-cluster bootstrap 95% CI "
        f"({args.n_boot} resamples). Tasks with < {MIN_POS} positives or negatives in train or "
        "< 3 in test are left blank."),
        "",
        ("- **oracle**: true latent findings from `oracle.parquet` (rows with category 'finding': "
        "has_<finding> and frac_<finding> of the session), the best any EEG model could know."),
        ("- **band_power**: log10 band power per channel x band (delta 1-4, theta 4-8, alpha 8-13, "
        "beta 13-30, gamma 30-45 Hz; 95 features, `clef.features.band_power`) after "
        "`clef.io.preprocess` (200 Hz, average reference, 0.5 Hz high-pass)."),
        "",
        (f"Run time {t_total:.0f} s (tables {t_tables:.0f} s, signals + features {t_feat:.0f} s, on "
        f"{n_jobs} shared cores)."),
        "",
        "## Summary by category (tasks with enough labels)",
        "",
        ("| category | n tasks | oracle mean | oracle median | oracle max | band-power mean | "
        "band-power median | band-power max |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    for cat, r in summary.iterrows():
        n_t = int(res[(res["category"] == cat) & res["oracle"].notna()].shape[0])
        lines.append(f"| {cat} | {n_t} | {r[('oracle', 'mean')]:.3f} | "
                     f"{r[('oracle', 'median')]:.3f} | {r[('oracle', 'max')]:.3f} | "
                     f"{r[('band_power', 'mean')]:.3f} | {r[('band_power', 'median')]:.3f} | "
                     f"{r[('band_power', 'max')]:.3f} |")
    lines += ["", "## Per task", "",
              ("| task | category | held out | pos train/test | oracle AUROC [95% CI] | "
              "band-power AUROC [95% CI] |"), "|---|---|---|---|---|---|"]
    for _, r in res.iterrows():
        lines.append(f"| {r['task']} | {r['category']} | {'yes' if r['held_out'] else ''} | "
                     f"{r['pos_train']}/{r['pos_test']} | {fmt(r['oracle'])} "
                     f"{('[' + r['oracle_ci'] + ']') if r['oracle_ci'] else ''} | "
                     f"{fmt(r['band_power'])} "
                     f"{('[' + r['band_power_ci'] + ']') if r['band_power_ci'] else ''} |")
    text = "\n".join(lines) + "\n"
    tmp = OUT.with_suffix(".md.tmp")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text)
    os.replace(tmp, OUT)
    print(text)
    return text


if __name__ == "__main__":
    main()
