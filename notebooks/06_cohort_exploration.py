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
# # 06 · Exploring a cohort: search, maps, selections and timelines
#
# With every session embedded, a cohort becomes something to explore rather than a table to
# filter. This notebook does, in code, what the dashboard does in the browser:
#
# 1. **similarity search** with a FAISS index: sessions like this one, sessions matching a
#    free-text concept, with metadata filters;
# 2. the **UMAP cohort map**, coloured by phenotype, medication and setting;
# 3. **selecting and comparing cohorts**: what distinguishes a selection from the rest
#    (`clef.explore.cohort_profile`);
# 4. the **concept timeline** inside one session: which minutes of a recording look like a
#    concept, against the true intervals of the synthetic ground truth.
#
# Library calls: `clef.index.SessionIndex` (`load`, `by_session`, `by_text`, `filter_mask`),
# `clef.maps.CohortMap`, `clef.store.EmbeddingStore`, `clef.explore` (`cohort_profile`,
# `concept_timeline`, `concept_scores`), `clef.embed.embed_sessions`.

# %% tags=["parameters"]
# Parameters. The defaults run in well under a minute on 2 CPU cores.
import os

SAMPLE_DIR = os.environ.get("CLEF_SAMPLE_DIR", "")  # "" = data_samples/ (store, index, map, ...)
K = 8  # neighbours per search
QUERY = "generalized slowing"  # free-text concept for search, selection and the timeline
COLOR_TASKS = ("epilepsy_any", "benzodiazepine_class")  # map colours: a phenotype, a medication
SELECT_TOP = 30  # sessions in the query-based selection of section 3
TIMELINE_FINDING = "generalized_slowing"  # finding whose true intervals the timeline is checked on
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
from clef.explore import cohort_profile, concept_scores, concept_timeline
from clef.index import SessionIndex, steer, text_vector
from clef.maps import CohortMap
from clef.model import CLEFModel
from clef.store import EmbeddingStore

set_matplotlib_formats("jpeg", pil_kwargs={"quality": 80})  # small committed outputs
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72, "figure.figsize": (10, 4)})
pd.set_option("display.width", 140)
pd.set_option("display.max_colwidth", 60)
if TORCH_THREADS:
    torch.set_num_threads(TORCH_THREADS)
bundle = Bundle.locate(SAMPLE_DIR or None, require=False)  # default: the shipped data_samples/
checkpoint = bundle.checkpoint
model = CLEFModel.from_pretrained(checkpoint).eval()
store = EmbeddingStore.open(bundle.store)
index = SessionIndex.load(bundle.index, model)  # refuses an index built with another model
cmap = CohortMap.load(bundle.map)
cohort = Cohort.load(bundle.cohort)
labels = cohort.labels()
print(store)
print(index)
print(cmap)

# %% [markdown]
# ## 1. Similarity search
#
# The index holds one unit vector per session; a search returns the sessions with the highest
# cosine similarity. **By session**: pick a session, find its nearest neighbours. Do the
# neighbours share its clinical labels more often than the cohort as a whole? We check a few
# labels over every session in the index: the rate at which a neighbour shares a positive label,
# against the label's base rate.

# %%
meta_cols = ["session_id", "score", "site", "setting", "age", "sex", "diagnoses", "medications"]
query_id = index.session_ids[0]
query_row = cohort.sessions.set_index("session_id").loc[query_id]
print("query:", query_row[["setting", "age", "diagnoses"]].to_dict())
similar = index.by_session(query_id, k=K)
similar[[c for c in meta_cols if c in similar.columns]]

# %%
tasks = [t for t in ("setting_icu", "epilepsy_any", "any_epileptiform", "generalized_slowing",
                     "benzodiazepine_class") if t in labels]
lab = labels.reindex(index.session_ids)
rows = []
for t in tasks:
    pos = lab.index[lab[t] == 1]
    if len(pos) < 2:
        continue
    shared = []
    for sid in pos:
        nb = index.by_session(sid, k=K)["session_id"]
        shared.append(float((lab.loc[nb, t] == 1).mean()))
    rows.append({"task": t, "positives": len(pos), "base rate": float((lab[t] == 1).mean()),
                 f"neighbours positive (k={K})": float(np.mean(shared))})
agreement = pd.DataFrame(rows).set_index("task")
agreement["lift"] = agreement[f"neighbours positive (k={K})"] / agreement["base rate"]
agreement.round(3)

# %% [markdown]
# **By text**: the query is embedded by the model's text tower and searched like a session
# vector. Filters (site, age range, sex, setting, ICD-10 prefix, medication, task label) restrict
# the search to matching sessions; with a flat index the filtered search is exact.

# %%
hits = index.by_text(QUERY, model, k=K)
hits_icu = index.by_text(QUERY, model, k=K, setting="icu")
print(f"{QUERY!r}, all sessions:")
print(hits[[c for c in meta_cols if c in hits.columns]].to_string(index=False))
print(f"\n{QUERY!r}, ICU only:")
print(hits_icu[[c for c in meta_cols if c in hits_icu.columns]].to_string(index=False))

# %% [markdown]
# ## 2. The cohort map
#
# The map is a 2-D UMAP of the session embeddings, fitted once and stored with the bundle (new
# sessions are placed on it without refitting, see the exercises). Nearby points are sessions
# the model finds similar; colours show what that similarity tracks.

# %%
coords = cmap.coords.set_index("session_id")
sess = cohort.sessions.set_index("session_id").reindex(coords.index)
lab_map = labels.reindex(coords.index)
panels = [("setting", sess["setting"])] + [(t, lab_map[t]) for t in COLOR_TASKS if t in lab_map]
fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5))
binary = {"0": "lightgray", "1": "tab:red", "unknown": "tab:olive"}
for ax, (name, values) in zip(np.atleast_1d(axes), panels):
    values = values.astype("string").fillna("unknown")
    for level in sorted(values.unique(), key=lambda v: (v == "1", v)):  # positives drawn last
        sel = (values == level).to_numpy()
        ax.scatter(coords.loc[sel, "x"], coords.loc[sel, "y"], s=10, label=level,
                   color=binary.get(level) if name != "setting" else None)
    ax.set(title=name, xticks=[], yticks=[])
    ax.legend(fontsize=8, markerscale=1.5)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Selecting and comparing cohorts
#
# A selection is any set of sessions: a lasso on the map, a search result, a filter. Here: the
# `SELECT_TOP` sessions that score highest for the query. `cohort_profile` compares the selection
# with the rest of the cohort, variable by variable (age, sex, setting, site, each diagnosis code,
# each medication): rates, differences, effect sizes and false-discovery-corrected q-values.

# %%
emb = np.asarray(store.embeddings, dtype=np.float32)
scores = concept_scores(emb, text_vector(QUERY, model))  # (sessions,)
selected = store.session_ids[np.argsort(-scores)[:SELECT_TOP]]
profile = cohort_profile(cohort.sessions, selected)
print(f"selection: top {profile.n_selected} sessions for {QUERY!r}; rest: {profile.n_rest}")
print(profile.numeric.round(3).to_string(index=False))
profile.top(12)[["variable", "level", "n_sel", "n_rest", "rate_sel", "rate_rest", "effect",
                 "q_value"]].round(3)

# %%
xy = coords.loc[[s for s in store.session_ids if s in coords.index]]
in_sel = xy.index.isin(selected)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
axes[0].scatter(xy.loc[~in_sel, "x"], xy.loc[~in_sel, "y"], s=8, color="lightgray", label="rest")
axes[0].scatter(xy.loc[in_sel, "x"], xy.loc[in_sel, "y"], s=14, color="tab:red",
                label=f"top {SELECT_TOP}: {QUERY}")
axes[0].set(xticks=[], yticks=[], title="the selection on the map")
axes[0].legend(fontsize=8)
if TIMELINE_FINDING in labels:
    y = labels.reindex(store.session_ids)[TIMELINE_FINDING]
    for v, col in ((0, "tab:gray"), (1, "tab:red")):
        axes[1].hist(scores[(y == v).to_numpy()], bins=20, alpha=0.6, color=col,
                     label=f"{TIMELINE_FINDING} = {v}")
    axes[1].set(xlabel=f"cosine with {QUERY!r}", ylabel="sessions", title="query score by label")
    axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. The concept timeline inside a session
#
# A session embedding summarizes the whole recording; the encoder's per-time-patch states say
# *when*. Projected into the shared space, each time patch gets a cosine with the query, a
# timeline of where in the recording the concept is. On synthetic data we can check it against
# the ground truth: the shaded intervals are the true episodes of `TIMELINE_FINDING` from the
# oracle table. (The store keeps the states when it was embedded with `states=True`; otherwise the
# session is regenerated and embedded here.)

# %%
oracle = cohort.oracle
cands = oracle[(oracle["concept"] == TIMELINE_FINDING)] if oracle is not None else pd.DataFrame()
cands = cands[cands["session_id"].isin(store.session_ids)]
if len(cands):
    # The session whose episodes cover the smallest part of it: a timeline with contrast.
    frac = (cands.groupby("session_id")["duration_s"].sum()
            / cohort.sessions.set_index("session_id")["duration_s"]).dropna()
    sid = frac[frac > 0].idxmin()
else:
    sid = store.session_ids[int(np.argmax(scores))]
states = store.states(sid)
if states is None:
    from clef.embed import embed_sessions

    _, window_states, _ = embed_sessions(model, [cohort.session(sid)], states=True)
    states = window_states[0]
tl = concept_timeline(states, None, None, text_vector(QUERY, model), model.tokenizer.time_patch_s)
fig, ax = plt.subplots(figsize=(10, 3))
patch_min = model.tokenizer.time_patch_s / 60
ax.bar(tl["start_min"], tl["score"], width=patch_min, align="edge", color="tab:blue",
       edgecolor="white", label=f"cosine with {QUERY!r}")
for _, ep in cands[cands["session_id"] == sid].iterrows():
    ax.axvspan(ep["onset_s"] / 60, (ep["onset_s"] + ep["duration_s"]) / 60, color="tab:red",
               alpha=0.2, lw=0)
ax.set(xlabel="minutes", ylabel="cosine", title=f"{sid}: timeline (red: true {TIMELINE_FINDING})")
ax.legend(fontsize=8)
plt.show()
if len(cands):
    t_mid = (tl["start_min"] + patch_min / 2) * 60  # patch centres (s)
    eps = cands[cands["session_id"] == sid]
    inside = np.zeros(len(tl), bool)
    for _, ep in eps.iterrows():
        inside |= ((t_mid >= ep["onset_s"]) & (t_mid < ep["onset_s"] + ep["duration_s"])).to_numpy()
    if inside.any() and (~inside).any():
        print(f"mean timeline score inside true episodes {tl['score'][inside].mean():.3f}, "
              f"outside {tl['score'][~inside].mean():.3f}")

# %% [markdown]
# ## Exercises
#
# 1. **Filtered search.** Find the sessions most similar to the query session of section 1 among
#    outpatients only, aged under 40. How many sessions match the filter at all?
# 2. **Steering.** "Like this session, but with excess beta": move the query session's vector
#    towards the text "excess beta activity" (`clef.index.steer`) and search again. What fraction
#    of the new neighbours take a benzodiazepine, compared with the original neighbours?
# 3. **A new session on the map.** Generate a session from another cohort seed
#    (`clef.synth.regenerate_session`), embed it, and place it on the map with `cmap.transform`.

# %%
if SHOW_SOLUTIONS:
    # 1. Filters.
    mask = index.filter_mask(setting="outpatient", age=(None, 40))
    print(f"{int(mask.sum())} sessions match setting=outpatient, age <= 40")
    res = index.by_session(query_id, k=K, setting="outpatient", age=(None, 40))
    print(res[[c for c in meta_cols if c in res.columns]].to_string(index=False))

# %%
if SHOW_SOLUTIONS:
    # 2. Steering towards a concept.
    v = index.vector(query_id)
    before = index.by_vector(v, k=K, exclude=(query_id,))["session_id"]
    after = index.by_vector(steer(v, "excess beta activity", 0.8, model), k=K,
                            exclude=(query_id,))["session_id"]
    if "benzodiazepine_class" in labels:
        b = labels["benzodiazepine_class"]
        print(f"benzodiazepine rate among neighbours: before {b.reindex(before).mean():.2f}, "
              f"after steering {b.reindex(after).mean():.2f} (cohort {b.mean():.2f})")

# %%
if SHOW_SOLUTIONS:
    # 3. Place a new session without refitting the map.
    from clef.embed import embed_sessions
    from clef.synth import make_session_id, regenerate_session

    duration = float(cohort.sessions["duration_s"].median())
    new = regenerate_session(12345, make_session_id("A", 0, 0, int(duration)))
    vec, _, errors = embed_sessions(model, [new])
    xy_new = cmap.transform(vec[0])
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.scatter(coords["x"], coords["y"], s=8, color="lightgray")
    ax.scatter([xy_new[0]], [xy_new[1]], s=120, marker="*", color="tab:red",
               label=f"new: {new.meta['setting']}, findings {new.meta['findings'][:2]}")
    ax.set(xticks=[], yticks=[], title="a new session placed on the map")
    ax.legend(fontsize=7)
    plt.show()
    print("nearest stored sessions:", index.by_vector(vec[0], k=3)["session_id"].tolist())
