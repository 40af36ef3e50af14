# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Zero-shot concepts: asking EEG questions in words
#
# After alignment (notebook 03) EEG sessions and text share one embedding space, so a free-text
# query can score sessions without any labelled training data: embed the query with the text
# tower and take its cosine similarity with every session embedding. This notebook:
#
# 1. scores sessions with **free-text queries** and reads the top hits' reports;
# 2. builds **prompt ensembles** (many phrasings of one concept, averaged) and measures how much
#    they help;
# 3. evaluates **held-out concepts**: findings that never appear in a training report, so the
#    model cannot have learned their names from the reports it was aligned to;
# 4. looks at **where zero-shot fails**: negation, rare concepts, and concepts the EEG does not
#    show.
#
# Library calls: `clef.model.CLEFModel.encode_text`, `clef.probe.zeroshot` (`text_encoder`,
# `concept_prompts`, `zeroshot_scores`, `zeroshot_eval`, `summarize_zeroshot`),
# `clef.probe.representations.store_features`.

# %% tags=["parameters"]
# Parameters. The defaults run in well under a minute on 2 CPU cores.
import os

SAMPLE_DIR = os.environ.get("CLEF_SAMPLE_DIR", "")  # "" = data_samples/ (cohort, checkpoint, store)
QUERIES = ("left temporal sharp waves", "burst suppression", "benzodiazepine effect",
           "normal awake EEG")  # free-text queries of section 1
TOP_K = 5  # sessions shown per query
MIN_POS = 3  # positives (and negatives) a task needs to be scored (full setting: 5)
N_BOOT = 50  # patient bootstrap resamples for 95% intervals (full setting: 200)
TORCH_THREADS = 1  # torch CPU threads (0 = torch's default; 1 avoids contention on busy machines)
SHOW_SOLUTIONS = True  # run the exercise solutions (CI runs them so they cannot drift)

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib_inline.backend_inline import set_matplotlib_formats

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

from clef.cohort import Cohort
from clef.bundle import Bundle
from clef.model import CLEFModel
from clef.probe import auroc
from clef.probe.representations import store_features
from clef.probe.zeroshot import (
    TEMPLATES,
    concept_prompts,
    summarize_zeroshot,
    text_encoder,
    zeroshot_eval,
    zeroshot_scores,
)
from clef.synth import ONTOLOGY

set_matplotlib_formats("jpeg", pil_kwargs={"quality": 80})  # small committed outputs
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72, "figure.figsize": (10, 4)})
pd.set_option("display.width", 120)
pd.set_option("display.max_colwidth", 100)
if TORCH_THREADS:
    torch.set_num_threads(TORCH_THREADS)
bundle = Bundle.locate(SAMPLE_DIR or None, require=False)  # default: the shipped data_samples/
checkpoint = bundle.checkpoint
model = CLEFModel.from_pretrained(checkpoint).eval()
encode = text_encoder(model)  # list of texts -> (n, d) unit vectors
cohort = Cohort.load(bundle.cohort)
sessions, labels, info = cohort.sessions, cohort.labels(), cohort.task_info()
# Evaluate on held-out patients only (the "test" split): the model never saw their reports.
test = sessions[sessions["split"] == "test"] if "split" in sessions else sessions
emb, missing = store_features(bundle.store, test["session_id"])
test = test[test["session_id"].isin(emb.index)].reset_index(drop=True)
emb = emb.loc[test["session_id"]]
print(f"checkpoint {checkpoint}\n{len(test)} held-out sessions with embeddings "
      f"({len(missing)} missing from the store), embedding dim {emb.shape[1]}")

# %% [markdown]
# ## 1. Free-text queries
#
# A query is just text. Its score for a session is the cosine between the query's text
# embedding and the session's EEG embedding; sorting sessions by it is a concept search. For each
# query we show the best-scoring held-out sessions with the start of their report's impression.

# %%
def impression(report: str, n: int = 110) -> str:
    """The impression section of a report, shortened (display glue)."""
    text = report.split("IMPRESSION", 1)[-1].lstrip(":\n ").replace("\n", " ")
    return text[:n] + ("..." if len(text) > n else "")


q = encode(list(QUERIES))  # (queries, d)
E = emb.to_numpy(np.float64)
E = E / np.linalg.norm(E, axis=1, keepdims=True)
scores = pd.DataFrame(E @ q.T, index=test["session_id"], columns=list(QUERIES))
for query in QUERIES:
    top = scores[query].nlargest(TOP_K)
    print(f"\n{query!r}: top {TOP_K} of {len(scores)} "
          f"(cosine {top.iloc[-1]:.3f} .. {top.iloc[0]:.3f})")
    for sid, s in top.items():
        rep = test.set_index("session_id").loc[sid, "report"]
        print(f"  {s:.3f}  {sid:<22} {impression(rep)}")

# %%
fig, axes = plt.subplots(1, len(QUERIES), figsize=(14, 3), sharey=True)
for ax, query in zip(axes, QUERIES):
    ax.hist(scores[query], bins=25, color="tab:blue")
    ax.set(title=query, xlabel="cosine")
axes[0].set_ylabel("sessions")
fig.tight_layout()
plt.show()

# %% [markdown]
# Scores are only comparable *within* a query: each query has its own range. To say whether a
# query finds the right sessions we need labels: the finding tasks of the cohort.

# %% [markdown]
# ## 2. Prompt ensembles
#
# A concept can be said in many ways ("left temporal sharp waves", "left temporal epileptiform
# discharges", "spikes at F7/T7"). The ontology lists each concept's label and the synonyms
# reports use; `concept_prompts` puts each phrase into a few templates, and the concept's
# embedding is the mean of all prompt embeddings. We compare, for every finding task, the AUROC of
# the single label against the ensemble.

# %%
print(f"templates: {TEMPLATES}")
print("prompts for ied_left_temporal:", concept_prompts("ied_left_temporal")[:6], "...")
findings = info[(info["category"] == "finding") & info["task"].isin(ONTOLOGY)]["task"].tolist()
y = labels.reindex(test["session_id"])
single = zeroshot_scores(E, encode, findings, {c: [ONTOLOGY[c].label] for c in findings},
                         index=test["session_id"])
ens = zeroshot_scores(E, encode, findings, index=test["session_id"])
rows = []
for c in findings:
    yc = y[c].to_numpy(float)
    ok = np.isfinite(yc)
    n_pos = int(yc[ok].sum())
    if min(n_pos, int(ok.sum()) - n_pos) < MIN_POS:
        continue
    rows.append({"task": c, "held_out": bool(ONTOLOGY[c].held_out), "positives": n_pos,
                 "label only": auroc(yc[ok], single[c].to_numpy()[ok]),
                 "ensemble": auroc(yc[ok], ens[c].to_numpy()[ok])})
compare = pd.DataFrame(rows).set_index("task")
print(f"{len(compare)} finding tasks with >= {MIN_POS} positives and negatives among held-out "
      f"sessions; mean AUROC label only {compare['label only'].mean():.3f}, ensemble "
      f"{compare['ensemble'].mean():.3f}")
compare.round(3)

# %% [markdown]
# ## 3. Held-out concepts
#
# `zeroshot_eval` scores every finding task on the held-out patients and counts how many
# *training* reports name the concept: held-out concepts have zero by construction, so whatever
# the model knows about them it did not learn from their names. It can still get them right when
# their words are close, in the text tower's space, to words it did learn (periodic, triphasic,
# frontal, rhythmic delta...) and the EEG pattern resembles patterns it learned.

# %%
zs = zeroshot_eval(emb, sessions, labels, info, encode, ids=test["session_id"], n_boot=N_BOOT,
                   min_pos=MIN_POS)
ok = zs[zs["status"] == "ok"]
print(summarize_zeroshot(zs).round(3).to_string())
cols = ["task", "group", "n_pos", "n_train_reports_naming", "auroc", "ci_low", "ci_high"]
ok.sort_values(["group", "auroc"], ascending=[True, False])[cols].round(3)

# %%
fig, ax = plt.subplots(figsize=(10, 4))
ok_sorted = ok.sort_values("auroc")
colors = np.where(ok_sorted["held_out"], "tab:orange", "tab:blue")
ax.barh(ok_sorted["task"], ok_sorted["auroc"], color=colors)
if N_BOOT:
    ax.errorbar(ok_sorted["auroc"], ok_sorted["task"],
                xerr=[ok_sorted["auroc"] - ok_sorted["ci_low"],
                      ok_sorted["ci_high"] - ok_sorted["auroc"]],
                fmt="none", color="k", lw=0.8)
ax.axvline(0.5, color="k", ls="--", lw=0.8)
ax.set(xlabel="zero-shot AUROC (held-out patients)", title="blue: named in training reports, "
       "orange: held-out concepts")
ax.tick_params(axis="y", labelsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Where zero-shot fails
#
# **Negation.** A sentence encoder puts "no epileptiform discharges" close to "epileptiform
# discharges": they share almost every word. Querying for the *absence* of a finding therefore
# scores nearly like querying for its presence. We measure it: the cosine between the two text
# embeddings, and the AUROC of the negated query for the finding (a query that understood the
# negation would score below 0.5).

# %%
pairs = [("epileptiform discharges", "no epileptiform discharges"),
         ("generalized slowing", "no slowing"),
         ("burst suppression", "continuous background without suppression")]
task_for = {"epileptiform discharges": "any_epileptiform", "generalized slowing":
            "generalized_slowing", "burst suppression": "burst_suppression"}
rows = []
for pos, neg in pairs:
    tp, tn = encode([pos, neg])
    t = task_for[pos]
    yt = y[t].to_numpy(float) if t in y else np.full(len(y), np.nan)
    keep = np.isfinite(yt)
    enough = keep.any() and 0 < yt[keep].sum() < keep.sum()
    rows.append({"query": pos, "negated": neg, "text cosine": float(tp @ tn),
                 "AUROC query": auroc(yt[keep], (E @ tp)[keep]) if enough else np.nan,
                 "AUROC negated": auroc(yt[keep], (E @ tn)[keep]) if enough else np.nan})
pd.DataFrame(rows).round(3)

# %% [markdown]
# **Rare concepts and concepts the EEG does not show.** Zero-shot also fails where there is
# nothing to find: phenotypes and medications without an EEG signature (notebook 02), and
# concepts too rare in the training data for alignment to place them. The phenotype and
# medication tasks scored the same way (prompt = the task's concept text):

# %%
zs_other = zeroshot_eval(emb, sessions, labels, info, encode, ids=test["session_id"], n_boot=0,
                         min_pos=MIN_POS, categories=("phenotype", "medication"))
other = zs_other[zs_other["status"] == "ok"]
print(other.groupby("category")["auroc"].agg(["count", "mean", "min", "max"]).round(3).to_string())
print("\nworst five:")
print(other.nsmallest(5, "auroc")[["task", "category", "n_pos", "auroc"]].round(3).to_string(
    index=False))

# %% [markdown]
# ## Exercises
#
# 1. **Your own query.** Score the held-out sessions with "benzodiazepine effect" and compute its
#    AUROC against the `excess_beta` finding and against the `benzodiazepine_class` medication
#    task. Which does the query find better, the drug or its EEG effect?
# 2. **Templates.** Build the ensemble with only the template `"{}"` (no sentence around the
#    phrase) and compare the mean AUROC over finding tasks with the default templates.
# 3. **A concept outside the ontology.** Query "sleep" and compare its scores between sessions
#    with and without `sleep_spindles`.

# %%
if SHOW_SOLUTIONS:
    # 1. One query, two tasks.
    qv = encode(["benzodiazepine effect"])[0]
    s = E @ qv
    for t in ("excess_beta", "benzodiazepine_class"):
        yt = y[t].to_numpy(float) if t in y else np.full(len(y), np.nan)
        keep = np.isfinite(yt)
        if keep.any() and 0 < yt[keep].sum() < keep.sum():
            print(f"'benzodiazepine effect' vs {t}: AUROC {auroc(yt[keep], s[keep]):.3f} "
                  f"({int(yt[keep].sum())} positives)")
        else:
            print(f"{t}: not enough positives among held-out sessions")

# %%
if SHOW_SOLUTIONS:
    # 2. Bare phrases versus the default templates.
    from clef.probe.zeroshot import concept_embeddings

    bare = concept_embeddings(encode, list(compare.index), templates=("{}",))  # (tasks, d)
    bare_auc = [auroc(y[c].to_numpy(float)[np.isfinite(y[c].to_numpy(float))],
                      (E @ bare[i])[np.isfinite(y[c].to_numpy(float))])
                for i, c in enumerate(compare.index)]
    print(f"mean AUROC, bare phrases {np.mean(bare_auc):.3f} vs templated ensemble "
          f"{compare['ensemble'].mean():.3f} over {len(compare)} tasks")

# %%
if SHOW_SOLUTIONS:
    # 3. "sleep" against sleep spindles.
    s = E @ encode(["sleep"])[0]
    if "sleep_spindles" in y:
        ys = y["sleep_spindles"].to_numpy(float)
        keep = np.isfinite(ys)
        print(f"mean 'sleep' score with spindles {s[keep][ys[keep] == 1].mean():.3f}, without "
              f"{s[keep][ys[keep] == 0].mean():.3f}")
