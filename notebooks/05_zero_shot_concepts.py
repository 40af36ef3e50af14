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
# **After this notebook you can**
# - search sessions with a free-text query (abbreviations such as FIRDA or LPDs, electrode
#   names, negation) and judge the hits by reading their reports;
# - explain **zero-shot** scoring: no labelled example of the concept, only its words;
# - explain prompt ensembles, held-out concepts, and the difference between ontology wording
#   and the way clinicians type;
# - list where the shipped model fails: concepts it ranks *backwards* (AUROC below 0.5),
#   concepts without an EEG signature, and why.
#
# **Prerequisites:** notebooks 03 (shared space, cosine similarity) and 04 (AUROC). Glossary in
# `notebooks/README.md`.
#
# **Time (about 30 min):** 1 free-text queries + exercise (10 min) · 2 prompt ensembles +
# exercise (5 min) · 3 held-out concepts (5 min) · 4 where zero-shot fails + exercise (10 min).
#
# After alignment (notebook 03) EEG sessions and text share one embedding space, so a query can
# score sessions without any labelled training data: embed the query with the text tower and take
# its cosine similarity with every session embedding. Every number below is computed on the
# held-out patients (the model never saw their reports) or read from the shipped probe run.
#
# Library calls: `clef.index.text_vector` (the dashboard's query path:
# `clef.text.queries.parse_query` + `query_vector`), `clef.text.queries.templates_for`,
# `clef.probe.zeroshot` (`text_encoder`, `concept_prompts`, `zeroshot_scores`, `zeroshot_eval`),
# `clef.probe.semantics.query_set_eval`.

# %% tags=["parameters"]
# Parameters. The defaults run in well under a minute on 2 CPU cores.
import os

SAMPLE_DIR = os.environ.get("CLEF_SAMPLE_DIR", "")  # "" = data_samples/ (cohort, checkpoint, store)
QUERIES = ("left temporal sharp waves", "burst suppression", "benzodiazepine effect",
           "normal awake EEG", "FIRDA")  # free-text queries of section 1
TOP_K = 5  # sessions shown per query
MIN_POS = 3  # positives (and negatives) a task needs to be scored (full setting: 5)
N_BOOT = 50  # patient bootstrap resamples for 95% intervals (full setting: 200)
TORCH_THREADS = 1  # torch CPU threads (0 = torch's default; 1 avoids contention on busy machines)

# %%
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets
ROOT = next((p for p in (Path.cwd(), *Path.cwd().parents) if (p / "clef" / "__init__.py").exists()),
            Path.cwd())
sys.path.insert(0, str(ROOT / "notebooks"))
import nbtools as nbt  # noqa: E402  (figure style, computed markdown, shipped results)

from clef.bundle import Bundle  # noqa: E402
from clef.cohort import Cohort  # noqa: E402
from clef.index import text_vector  # noqa: E402
from clef.model import CLEFModel  # noqa: E402
from clef.probe import auroc  # noqa: E402
from clef.probe.representations import store_features  # noqa: E402
from clef.probe.zeroshot import (  # noqa: E402
    concept_prompts,
    summarize_zeroshot,
    text_encoder,
    zeroshot_eval,
    zeroshot_scores,
)
from clef.text.queries import NORMAL_CONCEPTS, parse_query, templates_for  # noqa: E402
from clef.vocabulary import VOCABULARY  # noqa: E402

nbt.style()
if TORCH_THREADS:
    torch.set_num_threads(TORCH_THREADS)
bundle = Bundle.locate(SAMPLE_DIR or None, require=False)  # default: the shipped data_samples/
model = CLEFModel.from_pretrained(bundle.checkpoint).eval()
encode = text_encoder(model)  # list of texts -> (n, d) unit vectors (ontology prompts)
cohort = Cohort.load(bundle.cohort)
sessions, labels, info = cohort.sessions, cohort.labels(), cohort.task_info()
name = nbt.clinical_names(info)
# Evaluate on held-out patients only (the "test" split): the model never saw their reports.
test = sessions[sessions["split"] == "test"] if "split" in sessions else sessions
emb, missing = store_features(bundle.store, test["session_id"])
test = test[test["session_id"].isin(emb.index)].reset_index(drop=True)
emb = emb.loc[test["session_id"]]
E = emb.to_numpy(np.float64)
E = E / np.linalg.norm(E, axis=1, keepdims=True)  # (sessions, d) unit vectors
y = labels.reindex(test["session_id"]).apply(pd.to_numeric, errors="coerce").astype(float)
reports = test.set_index("session_id")["report"]
print(f"checkpoint {bundle.checkpoint}\n{len(test)} held-out sessions with embeddings "
      f"({len(missing)} missing from the store), embedding dim {emb.shape[1]}")


def impression(report: str, n: int = 110) -> str:
    """The impression section of a report, shortened (display glue)."""
    text = str(report).split("IMPRESSION", 1)[-1].lstrip(":\n ").replace("\n", " ")
    return text[:n] + ("..." if len(text) > n else "")


def search(query: str) -> pd.Series:
    """Cosine of every held-out session with a free-text query (the dashboard's path)."""
    return pd.Series(E @ text_vector(query, model).astype(np.float64), index=test["session_id"])


# %% [markdown]
# ## 1. Free-text queries (10 min, with the exercise)
#
# A query is just text. `text_vector` reads it the way a clinician writes it (FIRDA becomes
# "frontal intermittent rhythmic delta activity", T3 becomes "left temporal", and "no X" is read
# as a request for sessions *unlike* X), embeds a few prompts with the text tower and averages
# them. The score of a session is its cosine with that vector. For each query: the best-scoring
# held-out sessions with the start of their report's impression, and how many of them the report
# calls abnormal.

# %%
scores = pd.DataFrame({q: search(q) for q in QUERIES})
abnormal = y["abnormal_eeg"] if "abnormal_eeg" in y else pd.Series(np.nan, index=y.index)
lines = []
for query in QUERIES:
    q = parse_query(query)
    top = scores[query].nlargest(TOP_K)
    print(f"\n{query!r} -> {q.core!r}{' (negated)' if q.negated else ''}: top {TOP_K} of "
          f"{len(scores)} (cosine {top.iloc[-1]:.3f} .. {top.iloc[0]:.3f})")
    for sid, s in top.items():
        print(f"  {s:.3f}  {sid:<22} {impression(reports[sid])}")
    n_abn = int((abnormal.reindex(top.index) == 1).sum())
    lines.append(f"- *{query}*: {n_abn} of the top {TOP_K} are abnormal EEGs "
                 f"(all held-out sessions: {abnormal.mean():.2f} abnormal)")
nbt.say("**How many top hits are abnormal records?**\n\n" + "\n".join(lines)
        + "\n\nA query for a *normal* record that returns abnormal ones is a failure of the model, "
          "not of the reader: section 4 comes back to it.")

# %%
fig, axes = plt.subplots(1, len(QUERIES), figsize=(3.2 * len(QUERIES), 3.6), sharey=True)
for ax, query in zip(axes, QUERIES):
    ax.hist(scores[query], bins=25, color="tab:blue")
    ax.axvline(scores[query].nlargest(TOP_K).iloc[-1], color="tab:red", lw=1.2, ls="--")
    ax.set(title=query, xlabel="cosine similarity")
axes[0].set_ylabel("held-out sessions")
fig.suptitle(f"score distribution per query (red: the top {TOP_K} lie right of the line)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Scores are only comparable *within* a query: each query has its own range.
#
# **Try your own query.** Change `query` below and run the cell: the plot shows every held-out
# session's score (hover for its impression); red points are labelled with the finding you pick
# in `check_task` (a task name, or `None`).

# %%
query = "GPDs"  # e.g. "no epileptiform discharges", "L temporal IEDs", "triphasic waves"
check_task = "gpds"  # a finding task to colour by (see `labels.columns`), or None
import plotly.graph_objects as go  # noqa: E402

s = search(query).sort_values(ascending=False)
pos = (y[check_task].reindex(s.index) == 1) if check_task in y else pd.Series(False, index=s.index)
hover = [f"{sid}<br>{impression(reports[sid], 90)}" for sid in s.index]
fig = go.Figure()
for flag, colour, label in ((False, "#1f77b4", "other"), (True, "#d62728", str(check_task))):
    m = (pos == flag).to_numpy()
    fig.add_trace(go.Scatter(x=np.arange(len(s))[m] + 1, y=s.to_numpy()[m], mode="markers",
                             marker={"color": colour, "size": 6}, name=label,
                             text=np.asarray(hover)[m], hovertemplate="%{text}<extra></extra>"))
fig.update_layout(title=f"{query!r}: held-out sessions ranked by cosine", height=380, width=900,
                  xaxis_title="rank", yaxis_title="cosine similarity", font={"size": 13})
fig.show(renderer="plotly_mimetype+notebook_connected")
if check_task in y:
    yy = y[check_task].reindex(s.index).to_numpy()
    ok = np.isfinite(yy)
    print(f"AUROC of {query!r} for {name[check_task]}: {auroc(yy[ok], s.to_numpy()[ok]):.3f}")

# %% [markdown]
# ### Exercise 1.1 · Rate the top hits by reading their reports
#
# Pick a query, read the full reports of its ten best held-out sessions, and rate each 1 (the
# report describes what you asked for) or 0. Your precision at ten is the mean rating. Then
# compare with the task labels (which come from the generator's ground truth, not from the
# report) and with the base rate: how much better than picking sessions at random is the query?

# %%
# Exercise 1.1 · scaffold
rate_query, rate_task = "generalized slowing", "generalized_slowing"
top10 = search(rate_query).nlargest(10)
for sid in top10.index[:2]:  # print more with top10.index
    print(f"--- {sid}\n{reports[sid][:900]}\n")
my_ratings = []  # TODO: ten 0/1 ratings, in the order of top10
if len(my_ratings) == len(top10):
    print(f"your precision at 10: {np.mean(my_ratings):.2f}")
else:
    print(f"TODO: rate the {len(top10)} reports (you have {len(my_ratings)} ratings)")

# %% tags=["solution"]
# Exercise 1.1 · solution (the labels as the rater; a clinician's ratings can differ: reports
# omit findings and sometimes name absent ones, notebook 02)
truth = y[rate_task].reindex(top10.index)
mentions = [any(p in reports[sid].lower() for p in VOCABULARY[rate_task].phrases)
            for sid in top10.index]
print(f"precision at 10 by the labels: {truth.mean():.2f}; by the report mentioning it: "
      f"{np.mean(mentions):.2f}; base rate among held-out sessions: {y[rate_task].mean():.2f}")

# %% [markdown]
# ## 2. Prompt ensembles (5 min, with the exercise)
#
# A concept can be said in many ways ("left temporal sharp waves", "left temporal epileptiform
# discharges", "spikes at F7/T7"). The vocabulary lists each concept's label and the synonyms
# reports use; `concept_prompts` puts each phrase into a few templates, and the concept's
# embedding is the mean of all prompt embeddings. The templates depend on the concept's polarity:
# a normal phenomenon (posterior rhythm, sleep transients) is never written as "abnormal EEG".

# %%
for c in ("normal_pdr", "ied_left_temporal"):
    print(f"{name[c]}: templates {templates_for(c)}")
print("prompts for left temporal discharges:", concept_prompts("ied_left_temporal")[:5], "...")
findings = info[(info["category"] == "finding") & info["task"].isin(VOCABULARY)]["task"].tolist()
single = zeroshot_scores(E, encode, findings, {c: [VOCABULARY[c].label] for c in findings},
                         index=test["session_id"])
ens = zeroshot_scores(E, encode, findings, index=test["session_id"])
rows = []
for c in findings:
    yc = y[c].to_numpy(float) if c in y else np.full(len(y), np.nan)
    ok = np.isfinite(yc)
    n_pos = int(yc[ok].sum())
    if min(n_pos, int(ok.sum()) - n_pos) < MIN_POS:
        continue
    rows.append({"finding": name[c], "task": c, "held out": bool(VOCABULARY[c].held_out),
                 "positives": n_pos, "label only": auroc(yc[ok], single[c].to_numpy()[ok]),
                 "ensemble": auroc(yc[ok], ens[c].to_numpy()[ok])})
compare = pd.DataFrame(rows).set_index("task")
better = int((compare["ensemble"] > compare["label only"]).sum())
nbt.say(f"Over {len(compare)} finding tasks (at least {MIN_POS} positives among held-out "
        f"sessions): mean AUROC with the label only {compare['label only'].mean():.3f}, with the "
        f"ensemble {compare['ensemble'].mean():.3f}; the ensemble is higher on {better} of them.")
compare.round(3)

# %% [markdown]
# ### Exercise 2.1 · Templates
#
# Build the ensemble with only the bare phrases (template `"{}"`, no sentence around them) and
# compare the mean AUROC over the same finding tasks with the default templates.

# %%
# Exercise 2.1 · scaffold
from clef.probe.zeroshot import concept_embeddings  # noqa: E402

bare = None  # TODO: concept_embeddings(encode, list(compare.index), templates=("{}",))
if bare is None:
    print("TODO: embed the bare phrases, score E @ bare[i] per task, take the AUROC")

# %% tags=["solution"]
# Exercise 2.1 · solution
bare = concept_embeddings(encode, list(compare.index), templates=("{}",))  # (tasks, d)
bare_auc = []
for i, c in enumerate(compare.index):
    yc = y[c].to_numpy(float)
    ok = np.isfinite(yc)
    bare_auc.append(auroc(yc[ok], (E @ bare[i])[ok]))
print(f"mean AUROC, bare phrases {np.mean(bare_auc):.3f} vs templated ensemble "
      f"{compare['ensemble'].mean():.3f} over {len(compare)} tasks")

# %% [markdown]
# ## 3. Held-out concepts (5 min)
#
# `zeroshot_eval` scores every finding task on the held-out patients and counts how many
# *training* reports name the concept: held-out concepts have zero by construction, so whatever
# the model knows about them it did not learn from their names. It can still get them right when
# their words are close, in the text tower's space, to words it did learn (periodic, triphasic,
# frontal, rhythmic delta...) and the EEG pattern resembles patterns it learned.

# %%
zs = zeroshot_eval(emb, sessions, labels, info, encode, ids=test["session_id"], n_boot=N_BOOT,
                   min_pos=MIN_POS)
ok_zs = zs[zs["status"] == "ok"].assign(finding=lambda d: d["task"].map(name))
display(summarize_zeroshot(zs).round(3))
targets = nbt.read_result("targets.csv", bundle=bundle)
if targets is not None and {"target", "value", "threshold", "status"} <= set(targets.columns):
    zt = targets[targets["target"].str.contains("zero-shot")]
    nbt.say("**Shipped probe run** (`targets.csv`, min. positives as in `clef probe`):\n\n"
            + "\n".join(f"- {r.target}: {float(r.value):.3f} (target {r.threshold}, "
                        f"**{r.status}**)" for r in zt.itertuples()))

# %%
ok_sorted = ok_zs.sort_values("auroc")
fig, ax = plt.subplots(figsize=(10, 0.3 * len(ok_sorted) + 1.5))
colors = np.where(ok_sorted["auroc"] < 0.5, "tab:red",
                  np.where(ok_sorted["held_out"], "tab:orange", "tab:blue"))
ax.barh(ok_sorted["finding"], ok_sorted["auroc"], color=colors)
if N_BOOT:
    ax.errorbar(ok_sorted["auroc"], ok_sorted["finding"],
                xerr=[ok_sorted["auroc"] - ok_sorted["ci_low"],
                      ok_sorted["ci_high"] - ok_sorted["auroc"]], fmt="none", color="k", lw=0.8)
ax.axvline(0.5, color="k", ls="--", lw=0.8)
ax.set(xlabel="zero-shot AUROC on held-out patients (0.5 = chance)", xlim=(0, 1.02),
       title="blue: named in training reports · orange: held-out concept · red: ranked backwards")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Where zero-shot fails (10 min, with the exercise)
#
# **Concepts ranked backwards.** An AUROC below 0.5 means the query scores sessions *without*
# the finding higher than sessions with it. The list below is computed on this notebook's
# held-out sessions and read from the shipped probe run.

# %%
inverted = ok_zs[ok_zs["auroc"] < 0.5].sort_values("auroc")
shipped_zs = nbt.read_result("zeroshot.csv", bundle=bundle)
shipped_inv = (shipped_zs[(shipped_zs["status"] == "ok") & (shipped_zs["auroc"] < 0.5)]
               if shipped_zs is not None else pd.DataFrame(columns=["task", "auroc"]))
normal_inv = [t for t in inverted["task"] if t in NORMAL_CONCEPTS]
text = [f"**{len(inverted)} of {len(ok_zs)}** finding tasks score below 0.5 here: "
        + (", ".join(f"{r.finding} ({r.auroc:.3f}, {int(r.n_pos)} positives)"
                     for r in inverted.itertuples()) or "none") + "."]
if shipped_zs is not None:
    text.append(f"In the shipped probe run: {len(shipped_inv)} below 0.5: "
                + (", ".join(f"{name[t]} ({a:.3f})" for t, a in
                             zip(shipped_inv["task"], shipped_inv["auroc"])) or "none") + ".")
if normal_inv and "abnormal_eeg" in y:
    ya = y["abnormal_eeg"].to_numpy(float)
    ka = np.isfinite(ya)
    finds_abnormal = {t: auroc(ya[ka], ens[t].to_numpy()[ka]) for t in normal_inv if t in ens}
    text.append(
        "Among them, " + ", ".join(name[t] for t in normal_inv) + " are *normal* phenomena, "
        "common in the records of healthy outpatients. Scored against the label *abnormal EEG* "
        "instead, their queries reach AUROC "
        + ", ".join(f"{name[t]} {a:.3f}" for t, a in finds_abnormal.items())
        + (": they find abnormal records. " if min(finds_abnormal.values(), default=0) > 0.5
           else ". ")
        + "The small aligned model has one strong abnormal-versus-normal direction, and these "
        "weak concepts do not move a query off it (compare the 'normal awake EEG' query of "
        "section 1).")
nbt.say("\n\n".join(text))

# %% [markdown]
# **Negation.** A sentence encoder puts "no epileptiform discharges" close to "epileptiform
# discharges": they share almost every word. The raw cosine between the two texts shows it. The
# query path therefore parses the negation (`parse_query`) and searches *away* from the concept,
# so a negated query ranks sessions in exactly the reverse order of its core concept (column
# "parsed as"): its AUROC is one minus the core query's. The raw text embedding of the negated
# sentence, searched as is, mostly does not reverse (compare the last two columns).

# %%
pairs = [("epileptiform discharges", "no epileptiform discharges", "any_epileptiform"),
         ("generalized slowing", "no slowing", "generalized_slowing"),
         ("burst suppression", "without burst suppression", "burst_suppression")]
rows = []
for pos, neg, t in pairs:
    raw_pos, raw_neg = encode([pos, neg])
    yt = y[t].to_numpy(float) if t in y else np.full(len(y), np.nan)
    keep = np.isfinite(yt)
    enough = keep.any() and 0 < yt[keep].sum() < keep.sum()
    rows.append({"query": pos, "negated": neg, "parsed as": parse_query(neg).core,
                 "raw text cosine": float(raw_pos @ raw_neg),
                 "AUROC query": auroc(yt[keep], search(pos).to_numpy()[keep]) if enough else np.nan,
                 "AUROC negated (parsed)":
                     auroc(yt[keep], search(neg).to_numpy()[keep]) if enough else np.nan,
                 "AUROC negated (raw text)":
                     auroc(yt[keep], (E @ raw_neg)[keep]) if enough else np.nan})
neg_table = pd.DataFrame(rows)
neg_table.round(3)

# %% [markdown]
# **Concepts the EEG does not show.** Zero-shot also fails where there is nothing to find:
# phenotypes and medications without an EEG signature (notebook 02). The same scoring on those
# tasks (prompt = the task's concept text):

# %%
zs_other = zeroshot_eval(emb, sessions, labels, info, encode, ids=test["session_id"], n_boot=0,
                         min_pos=MIN_POS, categories=("phenotype", "medication"))
other = zs_other[zs_other["status"] == "ok"]
by_cat = other.groupby("category")["auroc"].agg(["count", "mean", "min", "max"])
display(by_cat.round(3))
print("worst five:", ", ".join(f"{name[t]} {a:.3f}" for t, a in
                               other.nsmallest(5, "auroc")[["task", "auroc"]].to_numpy()))

# %% [markdown]
# **Ontology wording against clinicians' wording.** The prompts above come from the same
# vocabulary the synthetic reports are written with. `benchmarks/queries/unseen_phrasings.yaml`
# holds queries written the way clinicians type (abbreviations, electrode names, lay terms),
# scored here through the dashboard's query path; the shipped probe run also compares the
# trained text tower with the raw backbone on the reports themselves (`text_side.csv`, no EEG:
# the ceiling the EEG side is aligned towards), shown when the run has it.

# %%
from clef.probe.semantics import load_query_set, model_encoders, query_set_eval  # noqa: E402

qset = load_query_set()
unseen = query_set_eval(E, y.reset_index(drop=True), qset, model_encoders(model)["tower"],
                        min_pos=MIN_POS)
per_task = unseen.groupby("task")["auroc"].agg(["count", "mean", "min", "max"])
per_task.index = [name[t] for t in per_task.index]
weak = unseen[unseen["auroc"] < 0.5]
nbt.say(f"{len(unseen)} clinician-style queries over {unseen['task'].nunique()} tasks: mean AUROC "
        f"{unseen['auroc'].mean():.3f} (ontology prompts on the same findings: "
        f"{ok_zs.loc[ok_zs['task'].isin(unseen['task']), 'auroc'].mean():.3f}); {len(weak)} "
        "queries rank backwards, for example: "
        + (", ".join(f"*{q}* ({a:.3f})" for q, a in weak.nsmallest(4, "auroc")[["query", "auroc"]]
                     .to_numpy()) or "none") + ".")
display(per_task.sort_values("mean").round(3))
text_side = nbt.read_result("text_side.csv", bundle=bundle)
if text_side is not None and {"text", "tower", "backbone"} <= set(text_side.columns):
    ts = text_side.groupby("text")[["tower", "backbone"]].mean()
    nbt.say("**Text side** (shipped run: sessions ranked by their own report, no EEG), mean "
            "AUROC: " + "; ".join(f"{form}: text tower {r.tower:.3f}, raw backbone "
                                  f"{r.backbone:.3f}" for form, r in ts.iterrows()) + ".")
else:
    nbt.say("*The shipped probe run has no text-side table yet (`text_side.csv`); rerun "
            "`clef probe` to add it.*")

# %% [markdown]
# ### Exercise 4.1 · The drug or its EEG effect?
#
# Score the held-out sessions with "benzodiazepine effect" and compute its AUROC against the
# finding *excess beta activity* (`excess_beta`) and against the medication task
# `benzodiazepine_class`. Which does the query find better, the drug or its EEG effect? Why
# would a clinician expect that?

# %%
# Exercise 4.1 · scaffold
s_benzo = search("benzodiazepine effect").to_numpy()
for t in ("excess_beta", "benzodiazepine_class"):
    # TODO: labels yt = y[t]; keep labelled sessions; auroc(yt[keep], s_benzo[keep])
    pass

# %% tags=["solution"]
# Exercise 4.1 · solution
for t in ("excess_beta", "benzodiazepine_class"):
    yt = y[t].to_numpy(float) if t in y else np.full(len(y), np.nan)
    keep = np.isfinite(yt)
    if keep.any() and 0 < yt[keep].sum() < keep.sum():
        print(f"'benzodiazepine effect' vs {name[t]}: AUROC {auroc(yt[keep], s_benzo[keep]):.3f} "
              f"({int(yt[keep].sum())} positives)")
    else:
        print(f"{t}: not enough positives among held-out sessions")
# The EEG shows the drug's effect (beta), not the drug: sessions with excess beta for other
# reasons score high too, and patients on a benzodiazepine without visible beta score low.
