"""Stage-1 learning curve: does longer masked reconstruction make a better encoder?

Issue 15.1/15.3. One ``clef pretrain --stage recon`` run that kept its checkpoints
(``--keep-checkpoints 0 --ckpt-every 100``) is read back at chosen steps; step 0 is the same
architecture with random weights (``clef.probe.representations.random_encoder``, seed 0). At each
step, on the site-A held-out patients of the cohort (the probe battery's split):

- the battery's linear probes (same C grid, patient-grouped CV) on the last encoder layer's
  states, ``mean`` pooled (the reconstruction-only embedding) and ``region`` pooled (mean per
  region, concatenated: what a region attention pool can keep);
- the masked-reconstruction MSE on held-out sessions (fixed masks, valid values only);
- the wall-clock training time to reach that step (from ``train_log.jsonl``).

Usage::

    nice -n 10 python benchmarks/stage1_curve.py --cohort /work/w/cohort2 \\
        --cache /work/w/cache/tokens --work-dir /work/w/work-s1-1000 --steps 100,300,1000 \\
        --out benchmarks/results/stage1_curve.md

Features are cached in ``--work`` (npz per step), so a rerun only refits the probes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage1_diagnosis import _layer_states, _pools, _splits, markdown, probe_all

NOTES, END_NOTES = "## What it shows", "<!-- end of notes -->"


def load_step(work_dir: Path, step: int):
    """The model of ``ckpt-<step>`` (weights only), or random weights for step 0."""
    from clef.model import CLEFModel, ModelConfig
    from clef.probe.representations import random_encoder
    from clef.train.checkpoint import list_checkpoints

    cks = {int(p.name.split("-")[1]): p for p in list_checkpoints(work_dir / "checkpoints")}
    first = cks[min(cks)]
    state = json.loads((first / "state.json").read_text())
    model = CLEFModel(ModelConfig.from_dict(state["model_config"]))
    if step == 0:
        return random_encoder(model, 0).eval()
    if step not in cks:
        raise SystemExit(f"no checkpoint for step {step} in {work_dir}/checkpoints "
                         f"(have {sorted(cks)}); rerun clef pretrain with --keep-checkpoints 0")
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(cks[step] / "model.safetensors")))
    return model.eval()


def step_features(model, ids, cache) -> dict:
    """{"mean": DataFrame, "region": DataFrame} of the last layer's pooled states."""
    rows: dict = {"mean": {}, "region": {}}
    n_regions = model.config.encoder.n_regions
    for sid in ids:
        tok = cache.get(sid)
        if tok is None:
            raise SystemExit(f"token cache lacks session {sid}; fill it with clef pretrain first")
        _, states = _layer_states(model, tok)[-1]
        for pool, v in _pools(states, tok, n_regions).items():
            rows[pool][sid] = v
    return {k: pd.DataFrame.from_dict(v, orient="index") for k, v in rows.items()}


def recon_mse(model, ids, cache, mask_ratio: float = 0.6, seed: int = 0) -> float:
    """Mean masked-reconstruction MSE over ``ids`` (valid values of hidden tokens)."""
    g = torch.Generator().manual_seed(seed)
    errs = []
    with torch.no_grad():
        for sid in ids:
            tok = cache.get(sid)
            noise = torch.rand(tok.mask.shape, generator=g)
            pred, masked, valid = model.reconstruct(tok, noise, mask_ratio)
            sel = masked[..., None] & valid
            errs.append(float(((pred - tok.values) ** 2)[sel].mean()))
    return float(np.mean(errs))


def wall_at(work_dir: Path, step: int) -> float:
    """Training wall seconds to reach ``step`` (0 for random weights)."""
    if step == 0:
        return 0.0
    log = [json.loads(x) for x in (work_dir / "train_log.jsonl").read_text().splitlines() if x]
    got = [r["time_s"] for r in log if r.get("stage") == "recon" and r["step"] <= step]
    return float(got[-1]) if got else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cohort", required=True)
    p.add_argument("--cache", required=True, help="token cache root (TokenCache)")
    p.add_argument("--work-dir", required=True, help="clef pretrain --work-dir of the recon run")
    p.add_argument("--steps", default="100,300,1000")
    p.add_argument("--out", default="benchmarks/results/stage1_curve.md")
    p.add_argument("--work", default="/tmp/stage1_curve")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from clef.cohort import Cohort
    from clef.probe.battery import CATEGORIES
    from clef.tokenizer import TokenCache

    cohort = Cohort.load(args.cohort)
    train, test = _splits(cohort.sessions)
    work_dir, work = Path(args.work_dir), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    steps = [0] + [int(s) for s in args.steps.split(",")]
    rows, per_task = [], []
    for step in steps:
        model = load_step(work_dir, step)
        cache = TokenCache(args.cache, model.config.tokenizer_config())
        path = work / f"step{step}.npz"
        ids = train + test
        if path.is_file():
            z = np.load(path, allow_pickle=False)
            feats = {k: pd.DataFrame(z[k], index=z["__ids__"]) for k in ("mean", "region")}
            mse = float(z["__mse__"])
        else:
            t0 = time.process_time()
            feats = step_features(model, ids, cache)
            mse = recon_mse(model, test[:128], cache)
            np.savez(path, __ids__=np.array(ids), __mse__=mse,
                     **{k: v.loc[ids].to_numpy(np.float32) for k, v in feats.items()})
            print(f"step {step}: features {time.process_time() - t0:.0f} s CPU", flush=True)
        row = {"step": step, "train wall (min)": wall_at(work_dir, step) / 60,
               "held-out recon MSE": mse}
        for pool, X in feats.items():
            res = probe_all({pool: X}, cohort, train, test, CATEGORIES, n_boot=0)
            row[f"{pool}: all tasks"] = res["auroc"].mean()
            row[f"{pool}: findings"] = res.loc[res["category"] == "finding", "auroc"].mean()
            per_task.append(res.assign(step=step, pool=pool)[["step", "pool", "task", "category",
                                                              "auroc"]])
            print(f"step {step} {pool}: {row[f'{pool}: all tasks']:.3f}", flush=True)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("step")
    write_report(table, pd.concat(per_task), Path(args.out), " ".join(sys.argv))


def write_report(table: pd.DataFrame, per_task: pd.DataFrame, out: Path, command: str) -> None:
    fig = out.with_suffix(".png")
    _figure(table, fig)
    old = out.read_text() if out.is_file() else ""
    notes = old[old.index(NOTES):old.index(END_NOTES) + len(END_NOTES)] if END_NOTES in old else ""
    text = ["# Stage-1 learning curve (masked spectrogram reconstruction)\n",
            f"`python {command}`\n", notes, "", markdown(table), "",
            f"![stage-1 learning curve]({fig.name})", ""]
    out.write_text("\n".join(text))
    per_task.to_csv(out.with_suffix(".csv"), index=False)


def _figure(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    x = np.maximum(table.index.to_numpy(), 10)  # step 0 (random) drawn at 10 on the log axis
    for col, style in (("mean: all tasks", "-o"), ("region: all tasks", "-s"),
                       ("mean: findings", ":o"), ("region: findings", ":s")):
        a.plot(x, table[col], style, label=col)
    a.set_xscale("log")
    a.set_xlabel("stage-1 steps (10 = random weights)")
    a.set_ylabel("mean test AUROC")
    a.legend(fontsize=7)
    b.plot(x[1:], table["held-out recon MSE"].to_numpy()[1:], "-o")
    b.set_xscale("log")
    b.set_xlabel("stage-1 steps")
    b.set_ylabel("held-out masked recon MSE")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
