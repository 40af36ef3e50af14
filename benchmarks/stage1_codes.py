"""Stage 1 on VQ codes vs on patches: linear probes of the last encoder layer (issue 15.2).

Compares stage-1 encoders given as training checkpoints (``WORK/checkpoints/ckpt-*``) or saved
models, e.g. masked continuous reconstruction on linear patches (``clef pretrain --stage recon``)
and masked-code prediction on VQ input (``... --vq-tokenizer DIR --recon-target codes``), with
the probes of ``benchmarks/stage1_diagnosis.py`` (its ``_layer_states``, ``_pools``,
``probe_all``): site-A held-out patients, finding tasks, states of the last Transformer block
pooled by mean over all tokens and by mean per region.

Usage::

    nice -n 10 python benchmarks/stage1_codes.py --cohort /work/w/cohort2 \\
        --cache /work/w/cache/tokens --run patches=WORK_A/checkpoints/ckpt-00000200 \\
        --run codes=WORK_B/checkpoints/ckpt-00000200 --work /tmp/stage1_codes
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage1_diagnosis import LATERAL, _layer_states, _pools, _splits, markdown, probe_all


def load_encoder(path: Path):
    """A CLEFModel from a training checkpoint folder (state.json + model.safetensors) or a
    ``save_pretrained`` folder."""
    from safetensors.torch import load_file

    from clef.model import CLEFModel, ModelConfig

    if (path / "state.json").is_file():
        state = json.loads((path / "state.json").read_text())
        model = CLEFModel(ModelConfig.from_dict(state["model_config"]))
        model.load_state_dict(load_file(str(path / "model.safetensors")), strict=True)
        return model.eval()
    return CLEFModel.from_pretrained(path).eval()


def features(ids, cache, models: dict, n_regions: int) -> tuple[dict, dict]:
    """name -> DataFrame of last-layer pooled states; name -> CPU seconds of the encoder."""
    from tqdm.auto import tqdm

    rows: dict = {}
    cpu = dict.fromkeys(models, 0.0)
    for sid in tqdm(ids, desc="features", mininterval=10):
        tok = cache.get(sid)
        for tag, model in models.items():
            t0 = time.process_time()
            layer, st = _layer_states(model, tok)[-1]
            cpu[tag] += time.process_time() - t0
            for pool, v in _pools(st, tok, n_regions).items():
                rows.setdefault(f"{tag}/{layer}/{pool}", {})[sid] = v
    return {k: pd.DataFrame.from_dict(v, orient="index") for k, v in rows.items()}, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cohort", required=True)
    p.add_argument("--cache", required=True, help="token cache root of the linear tokenizer")
    p.add_argument("--run", action="append", required=True,
                   help="NAME=checkpoint folder, or NAME=random:folder (its config, random weights)")
    p.add_argument("--work", default="/tmp/stage1_codes")
    p.add_argument("--n-boot", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from clef.cohort import Cohort
    from clef.tokenizer import TokenCache

    cohort = Cohort.load(args.cohort)
    train, test = _splits(cohort.sessions)
    ids = sorted(train + test)
    models = {}
    for name, spec in (r.split("=", 1) for r in args.run):
        if spec.startswith("random:"):  # the same architecture with random weights (reference)
            from clef.probe.representations import random_encoder

            models[name] = random_encoder(load_encoder(Path(spec[7:])), 0).eval()
        else:
            models[name] = load_encoder(Path(spec))
    first = next(iter(models.values()))
    cache = TokenCache(args.cache, first.config.tokenizer_config())
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.process_time()
    feats, cpu = features(ids, cache, models, first.config.encoder.n_regions)
    t_feat = time.process_time() - t0
    long = probe_all(feats, cohort, train, test, ["finding"], args.n_boot)
    long.to_csv(work / "probes.csv", index=False)
    wide = long.pivot_table(index="representation", columns="task", values="auroc")
    table = pd.DataFrame({"features": long.groupby("representation")["n_features"].first(),
                          "findings (mean)": wide.mean(1)})
    lat = [t for t in LATERAL[:4] if t in wide.columns]
    table["lateral (mean of 4)"] = wide[lat].mean(1)
    for t in LATERAL:
        if t in wide.columns:
            table[t.replace("_", " ")] = wide[t]
    print(markdown(table))
    print(f"\n{len(train)} site-A training, {len(test)} held-out sessions; features {t_feat:.0f} s "
          f"CPU (encoder {', '.join(f'{k} {v:.0f} s' for k, v in cpu.items())}), probes "
          f"{time.process_time() - t0 - t_feat:.0f} s CPU")
    (work / "table.md").write_text(markdown(table) + "\n")


if __name__ == "__main__":
    main()
