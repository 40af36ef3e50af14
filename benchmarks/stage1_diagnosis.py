"""Where does the finding information go? Linear probes along the EEG path of a stage-1 encoder.

Issue 15.1 ("diagnose before scaling"), cheap version. On the site-A held-out patients of a cohort
(the probe battery's split: ``site_split(..., split_column="split")``) it fits the battery's linear
probes (:func:`clef.probe.probe_tasks`, same C grid and patient-grouped CV) on:

- ``spectra``: the tokenizer's own values, averaged over time (no model): per channel slot x
  1 Hz bin x band, i.e. each region's channels kept apart (1,000 features for clef-tiny);
- ``spectra/region``: the same, averaged over each region's real channels (200 features);
- ``spectra/all``: the same, averaged over *all* tokens (regions and bands mixed, 200 features):
  exactly what a mean over linear patch embeddings can see;
- ``embed``: ``model.eeg.embed`` output (patch projection + region + band embeddings);
- ``layer1..N``: the output of each Transformer block (``layerN`` is before the final norm);

each ``mean`` pooled over all tokens (what the reconstruction-only embedding does) and
``region`` pooled (mean per region, concatenated: keeps which side a token came from). An
encoder with the same architecture and random weights gives the same rows as a reference.

Usage::

    nice -n 10 python benchmarks/stage1_diagnosis.py --cohort /work/w/cohort2 \\
        --cache /work/w/cache/tokens --checkpoint /work/w/stage1-encoder \\
        --out benchmarks/results/stage1_diagnosis.md

Features are cached in ``--work`` (npz), so a rerun only refits the probes.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def markdown(df: pd.DataFrame, fmt: str = ".3f") -> str:
    """A pipe table of ``df`` with its index as the first column (no tabulate dependency)."""
    def cell(v):
        return format(v, fmt) if isinstance(v, (float, np.floating)) else str(v)

    head = [str(df.index.name or "")] + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in df.itertuples():  # keeps each column's dtype (ints stay ints)
        lines.append("| " + " | ".join([str(row[0])] + [cell(v) for v in row[1:]]) + " |")
    return "\n".join(lines)


NOTES, END_NOTES = "## What it shows", "<!-- end of notes -->"
LATERAL = ("focal_slowing_left_temporal", "focal_slowing_right_temporal", "ied_left_temporal",
           "ied_right_temporal", "asymmetry")


def _splits(sessions: pd.DataFrame) -> tuple[list, list]:
    from clef.probe.splits import site_split

    sets = site_split(sessions, train_site="A", split_column="split")
    return list(sets["train"]), list(sets["test"])


def _spectra(tokens, layout) -> dict:
    """Time-averaged token values of one session (batch of 1) in three poolings."""
    v = tokens.values[0]  # (N, patch_dim)
    r, b = tokens.region_idx[0], tokens.band_idx[0]
    g, nb = layout.n_groups, layout.n_bands
    gs, wpp, bpb = layout.group_size, layout.windows_per_patch, layout.bins_per_band
    cell = torch.zeros(g, nb, v.shape[1])
    cnt = torch.zeros(g, nb, 1)
    cell.index_put_((r, b), v, accumulate=True)
    cnt.index_put_((r, b), torch.ones(len(r), 1), accumulate=True)
    cell = (cell / cnt.clamp_min(1)).view(g, nb, gs, wpp, bpb).mean(3)  # (g, band, slot, bin)
    spec = cell.permute(0, 2, 1, 3).reshape(g, gs, nb * bpb)  # (g, slot, freq)
    n_real = torch.tensor([len(c) for c in layout.groups], dtype=torch.float32)
    region = spec.sum(1) / n_real[:, None]  # (g, freq): padded slots are zero
    return {"spectra": spec.reshape(-1).numpy(), "spectra/region": region.reshape(-1).numpy(),
            "spectra/all": spec.mean(0).reshape(-1).numpy()}


def _layer_states(model, tokens) -> list[tuple[str, torch.Tensor]]:
    """[("embed", (B, N, d)), ("layer1", ...), ...] for one batch."""
    enc = model.eeg
    outs = []
    hooks = [blk.register_forward_hook(lambda m, i, o: outs.append(o))
             for blk in enc.stack.blocks]
    try:
        with torch.no_grad():
            x = enc.embed(tokens.values, tokens.region_idx, tokens.band_idx)
            enc.contextualize(x, tokens, enc.groups(tokens))
    finally:
        for h in hooks:
            h.remove()
    if enc.groups(tokens) is not None:
        raise RuntimeError("sessions longer than max_tokens: layer hooks see packed groups")
    return [("embed", x)] + [(f"layer{i + 1}", o) for i, o in enumerate(outs)]


def _pools(states: torch.Tensor, tokens, n_regions: int) -> dict:
    """mean (d,) and per-region mean (regions*d,) of one session's states (1, N, d)."""
    s, r = states[0], tokens.region_idx[0]
    per = torch.zeros(n_regions, s.shape[1]).index_add_(0, r, s)
    per = per / torch.bincount(r, minlength=n_regions).clamp_min(1)[:, None]
    return {"mean": s.mean(0).numpy(), "region": per.reshape(-1).numpy()}


def compute_features(ids, cache, models: dict, layout) -> dict:
    """name -> DataFrame (index session_id) of every representation."""
    from tqdm.auto import tqdm

    rows: dict = {}
    for sid in tqdm(ids, desc="features", mininterval=5):
        tok = cache.get(sid)
        if tok is None:
            raise SystemExit(f"token cache {cache} lacks session {sid}; fill it with clef embed "
                             "--cache-dir or clef pretrain first")
        for k, v in _spectra(tok, layout).items():
            rows.setdefault(k, {})[sid] = v
        for tag, model in models.items():
            for layer, st in _layer_states(model, tok):
                for pool, v in _pools(st, tok, layout.n_groups).items():
                    rows.setdefault(f"{tag}/{layer}/{pool}", {})[sid] = v
    return {k: pd.DataFrame.from_dict(v, orient="index") for k, v in rows.items()}


def _load_or_compute(args, ids) -> dict:
    from clef.model import CLEFModel
    from clef.probe.representations import random_encoder
    from clef.tokenizer import PatchLayout, TokenCache

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "features.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        got = {k: pd.DataFrame(z[k], index=z["__ids__"]) for k in z.files if k != "__ids__"}
        if set(ids) <= set(z["__ids__"]):
            return got
    model = CLEFModel.from_pretrained(args.checkpoint).eval()
    models = {"stage1": model, "random": random_encoder(model, 0).eval()}
    tcfg = model.config.tokenizer_config()
    feats = compute_features(ids, TokenCache(args.cache, tcfg), models, PatchLayout.from_config(tcfg))
    np.savez(path, __ids__=np.array(ids), **{k: v.loc[ids].to_numpy(np.float32)
                                             for k, v in feats.items()})
    return feats


def probe_all(feats: dict, cohort, train, test, categories, n_boot: int) -> pd.DataFrame:
    """Long table: representation, task, category, auroc, seconds."""
    from clef.probe import probe_tasks

    info = cohort.task_info()
    info = info[info["category"].isin(categories)]
    labels, sessions = cohort.labels(), cohort.sessions
    out = []
    for name, X in feats.items():
        t0 = time.process_time()
        res = probe_tasks(X, sessions, labels, info, train, test, n_boot=n_boot, seed=0)
        res = res[(res["test_set"] == "test") & (res["status"] == "ok")]
        print(f"{name:32s} {X.shape[1]:5d} features  mean AUROC {res['auroc'].mean():.3f}  "
              f"({time.process_time() - t0:.0f} s CPU)", flush=True)
        out.append(res.assign(representation=name, n_features=X.shape[1]))
    return pd.concat(out, ignore_index=True)


def _order(names) -> list:
    def key(n):
        parts = n.split("/")
        tag = {"spectra": 0, "stage1": 1, "random": 2}[parts[0]]
        layer = parts[1] if len(parts) > 2 else ""
        li = -1 if layer == "embed" else int(layer[5:]) if layer.startswith("layer") else -2
        return (tag, parts[-1] if tag else "", li, n)
    return sorted(names, key=key)


def write_report(long: pd.DataFrame, out: Path, meta: dict) -> None:
    """Markdown table (mean over tasks, lateral tasks) and a PNG figure next to it."""
    wide = long.pivot_table(index="representation", columns="task", values="auroc")
    order = _order(wide.index)
    wide = wide.loc[order]
    nfeat = long.groupby("representation")["n_features"].first()
    table = pd.DataFrame({"features": nfeat.loc[order], "findings (mean)": wide.mean(1)})
    for t in LATERAL:
        if t in wide.columns:
            table[t.replace("_", " ")] = wide[t]
    fig_path = out.with_suffix(".png")
    _figure(wide, fig_path)
    lines = ["# Stage-1 diagnosis: where the finding information goes\n",
             f"`{meta['command']}`\n",
             f"{meta['note']}\n",
             markdown(table), "",
             f"![AUROC along the EEG path]({fig_path.name})", "",
             "## Per task (AUROC)\n", markdown(wide.T), ""]
    # Hand-written reading of a run, below NOTES in the existing file, survives a rerun.
    old = out.read_text() if out.is_file() else ""
    notes = old[old.index(NOTES):old.index(END_NOTES) + len(END_NOTES)] if END_NOTES in old else ""
    out.write_text("\n".join(lines[:3]) + "\n" + notes.rstrip() + "\n\n" + "\n".join(lines[3:]))
    long.to_csv(out.with_suffix(".csv"), index=False)


def _figure(wide: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    lat = [t for t in LATERAL[:4] if t in wide.columns]
    for ax, (title, cols) in zip(axes, [("all finding tasks", list(wide.columns)),
                                         ("left/right temporal tasks", lat)]):
        for tag, style in (("stage1", "-"), ("random", ":")):
            for pool, color in (("mean", "C0"), ("region", "C1")):
                rows = [r for r in wide.index if r.startswith(f"{tag}/") and r.endswith(pool)]
                xs = [r.split("/")[1] for r in _order(rows)]
                ax.plot(xs, wide.loc[_order(rows), cols].mean(axis=1), style, color=color, marker="o",
                        label=f"{tag}, {pool} pooled")
        for name, color in (("spectra", "k"), ("spectra/region", "0.4"), ("spectra/all", "0.7")):
            if name in wide.index:
                ax.axhline(wide.loc[name, cols].mean(), color=color, ls="--", lw=1, label=name)
        ax.set_title(title)
        ax.set_ylabel("mean test AUROC")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cohort", required=True)
    p.add_argument("--cache", required=True, help="token cache root (TokenCache)")
    p.add_argument("--checkpoint", required=True, help="stage-1 CLEFModel folder")
    p.add_argument("--out", default="benchmarks/results/stage1_diagnosis.md")
    p.add_argument("--work", default="/tmp/stage1_diagnosis")
    p.add_argument("--categories", default="finding")
    p.add_argument("--n-boot", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from clef.cohort import Cohort

    cohort = Cohort.load(args.cohort)
    train, test = _splits(cohort.sessions)
    t0 = time.process_time()
    feats = _load_or_compute(args, sorted(train + test))
    t_feat = time.process_time() - t0
    done = Path(args.work) / f"probes-{args.categories.replace(',', '-')}.csv"
    if done.is_file():
        long = pd.read_csv(done)
    else:
        long = probe_all(feats, cohort, train, test, args.categories.split(","), args.n_boot)
        long.to_csv(done, index=False)
    note = (f"Cohort `{args.cohort}`: {len(train)} site-A training sessions, {len(test)} site-A "
            f"held-out (split 'test') sessions; categories {args.categories}; features "
            f"{t_feat:.0f} s CPU, probes {time.process_time() - t0 - t_feat:.0f} s CPU this run (0: read from the --work cache).")
    write_report(long, Path(args.out), {"command": "python benchmarks/stage1_diagnosis.py "
                                        f"--cohort {args.cohort} --cache {args.cache} "
                                        f"--checkpoint {args.checkpoint}", "note": note})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
