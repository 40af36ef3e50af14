"""VQ tokenizer vs the linear patch tokenizer: reconstruction, tokens, CPU time, linear probes.

Issue 15.2/15.4, short version. Needs a VQ tokenizer trained with ``clef tokenizer train`` on the
cohort's token cache and, for the linear rows, the feature file of ``stage1_diagnosis.py``
(same site-A split and finding tasks).

Usage::

    nice -n 10 python benchmarks/tokenizer_vq.py --cohort /work/w/cohort2 \\
        --cache /work/w/cache/tokens --vq /work/w/vq-tiny --diag-work /work/w/diag \\
        --out benchmarks/results/tokenizer_vq.md
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from stage1_diagnosis import END_NOTES, LATERAL, NOTES, _spectra, _splits, markdown


def vq_features(tok, cache, ids) -> tuple[dict, dict]:
    """Bag of codes, mean code vectors, decoded spectra, and reconstruction stats over ``ids``."""
    from clef.tokenizer.patching import PatchLayout
    from clef.tokenizer.vq_train import perplexity

    layout = PatchLayout.from_config(tok.linear.config)
    n_cell = layout.n_groups * layout.n_bands
    per_cell, decoded = {}, {}

    k, n_reg = tok.model.quantizer.n_codes, tok.model.config.n_regions
    bags, per_region, sq, n, all_codes, t_q = {}, {}, 0.0, 0.0, [], 0.0
    for sid in ids:
        lin = cache.get(sid)
        t0 = time.process_time()
        vt = tok.quantize(lin)
        t_q += time.process_time() - t0
        dec = tok.decode(vt)
        valid = tok.valid[lin.region_idx, lin.band_idx]  # (1, N, patch_dim)
        sq += float(((dec.values - lin.values) ** 2 * valid).sum())
        n += float(valid.sum())
        c, r = vt.codes[0], vt.region_idx[0]
        all_codes.append(c)
        bags[sid] = np.bincount(c.numpy(), minlength=k) / len(c)
        s = torch.zeros(n_reg, vt.values.shape[-1]).index_add_(0, r, vt.values[0])
        s = s / torch.bincount(r, minlength=n_reg).clamp_min(1)[:, None]
        per_region[sid] = s.reshape(-1).numpy()
        cell = r * layout.n_bands + vt.band_idx[0]  # (N,) region x band
        s = torch.zeros(n_cell, vt.values.shape[-1]).index_add_(0, cell, vt.values[0])
        s = s / torch.bincount(cell, minlength=n_cell).clamp_min(1)[:, None]
        per_cell[sid] = s.reshape(-1).numpy()
        decoded[sid] = _spectra(dec, layout)["spectra"]
    codes = torch.cat(all_codes)
    stats = {"recon_mse": sq / n, "perplexity": perplexity(codes, k),
             "usage": float((torch.bincount(codes, minlength=k) > 0).float().mean()),
             "quantize_cpu_s_per_session": t_q / len(ids)}
    feats = {"vq/bag-of-codes": pd.DataFrame.from_dict(bags, orient="index"),
             "vq/code-vectors/region": pd.DataFrame.from_dict(per_region, orient="index"),
             "vq/code-vectors/region-band": pd.DataFrame.from_dict(per_cell, orient="index"),
             "vq/decoded-spectra": pd.DataFrame.from_dict(decoded, orient="index")}
    return feats, stats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cohort", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--vq", required=True, help="folder from `clef tokenizer train`")
    p.add_argument("--diag-work", default="/tmp/stage1_diagnosis")
    p.add_argument("--out", default="benchmarks/results/tokenizer_vq.md")
    args = p.parse_args()
    torch.set_num_threads(1)
    from clef.cohort import Cohort
    from clef.probe import probe_tasks
    from clef.tokenizer import TokenCache, TokenizerConfig, make_tokenizer
    from clef.tokenizer.vq import load_vq

    _, meta = load_vq(args.vq)
    lin_cfg = TokenizerConfig.from_dict(meta["tokenizer"])
    tok = make_tokenizer(replace(lin_cfg, kind="vq", vq_path=args.vq))
    cohort = Cohort.load(args.cohort)
    train, test = _splits(cohort.sessions)
    ids = sorted(train + test)
    cache = TokenCache(args.cache, lin_cfg)
    feats, stats = vq_features(tok, cache, ids)
    z = np.load(Path(args.diag_work) / "features.npz", allow_pickle=False)
    for name in ("spectra", "spectra/all", "stage1/embed/mean", "stage1/embed/region"):
        feats[f"linear/{name}"] = pd.DataFrame(z[name], index=z["__ids__"])
    info = cohort.task_info()
    info = info[info["category"] == "finding"]
    rows = []
    done_path = Path(args.diag_work) / "vq_probe_rows.csv"
    done = pd.read_csv(done_path).to_dict("records") if done_path.is_file() else []
    done_names = {r["representation"] for r in done}
    for name, X in feats.items():
        if name in done_names:
            rows.append(next(r for r in done if r["representation"] == name))
            continue
        res = probe_tasks(X, cohort.sessions, cohort.labels(), info, train, test, n_boot=0)
        res = res[(res["test_set"] == "test") & (res["status"] == "ok")].set_index("task")
        row = {"representation": name, "features": X.shape[1],
               "findings (mean)": res["auroc"].mean()}
        row.update({t.replace("_", " "): res["auroc"].get(t, np.nan) for t in LATERAL})
        rows.append(row)
        pd.DataFrame(rows).to_csv(done_path, index=False)
        print(row, flush=True)
    table = pd.DataFrame(rows).set_index("representation")
    info_train = meta.get("info", {})
    lines = ["# VQ tokenizer vs linear patches (clef-tiny grid)\n",
             (f"VQ tokenizer `{args.vq}`: codebook {tok.model.config.codebook_size} x "
             f"{tok.model.config.code_dim}, trained {info_train.get('steps')} steps on "
             f"{info_train.get('patches')} patches of {info_train.get('sessions')} sessions in "
             f"{info_train.get('cpu_s')} s CPU (one thread, shared 2-core machine).\n"),
             f"Evaluated on the {len(ids)} site-A sessions (train + held-out) of `{args.cohort}`:",
             "", "| | linear patch | VQ |", "|---|---|---|",
             f"| reconstruction MSE (valid values, token units) | 0 (exact) | {stats['recon_mse']:.4f} |",
             f"| codebook usage / perplexity | - | {stats['usage']:.1%} / {stats['perplexity']:.0f} |",
             f"| tokens per 20-min session | {tok.n_tokens(1200)} | {tok.n_tokens(1200)} |",
             (f"| numbers per token | {tok.linear.patch_dim} floats | 1 code "
             f"({np.log2(tok.model.config.codebook_size):.0f} bits) |"),
             (f"| extra CPU per 10-min session (quantize, after the spectrogram) | 0 | "
             f"{1000 * stats['quantize_cpu_s_per_session']:.1f} ms |"), "",
             "Linear probes on the site-A held-out patients, finding tasks (AUROC):\n",
             markdown(table), ""]
    out = Path(args.out)  # a hand-written reading (NOTES .. END_NOTES) survives a rerun
    old = out.read_text() if out.is_file() else ""
    notes = old[old.index(NOTES):old.index(END_NOTES) + len(END_NOTES)] if END_NOTES in old else ""
    out.write_text("\n".join(lines) + ("\n" + notes + "\n" if notes else ""))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
