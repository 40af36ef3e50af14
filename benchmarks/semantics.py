"""Clinical-semantics ablation: several stage-2 checkpoints on the same split, side by side.

For each checkpoint: zero-shot AUROC with the ontology prompts (concepts named in training reports
and held-out concepts), the lowest named concept, the clinician query set (unseen phrasings; also
with a contrast against "normal EEG"), and the text-side diagnostic (tower vs raw backbone).
Sessions: the cohort's site-A held-out (split "test") patients, embedded from cached
locked-encoder states (all checkpoints must share the stage-1 encoder, as `--freeze-encoder`
stage-2 runs do). Writes ``benchmarks/results/semantics.md``.

    .venv/bin/python benchmarks/semantics.py --cohort COHORT --token-cache CACHE/tokens \\
        --model old=data_samples/clef-tiny --model findings=RUN1 --model report=RUN2
"""
from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from clef.cohort import Cohort
from clef.model import CLEFModel
from clef.probe.semantics import load_query_set, model_encoders, query_set_eval, semantics_eval
from clef.probe.zeroshot import (
    concept_prompts,
    summarize_zeroshot,
    task_phrases,
    text_encoder,
    zeroshot_eval,
)
from clef.tokenizer import TokenCache
from clef.train.data import PretrainData
from clef.train.frozen import FrozenStates
from clef.train.loop import encoder_key

OUT = Path(__file__).resolve().parent / "results" / "semantics.md"


def embed_test(model, rows, token_cache: Path, states_dir: Path) -> np.ndarray:
    """(n, d) unit embeddings of ``rows`` through ``model`` from cached locked-encoder states."""
    cache = TokenCache(token_cache, model.config.tokenizer_config())
    data = PretrainData(rows, cache, np.zeros((len(rows), 1), np.float32), model.ehr)
    fz = FrozenStates(model, data, torch.device("cpu"))
    path = states_dir / f"eval_{encoder_key(model)}_{len(rows)}.npz"
    if path.exists():
        fz.load(path)
    if any(s is None for s in fz.states):
        fz.fill(range(len(data)), progress=True)
        fz.save(path)
    out = []
    with torch.no_grad():
        for a in range(0, len(data), 32):
            b = fz.batch(np.arange(a, min(a + 32, len(data))), 0, 9, 0)
            z = model.pool_project(b.states, b.tokens, b.tokens.mask)
            out.append(torch.nn.functional.normalize(z, dim=-1))
    return torch.cat(out).numpy()


def quick_probe(model, train_rows, rows, labels, args) -> float:
    """Mean AUROC of a logistic probe (C=0.1, standardised embeddings) per task, site-A train ->
    site-A held-out, over every task with enough positives: a fast stand-in for `clef probe`'s
    cross-validated battery, to rank variants (the official numbers come from `clef probe`)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from clef.metrics import auroc

    Xtr = embed_test(model, train_rows, Path(args.token_cache), Path(args.states_dir))
    Xte = embed_test(model, rows, Path(args.token_cache), Path(args.states_dir))
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
    out = []
    for t in labels.columns:
        ytr = labels[t].reindex(train_rows["session_id"]).to_numpy(float)
        yte = labels[t].reindex(rows["session_id"]).to_numpy(float)
        a, b = np.isfinite(ytr), np.isfinite(yte)
        if min((ytr[a] == 1).sum(), (ytr[a] == 0).sum()) < 10 or \
                min((yte[b] == 1).sum(), (yte[b] == 0).sum()) < 5:
            continue
        clf = LogisticRegression(C=0.1, max_iter=2000).fit(Xtr[a], ytr[a])
        out.append(auroc(yte[b], clf.decision_function(Xte[b])))
    return float(np.mean(out))


def evaluate(name: str, ckpt: str, cohort: Cohort, rows, labels, info, args) -> dict:
    t0 = time.time()
    model = CLEFModel.from_pretrained(ckpt).eval()
    Z = embed_test(model, rows, Path(args.token_cache), Path(args.states_dir))
    ids = rows["session_id"].astype(str).tolist()
    zs = zeroshot_eval(Z, rows, labels, info, text_encoder(model), ids=ids, n_boot=0)
    summ = summarize_zeroshot(zs)
    ok = zs[zs["status"] == "ok"].set_index("task")
    prompts = {t: concept_prompts(t, {t: task_phrases(t, c)})
               for t, c in zip(info["task"], info["concept"])}
    lab = labels.reindex(ids).astype(float)
    sem = semantics_eval(model, Z, rows["report"].fillna("").tolist(), lab, prompts,
                         load_query_set(args.query_set))
    enc = model_encoders(model)["tower"]
    unseen_c = query_set_eval(Z, lab.reset_index(drop=True), load_query_set(args.query_set), enc,
                              reference="normal EEG")
    ts = sem["text_side"]
    rep = ts[ts["text"] == "report"]
    summ_t = ts[ts["text"] == "findings summary"]
    named = ok[ok["group"] == "named in training reports"]["auroc"]
    row = {
        "model": name,
        "zero-shot named": summ.loc["named in training reports", "mean_auroc"],
        "zero-shot held-out": summ.loc["held-out", "mean_auroc"],
        "lowest named": f"{named.min():.3f} ({named.idxmin()})",
        "named < 0.60": int((named < 0.6).sum()),
        "unseen phrasings": sem["unseen"].groupby("task")["auroc"].mean().mean(),
        "unseen, contrast vs normal EEG": unseen_c.groupby("task")["auroc"].mean().mean(),
        "text side tower (report)": rep["tower"].mean(),
        "text side backbone (report)": rep["backbone"].mean(),
        "tower < backbone (report)": int((rep["tower"] < rep["backbone"] - 1e-3).sum()),
        "text side tower (summary)": summ_t["tower"].mean(),
        "text side backbone (summary)": summ_t["backbone"].mean(),
        "linear probe, all tasks (quick proxy)": quick_probe(model, args.train_rows, rows,
                                                            cohort.labels(), args),
        "seconds": round(time.time() - t0, 1),
    }
    per_task = ok["auroc"].rename(name)
    print(name, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})
    return {"row": row, "per_task": per_task, "unseen": sem["unseen"].assign(model=name)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cohort", required=True)
    ap.add_argument("--token-cache", required=True, help="TokenCache folder (…/cache/tokens)")
    ap.add_argument("--states-dir", default=".cache/semantics-states")
    ap.add_argument("--model", action="append", required=True, help="name=checkpoint folder")
    ap.add_argument("--query-set", default=str(Path(__file__).parent / "queries" /
                                                "unseen_phrasings.yaml"))
    ap.add_argument("--site", default="A")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--notes", default="", help="Text placed under the table")
    args = ap.parse_args()
    torch.set_num_threads(1)
    Path(args.states_dir).mkdir(parents=True, exist_ok=True)
    cohort = Cohort.load(args.cohort)
    s = cohort.sessions
    rows = s[(s["split"] == "test") & (s["site"].astype(str) == args.site)].reset_index(drop=True)
    args.train_rows = s[(s["split"] == "train") & (s["site"].astype(str) == args.site)
                        ].reset_index(drop=True)
    labels = cohort.labels()
    info = cohort.task_info()
    info = info[info["category"] == "finding"]
    res = [evaluate(*m.split("=", 1), cohort, rows, labels, info, args) for m in args.model]
    table = pd.DataFrame([r["row"] for r in res]).set_index("model")
    per_task = pd.concat([r["per_task"] for r in res], axis=1)
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)
    md = ["# Clinical semantics: stage-2 variants on the same split (`benchmarks/semantics.py`)",
          "", (f"Cohort `{args.cohort}`, site-{args.site} held-out patients ({len(rows)} "
               "sessions); every model shares the locked stage-1 encoder."), "",
          "```", "python benchmarks/semantics.py " + " ".join(f"--model {shlex.quote(m)}"
                                                          for m in args.model),
          "```", ""]
    t = table.T
    md += ["| measure | " + " | ".join(t.columns) + " |",
           "|---|" + "---|" * len(t.columns)]
    md += [f"| {k} | " + " | ".join(fmt(v) for v in r) + " |" for k, r in t.iterrows()]
    md += ["", args.notes, "", "## Zero-shot AUROC per concept (ontology prompts)", "",
           "| task | " + " | ".join(per_task.columns) + " |",
           "|---|" + "---|" * len(per_task.columns)]
    md += [f"| {k} | " + " | ".join(fmt(v) for v in r) + " |" for k, r in per_task.iterrows()]
    Path(args.out).write_text("\n".join(md) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
