"""Concept linking and EEG descriptions in zero-shot search: on vs off, on the same embeddings.

Scores one embedding store (a checkpoint's session vectors) four ways, on the site-A training
patients (where the settings were chosen) and on the site-A held-out patients (what is reported):
ontology prompts with and without each concept's EEG description
(``zeroshot_eval(descriptors=...)``), and the clinician query set with and without concept linking
(``query_set_eval(link=...)``). Writes ``benchmarks/results/semantics_linking.md``.

    .venv/bin/python benchmarks/linking.py --cohort COHORT --store data_samples/store \\
        --checkpoint data_samples/clef-tiny
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from clef.cohort import Cohort
from clef.model import CLEFModel
from clef.probe.derive import labels_wide
from clef.probe.semantics import load_query_set, query_set_eval
from clef.probe.zeroshot import summarize_zeroshot, text_encoder, zeroshot_eval
from clef.store import EmbeddingStore

OUT = Path(__file__).resolve().parent / "results" / "semantics_linking.md"
QUERIES = Path(__file__).resolve().parent / "queries" / "unseen_phrasings.yaml"


def score_split(emb: pd.DataFrame, cohort: Cohort, ids: list[str], encode) -> dict:
    """Named / held-out / lowest-named zero-shot and unseen-phrasings means, on vs off."""
    labels = labels_wide(cohort.tasks)
    info = cohort.tasks.drop_duplicates("task")
    sessions = cohort.sessions.assign(session_id=cohort.sessions["session_id"].astype(str))
    X = emb.loc[ids].to_numpy(np.float64)
    out = {}
    for desc in (False, True):
        zs = zeroshot_eval(emb, sessions, labels, info, encode, ids=ids, n_boot=0,
                           descriptors=desc)
        s = summarize_zeroshot(zs)
        ok = zs[(zs["status"] == "ok") & ~zs["held_out"]]
        out[f"zs_{desc}"] = {"named": float(s.loc["named in training reports", "mean_auroc"]),
                             "held_out": float(s.loc["held-out", "mean_auroc"]),
                             "lowest": float(ok["auroc"].min()),
                             "lowest_task": str(ok.loc[ok["auroc"].idxmin(), "task"])}
        out[f"tasks_{desc}"] = zs.set_index("task")["auroc"]
    qs = load_query_set(QUERIES)
    lab = labels.reindex(ids)
    for link in (False, True):
        q = query_set_eval(X, lab, qs, encode, link=link)
        out[f"unseen_{link}"] = float(q["auroc"].mean())
        out[f"unseen_n_{link}"] = len(q)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cohort", required=True)
    p.add_argument("--store", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--site", default="A")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    cohort = Cohort.load(args.cohort)
    store = EmbeddingStore.open(args.store)
    emb = pd.DataFrame(np.asarray(store.embeddings), index=store.sessions["session_id"].astype(str))
    encode = text_encoder(CLEFModel.from_pretrained(args.checkpoint).eval())
    s = cohort.sessions
    res = {}
    for split in ("train", "test"):
        ids = s.loc[(s["split"] == split) & (s["site"] == args.site), "session_id"].astype(str)
        res[split] = score_split(emb, cohort, [i for i in ids if i in emb.index], encode)
    lines = ["# Concept linking and EEG descriptions in zero-shot search", "",
             f"`{shlex.join(['python', 'benchmarks/linking.py', *sys.argv[1:]])}`", "",
             (f"Checkpoint `{args.checkpoint}`, store `{args.store}`, site {args.site}; "
             f"{time.time() - t0:.0f} s. Settings (link threshold 0.6, description weight 1, "
             "side rule, finding groups) were chosen on the training patients; the held-out "
             "rows are the ones to quote."), "",
             "| patients | zero-shot | named | held-out | lowest named | unseen phrasings |",
             "|---|---|---|---|---|---|"]
    for split, name in (("train", "training (selection)"), ("test", "held-out (report)")):
        r = res[split]
        for on, label in ((False, "phrases only / typed words"),
                          (True, "with descriptions / linked")):
            z = r[f"zs_{on}"]
            lines.append(f"| {name} | {label} | {z['named']:.3f} | {z['held_out']:.3f} | "
                         f"{z['lowest']:.3f} ({z['lowest_task']}) | {r[f'unseen_{on}']:.3f} "
                         f"({r[f'unseen_n_{on}']} queries) |")
    t = pd.DataFrame({"off": res["test"]["tasks_False"], "on": res["test"]["tasks_True"]}).dropna()
    t["change"] = t["on"] - t["off"]
    lines += ["", "Per concept, held-out patients (AUROC):", "", ("| concept | phrases only | "
              "with description | change |"), "|---|---|---|---|"]
    lines += [f"| {k} | {v.off:.3f} | {v.on:.3f} | {v.change:+.3f} |"
              for k, v in t.sort_values("change").iterrows()]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:14]))


if __name__ == "__main__":
    main()
