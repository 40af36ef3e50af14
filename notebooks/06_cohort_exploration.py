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
# **After this notebook you can**
# - find sessions like a given one, or matching a concept, with metadata filters;
# - judge whether neighbours share clinical labels, measured on patients the model never saw;
# - read a **UMAP** cohort map (hover a point to read its report) and profile a selection;
# - read a concept timeline inside one recording against the true episodes.
#
# **Prerequisites:** notebooks 04 (held-out patients) and 05 (queries). Glossary in
# `notebooks/README.md` (embedding, cosine similarity, UMAP).
#
# **Time (about 25 min):** 1 similarity search + exercise (8 min) · 2 the cohort map (6 min) ·
# 3 selections + exercise (6 min) · 4 the concept timeline + exercise (5 min).
#
# With every session embedded, a cohort becomes something to explore rather than a table to
# filter. This notebook does, in code, what the dashboard does in the browser.
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
HOVER_SESSIONS = 700  # points on the interactive map (each carries a report excerpt)
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
import nbtools as nbt  # noqa: E402  (figure style, computed markdown)

from clef.bundle import Bundle  # noqa: E402
from clef.cohort import Cohort  # noqa: E402
from clef.explore import cohort_profile, concept_scores, concept_timeline  # noqa: E402
from clef.index import SessionIndex, steer, text_vector  # noqa: E402
from clef.maps import CohortMap  # noqa: E402
from clef.model import CLEFModel  # noqa: E402
from clef.store import EmbeddingStore  # noqa: E402

nbt.style()
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
name = nbt.clinical_names(cohort.task_info())
print(store)
print(index)
print(cmap)

# %% [markdown]
# ## 1. Similarity search (8 min, with the exercise)
#
# The index holds one unit vector per session; a search returns the sessions with the highest
# cosine similarity. **By session**: pick a session, find its nearest neighbours.

# %%
meta_cols = ["session_id", "score", "site", "setting", "age", "sex", "diagnoses", "medications"]
query_id = index.session_ids[0]
query_row = cohort.sessions.set_index("session_id").loc[query_id]
print("query:", query_row[["setting", "age", "diagnoses"]].to_dict())
similar = index.by_session(query_id, k=K)
similar[[c for c in meta_cols if c in similar.columns]]

# %% [markdown]
# Do the neighbours share the query session's clinical labels more often than the cohort as a
# whole? For each label: among sessions that have it, the share of their K nearest neighbours
# that have it too, divided by the label's base rate (**lift**: 1 = no better than random).
# The alignment was *trained* on the reports and EHR of the training-split patients, so their
# neighbours are not a fair test. We measure twice: over every session in the index (as the
# dashboard shows them), and on **held-out patients only** (queries and neighbours from the test
# split, never another session of the same patient).

# %%
tasks = [t for t in ("setting_icu", "epilepsy_any", "any_epileptiform", "generalized_slowing",
                     "benzodiazepine_class") if t in labels]
sess_all = cohort.sessions.set_index("session_id")
V = np.asarray(store.embeddings, dtype=np.float64)
V /= np.linalg.norm(V, axis=1, keepdims=True)
ids = np.asarray(store.session_ids)


def lift_table(keep: np.ndarray, exclude_same_patient: bool) -> pd.DataFrame:
    """Neighbour agreement among the sessions in `keep` (a boolean mask over the store)."""
    sub, sid = V[keep], ids[keep]
    sim = sub @ sub.T
    np.fill_diagonal(sim, -np.inf)
    if exclude_same_patient:
        pid = sess_all["patient_id"].reindex(sid).to_numpy()
        sim[pid[:, None] == pid[None, :]] = -np.inf
    nn = np.argsort(-sim, axis=1)[:, :K]  # (sessions, K)
    lab = labels.reindex(sid).apply(pd.to_numeric, errors="coerce").astype(float)
    rows = []
    for t in tasks:
        yv = lab[t].to_numpy()
        pos = np.flatnonzero(yv == 1)
        if len(pos) < 2:
            continue
        base = float(np.nanmean(yv))
        shared = float(np.nanmean(yv[nn[pos]] == 1))
        rows.append({"label": name[t], "positives": len(pos), "base rate": base,
                     f"neighbours positive (k={K})": shared, "lift": shared / base})
    return pd.DataFrame(rows).set_index("label")


everyone = lift_table(np.ones(len(ids), bool), exclude_same_patient=False)
split = sess_all["split"].reindex(ids).to_numpy() if "split" in sess_all else None
held_out = (lift_table(split == "test", exclude_same_patient=True)
            if split is not None and (split == "test").sum() > K else None)
display(everyone.round(3))
if held_out is not None:
    display(held_out.round(3))
    both = everyone[["lift"]].join(held_out[["lift"]], lsuffix=" all", rsuffix=" held-out")
    fell = both[both["lift held-out"] < both["lift all"]]
    nbt.say("Lift over every session vs held-out patients only: "
            + "; ".join(f"{t} {r['lift all']:.2f} -> {r['lift held-out']:.2f}"
                        for t, r in both.iterrows())
            + f". It falls for {len(fell)} of {len(both)} labels on patients the model never saw"
            + (", and is no better than random (at most 1.05) for: "
               + ", ".join(both.index[both["lift held-out"] <= 1.05]) + "."
               if (both["lift held-out"] <= 1.05).any() else ".")
            + " Read the held-out numbers as what the search does for a new patient.")

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
# ### Exercise 1.1 · Filtered search
#
# Find the sessions most similar to the query session of this section among outpatients only,
# aged 40 or under. How many sessions match the filter at all?

# %%
# Exercise 1.1 · scaffold
mask = None  # TODO: index.filter_mask(setting="outpatient", age=(None, 40))
res = None  # TODO: index.by_session(query_id, k=K, setting=..., age=...)
print("TODO" if res is None else res)

# %% tags=["solution"]
# Exercise 1.1 · solution
mask = index.filter_mask(setting="outpatient", age=(None, 40))
print(f"{int(mask.sum())} sessions match setting=outpatient, age <= 40")
res = index.by_session(query_id, k=K, setting="outpatient", age=(None, 40))
print(res[[c for c in meta_cols if c in res.columns]].to_string(index=False))

# %% [markdown]
# ## 2. The cohort map (6 min)
#
# The map is a 2-D **UMAP** of the session embeddings, fitted once and stored with the bundle
# (new sessions are placed on it without refitting, see exercise 4.1). Nearby points are sessions
# the model finds similar; the axes have no units, and distances between far-apart clusters
# mean little. Colours show what the similarity tracks.

# %%
coords = cmap.coords.set_index("session_id")
sess = sess_all.reindex(coords.index)
lab_map = labels.reindex(coords.index)
panels = [("care setting", sess["setting"])] + [(name[t], lab_map[t]) for t in COLOR_TASKS
                                                 if t in lab_map]
fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5))
for ax, (title, values) in zip(np.atleast_1d(axes), panels):
    values = values.astype("string").fillna("not recorded")
    binary = title != "care setting"
    for level in sorted(values.unique(), key=lambda v: (v == "1", v)):  # positives drawn last
        sel = (values == level).to_numpy()
        label = {"0": "no", "1": "yes"}.get(level, level) if binary else level
        color = {"0": "lightgray", "1": "tab:red", "not recorded": "tab:olive"}.get(level) \
            if binary else None
        ax.scatter(coords.loc[sel, "x"], coords.loc[sel, "y"], s=9, label=label, color=color)
    ax.set(title=title, xticks=[], yticks=[], xlabel="UMAP 1", ylabel="UMAP 2")
    ax.legend(markerscale=2, loc="best")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Explore it yourself**: hover a point to read the session's setting, age and the start of its
# report's impression (a random subset of sessions, to keep the notebook small).

# %%
import plotly.express as px  # noqa: E402


def impression(report, n: int = 90) -> str:
    text = str(report).split("IMPRESSION", 1)[-1].lstrip(":\n ").replace("\n", " ")
    return text[:n] + ("..." if len(text) > n else "")


pick = coords.sample(min(HOVER_SESSIONS, len(coords)), random_state=0).index
hover = pd.DataFrame({
    "x": coords.loc[pick, "x"].round(3), "y": coords.loc[pick, "y"].round(3),
    "setting": sess.loc[pick, "setting"].astype(str),
    "age": sess.loc[pick, "age"].round(0),
    "split": sess.loc[pick, "split"].astype(str) if "split" in sess else "",
    "impression": [impression(r) for r in sess.loc[pick, "report"]]}, index=pick)
fig = px.scatter(hover.reset_index(), x="x", y="y", color="setting",
                 hover_data={"session_id": True, "age": True, "split": True, "impression": True,
                             "x": False, "y": False},
                 labels={"x": "UMAP 1", "y": "UMAP 2"}, width=900, height=560,
                 title=f"cohort map, {len(pick)} sessions (hover for the report)")
fig.update_traces(marker={"size": 6})
fig.update_layout(font={"size": 13})
fig.show(renderer="plotly_mimetype+notebook_connected")

# %% [markdown]
# ## 3. Selecting and comparing cohorts (6 min, with the exercise)
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
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
axes[0].scatter(xy.loc[~in_sel, "x"], xy.loc[~in_sel, "y"], s=8, color="lightgray", label="rest")
axes[0].scatter(xy.loc[in_sel, "x"], xy.loc[in_sel, "y"], s=16, color="tab:red",
                label=f"top {SELECT_TOP}: {QUERY}")
axes[0].set(xticks=[], yticks=[], xlabel="UMAP 1", ylabel="UMAP 2", title="the selection on the map")
axes[0].legend()
if TIMELINE_FINDING in labels:
    yv = labels.reindex(store.session_ids)[TIMELINE_FINDING]
    for v, col, lab in ((0, "tab:gray", "absent"), (1, "tab:red", "present")):
        axes[1].hist(scores[(yv == v).to_numpy()], bins=20, alpha=0.6, color=col,
                     label=f"{name[TIMELINE_FINDING]} {lab}")
    axes[1].set(xlabel=f"cosine similarity with {QUERY!r}", ylabel="sessions",
                title="query score by true label")
    axes[1].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 3.1 · Steering
#
# "Like this session, but with excess beta": move the query session's vector towards the text
# "excess beta activity" (`clef.index.steer`) and search again. What share of the new neighbours
# take a benzodiazepine, compared with the original neighbours and with the cohort?

# %%
# Exercise 3.1 · scaffold
v = index.vector(query_id)
before = index.by_vector(v, k=K, exclude=(query_id,))["session_id"]
after = None  # TODO: index.by_vector(steer(v, "excess beta activity", 0.8, model), k=K, ...)
print("TODO" if after is None else after.tolist())

# %% tags=["solution"]
# Exercise 3.1 · solution
after = index.by_vector(steer(v, "excess beta activity", 0.8, model), k=K,
                        exclude=(query_id,))["session_id"]
if "benzodiazepine_class" in labels:
    b = pd.to_numeric(labels["benzodiazepine_class"], errors="coerce")
    print(f"benzodiazepine rate among neighbours: before {b.reindex(before).mean():.2f}, "
          f"after steering {b.reindex(after).mean():.2f} (cohort {b.mean():.2f})")

# %% [markdown]
# ## 4. The concept timeline inside a session (5 min, with the exercise)
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
fig, ax = plt.subplots(figsize=(11, 3.5))
patch_min = model.tokenizer.time_patch_s / 60
ax.bar(tl["start_min"], tl["score"], width=patch_min, align="edge", color="tab:blue",
       edgecolor="white", label=f"cosine with {QUERY!r}")
for i, (_, ep) in enumerate(cands[cands["session_id"] == sid].iterrows()):
    ax.axvspan(ep["onset_s"] / 60, (ep["onset_s"] + ep["duration_s"]) / 60, color="tab:red",
               alpha=0.2, lw=0, label=f"true {name[TIMELINE_FINDING]}" if i == 0 else None)
ax.set(xlabel="time into the recording (min)", ylabel="cosine similarity",
       title=f"{sid}: where in the recording does it look like {QUERY!r}?")
ax.legend(loc="upper right")
plt.show()
if len(cands):
    t_mid = (tl["start_min"] + patch_min / 2) * 60  # patch centres (s)
    eps = cands[cands["session_id"] == sid]
    inside = np.zeros(len(tl), bool)
    for _, ep in eps.iterrows():
        inside |= ((t_mid >= ep["onset_s"]) & (t_mid < ep["onset_s"] + ep["duration_s"])).to_numpy()
    if inside.any() and (~inside).any():
        a, b_ = tl["score"][inside].mean(), tl["score"][~inside].mean()
        nbt.say(f"Mean timeline score inside the true episodes {a:.3f}, outside {b_:.3f}: the "
                "timeline " + ("does" if a > b_ else "does **not**") + " rise where the finding is.")

# %% [markdown]
# ### Exercise 4.1 · A new session on the map
#
# Generate a session from another cohort seed (`clef.synth.regenerate_session`), embed it, and
# place it on the map with `cmap.transform`. Where does it land, and who are its nearest stored
# sessions?

# %%
# Exercise 4.1 · scaffold
from clef.embed import embed_sessions  # noqa: E402
from clef.synth import make_session_id, regenerate_session  # noqa: E402

duration = float(cohort.sessions["duration_s"].median())
new = regenerate_session(12345, make_session_id("A", 0, 0, int(duration)))
print("new session:", new.meta["setting"], new.meta["findings"])
xy_new = None  # TODO: vec, _, _ = embed_sessions(model, [new]); xy_new = cmap.transform(vec[0])

# %% tags=["solution"]
# Exercise 4.1 · solution
vec, _, errors = embed_sessions(model, [new])
xy_new = cmap.transform(vec[0])
fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(coords["x"], coords["y"], s=8, color="lightgray")
ax.scatter([xy_new[0]], [xy_new[1]], s=160, marker="*", color="tab:red",
           label=f"new: {new.meta['setting']}, {', '.join(name[f] for f in new.meta['findings'][:2])}")
ax.set(xticks=[], yticks=[], xlabel="UMAP 1", ylabel="UMAP 2",
       title="a new session placed on the map")
ax.legend(loc="lower left", fontsize=10)
plt.show()
print("nearest stored sessions:", index.by_vector(vec[0], k=3)["session_id"].tolist())
