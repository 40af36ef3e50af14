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
from clef.text.linking import CONTEXT_WEIGHT, ConceptLinker

OUT = Path(__file__).resolve().parent / "results" / "semantics_linking.md"
QUERIES = Path(__file__).resolve().parent / "queries" / "unseen_phrasings.yaml"
VARIANTS = ("phrases", "description", "context")  # each adds to the one before
SWEEP = (0.0, 0.5, 1.0, 2.0)  # context weights tried
LABELS = {"phrases": "phrases only / typed words", "description": "+ EEG descriptions / linked",
          "context": "+ clinical context"}


def score_split(emb: pd.DataFrame, cohort: Cohort, ids: list[str], encode) -> dict:
    """Named / held-out / lowest-named zero-shot and unseen-phrasings means, per variant."""
    labels = labels_wide(cohort.tasks)
    info = cohort.tasks.drop_duplicates("task")
    sessions = cohort.sessions.assign(session_id=cohort.sessions["session_id"].astype(str))
    X = emb.loc[ids].to_numpy(np.float64)
    out = {}
    for desc in VARIANTS:
        zs = zeroshot_eval(emb, sessions, labels, info, encode, ids=ids, n_boot=0,
                           descriptors=desc != "phrases",
                           context_weight=CONTEXT_WEIGHT if desc == "context" else 0.0)
        s = summarize_zeroshot(zs)
        ok = zs[(zs["status"] == "ok") & ~zs["held_out"]]
        out[f"zs_{desc}"] = {"named": float(s.loc["named in training reports", "mean_auroc"]),
                             "held_out": float(s.loc["held-out", "mean_auroc"]),
                             "lowest": float(ok["auroc"].min()),
                             "lowest_task": str(ok.loc[ok["auroc"].idxmin(), "task"])}
        out[f"tasks_{desc}"] = zs.set_index("task")["auroc"]
    for w in SWEEP:  # the context weight, chosen on the training patients
        s = summarize_zeroshot(zeroshot_eval(emb, sessions, labels, info, encode, ids=ids,
                                             n_boot=0, context_weight=w))
        out[f"sweep_{w}"] = {g: float(s.loc[g, "mean_auroc"]) for g in s.index}
        out[f"sweep_{w}"]["all"] = float((s["mean_auroc"] * s["n_tasks"]).sum()
                                          / s["n_tasks"].sum())
    qs = load_query_set(QUERIES)
    lab = labels.reindex(ids)
    for link in VARIANTS:
        linker = (False if link == "phrases" else
                  ConceptLinker(encode, context_weight=CONTEXT_WEIGHT if link == "context" else 0))
        q = query_set_eval(X, lab, qs, encode, link=linker)
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
             f"context weight {CONTEXT_WEIGHT:g}, side rule, finding groups) were chosen on the "
             "training patients; the held-out rows are the ones to quote. Clinical context: "
             "each finding's vector also carries the findings its typical causes produce "
             "(`clef.vocabulary.relations`, from the diagnoses' EEG signatures after "
             "CLINICAL_EEG.md, the same clinical facts the generator follows)."), "",
             "| patients | zero-shot | named | held-out | lowest named | unseen phrasings |",
             "|---|---|---|---|---|---|"]
    for split, name in (("train", "training (selection)"), ("test", "held-out (report)")):
        r = res[split]
        for on in VARIANTS:
            label = LABELS[on]
            z = r[f"zs_{on}"]
            lines.append(f"| {name} | {label} | {z['named']:.3f} | {z['held_out']:.3f} | "
                         f"{z['lowest']:.3f} ({z['lowest_task']}) | {r[f'unseen_{on}']:.3f} "
                         f"({r[f'unseen_n_{on}']} queries) |")
    lines += ["", ("Context weight (zero-shot mean AUROC; the weight with the best mean over all "
                   "concepts on the training patients is the default):"), "",
              "| patients | weight | named | held-out | all concepts |", "|---|---|---|---|---|"]
    for split, name in (("train", "training (selection)"), ("test", "held-out (report)")):
        for w in SWEEP:
            z = res[split][f"sweep_{w}"]
            lines.append(f"| {name} | {w:g} | {z['named in training reports']:.3f} | "
                         f"{z['held-out']:.3f} | {z['all']:.3f} |")
    t = pd.DataFrame({v: res["test"][f"tasks_{v}"] for v in VARIANTS}).dropna()
    t["change"] = t["context"] - t["phrases"]
    lines += ["", "Per concept, held-out patients (AUROC):", "", ("| concept | phrases only | "
              "+ description | + context | change |"), "|---|---|---|---|---|"]
    lines += [f"| {k} | {v.phrases:.3f} | {v.description:.3f} | {v.context:.3f} | "
              f"{v.change:+.3f} |" for k, v in t.sort_values("change").iterrows()]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:16]))


if __name__ == "__main__":
    main()
