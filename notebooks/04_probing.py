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
# # 04 · Probing: what do session embeddings know?
#
# A **linear probe** asks how much of a clinical variable can be read off a frozen representation
# with a linear classifier. CLEF's claim is that session embeddings aligned to reports and EHR
# carry more clinical information (phenotypes, medications, findings) than reconstruction-only
# pretraining or short-window models. This notebook runs the probe battery on the shipped sample
# data:
#
# 1. the **task battery** (one binary task per phenotype, medication, finding and demographic);
# 2. **patient-level splits**, and what goes wrong without them;
# 3. linear probes with AUROC tables for CLEF (the shipped checkpoint's embedding store) against
#    the **oracle** ceiling of notebook 02, on every session;
# 4. the baselines **band power** and a **randomly initialised** encoder of the same
#    architecture, on a subset of patients;
# 5. reading the results per category.
#
# Library calls: `clef.cohort.Cohort`, `clef.probe.site_split` / `patient_split` /
# `check_no_leakage`, `clef.probe.representations.compute_representations` / `store_features` /
# `random_encoder`, `clef.probe.probe_tasks`, `clef.probe.summarize`.

# %% tags=["parameters"]
# Parameters. The defaults run in about a minute on 2 CPU cores.
import os

SAMPLE_DIR = os.environ.get("CLEF_SAMPLE_DIR", "")  # "" = data_samples/ (cohort, checkpoint, store)
MAX_SIGNAL_SESSIONS = 80  # sessions for the signal-based baselines (band power, random encoder):
#   each session's signal is regenerated (~1 s of CPU per 20-min session). CLEF (embedding store)
#   and the oracle use every session. Full setting: 0 = all sessions, or the `clef probe` command
#   whose results are shipped in benchmarks/results/probe/
MIN_POS_TRAIN, MIN_POS_TEST = 5, 3  # positives (and negatives) a task needs (full: 10 and 5)
PROBE_CS = (0.01, 0.1, 1.0)  # L2 strengths tried by the inner CV (full: 0.001 ... 10)
N_BOOT = 50  # bootstrap resamples (patients) for 95% intervals (full setting: 200)
TRAIN_SITE = "A"  # probes are fitted on this site's training patients
SEED = 0
TORCH_THREADS = 1  # torch CPU threads (0 = torch's default; 1 avoids contention on busy machines)
SHOW_SOLUTIONS = True  # run the exercise solutions (CI runs them so they cannot drift)

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display
from matplotlib_inline.backend_inline import set_matplotlib_formats

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

from clef.cohort import Cohort
from clef.bundle import DEFAULT_ROOT, Bundle
from clef.errors import InvalidCohort
from clef.model import CLEFModel
from clef.probe import (
    BatteryConfig,
    ProbeConfig,
    check_no_leakage,
    probe_tasks,
    site_split,
    summarize,
)
from clef.probe.representations import (
    RepresentationConfig,
    compute_representations,
    oracle_features,
    random_encoder,
    store_features,
)

set_matplotlib_formats("jpeg", pil_kwargs={"quality": 80})  # small committed outputs
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72, "figure.figsize": (10, 4)})
pd.set_option("display.width", 120)
if TORCH_THREADS:
    torch.set_num_threads(TORCH_THREADS)
bundle = Bundle.locate(SAMPLE_DIR or None, require=False)  # default: the shipped data_samples/
checkpoint = bundle.checkpoint
print(f"sample data: {bundle.root}\n  cohort {bundle.cohort}\n  store {bundle.store}\n"
      f"  checkpoint {checkpoint}")

# %% [markdown]
# ## 1. The task battery
#
# Every task is binary: a phenotype from the EHR diagnosis codes, a medication (or drug class)
# from the medication list, an EEG finding, or a demographic/setting variable. Missing EHR lists
# give *no label* (NA), not a negative. Held-out findings are never named in training reports
# (notebook 05 asks about them zero-shot).

# %%
cohort = Cohort.load(bundle.cohort)
sessions, labels, info = cohort.sessions, cohort.labels(), cohort.task_info()
print(f"{len(sessions)} sessions, {sessions['patient_id'].nunique()} patients, sites "
      f"{sorted(sessions['site'].unique())}; {len(info)} tasks")
battery = info.groupby("category").agg(tasks=("task", "size"), held_out=("held_out", "sum"))
battery["median prevalence"] = [labels[info.loc[info["category"] == c, "task"]].mean().median()
                                for c in battery.index]
battery.round(3)

# %% [markdown]
# ## 2. Patient-level splits
#
# Patients contribute several sessions, and a patient's sessions look alike (same age, same
# diagnoses, similar background). If sessions of one patient land in both train and test, a probe
# can score well by recognizing the *patient*, not the clinical variable. Every split here is
# therefore by patient: `site_split` fits probes on training patients of one site, tests on that
# site's held-out patients and, as an external test, on the other sites. `check_no_leakage`
# refuses a split that shares a patient.

# %%
split_col = "split" if "split" in sessions.columns else None
sets = site_split(sessions, train_site=TRAIN_SITE, test_size=0.3, seed=SEED, split_column=split_col)
for name, ids in sets.items():
    sub = sessions[sessions["session_id"].isin(ids)]
    print(f"{name:>6}: {len(ids):4d} sessions, {sub['patient_id'].nunique():4d} patients")

# A naive split by session shares patients between train and test:
shuffled = sessions.sample(frac=1.0, random_state=SEED)["session_id"].to_numpy()
naive_train, naive_test = shuffled[: len(shuffled) * 7 // 10], shuffled[len(shuffled) * 7 // 10:]
try:
    check_no_leakage(sessions, naive_train, naive_test)
except InvalidCohort as err:
    print("\nnaive session split refused:", str(err)[:220])

# %% [markdown]
# ## 3. CLEF against its ceiling, on every session
#
# * **clef**: the shipped checkpoint's session embeddings, read from the embedding store (no
#   signal needed);
# * **oracle**: the true latent findings (synthetic cohorts only), the ceiling of notebook 02.
#
# One logistic-regression probe per task and representation (balanced classes, L2 strength chosen
# by an inner cross-validation that also splits by patient), fitted on the training patients and
# scored by AUROC on the held-out patients. Every representation sees the same sessions and the
# same split, so the numbers are paired.

# %%
cfg = BatteryConfig(min_pos_train=MIN_POS_TRAIN, min_pos_test=MIN_POS_TEST,
                    probe=ProbeConfig(Cs=PROBE_CS))
cat_of = info.set_index("task")["category"]


def run_battery(feats: dict, sets: dict) -> tuple[dict, dict]:
    """Probe every representation on the same split; -> (results by name, external test sets)."""
    good = set.intersection(*(set(X.index) for X in feats.values()))
    sets = {k: np.array([s for s in v if s in good]) for k, v in sets.items()}
    external = {k: v for k, v in sets.items() if k not in ("train", "test") and len(v)}
    results = {name: probe_tasks(X, sessions, labels, info, sets["train"], sets["test"],
                                 n_boot=N_BOOT, seed=SEED, external=external, config=cfg)
               for name, X in feats.items()}
    return results, external


all_ids = sorted(set().union(*map(set, sets.values())))
feats_all = {}
feats_all["clef"], missing = store_features(bundle.store, all_ids)
if cohort.oracle is not None:
    feats_all["oracle"] = oracle_features(cohort.oracle[cohort.oracle["category"] == "finding"],
                                          sessions)
print("features:", {k: v.shape for k, v in feats_all.items()}, "| not in the store:", len(missing))
results_all, external_all = run_battery(feats_all, sets)
summary_all = summarize(results_all, "test")
print(f"{summary_all.n_tasks} tasks scored (held-out patients of site {TRAIN_SITE}); mean AUROC:")
summary_all.table.round(3)

# %% [markdown]
# ## 4. Baselines, on a subset of patients
#
# * **random**: the same architecture with random weights: what the architecture and the
#   tokenizer give before any training;
# * **band-power**: log power per channel in the classical bands (delta, theta, alpha, beta,
#   gamma), the classic hand-made EEG feature.
#
# Both need the signal, which is regenerated session by session, so they run on whole patients
# drawn at random until `MAX_SIGNAL_SESSIONS` sessions; CLEF and the oracle are re-probed on the
# same subset so that all four are paired.

# %%
sub = sessions
if MAX_SIGNAL_SESSIONS and len(sessions) > MAX_SIGNAL_SESSIONS:
    rng = np.random.default_rng(SEED)
    patients = rng.permutation(sessions["patient_id"].unique())
    n_per = sessions.groupby("patient_id").size().loc[patients].cumsum()
    sub = sessions[sessions["patient_id"].isin(set(n_per.index[n_per <= MAX_SIGNAL_SESSIONS]))]
sub_ids = sorted(set(sub["session_id"]) & set(all_ids))
model = CLEFModel.from_pretrained(checkpoint).eval()
feats, failed = compute_representations(
    cohort, {"random": random_encoder(model, SEED)}, sub_ids, band_power_on=True, oracle=False,
    config=RepresentationConfig(seed=SEED), progress=False)
feats = {"clef": feats_all["clef"].loc[feats_all["clef"].index.isin(sub_ids)], **feats}
if "oracle" in feats_all:
    feats["oracle"] = feats_all["oracle"].loc[sub_ids]
feats = {k: v.drop(index=[s for s in failed if s in v.index]) for k, v in feats.items()}
print(f"{len(sub_ids)} sessions; features:", {k: v.shape for k, v in feats.items()},
      "| unusable:", len(failed))
results, external = run_battery(feats, sets)
summary = summarize(results, "test")
print(f"{summary.n_tasks} tasks scored for every representation; mean AUROC per category:")
summary.table.round(3)

# %% [markdown]
# "Beats": on how many of these tasks the row's AUROC is higher than the column's (the paper's
# "229 of 234" count).

# %%
display(summary.beats)

# %%
cats = [c for c in summary_all.table.columns if c not in ("n_tasks", "overall")]
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
summary_all.table[cats + ["overall"]].T.plot.bar(ax=axes[0], rot=0)
axes[0].axhline(0.5, color="k", lw=0.8, ls="--")
axes[0].set(ylabel="mean test AUROC", ylim=(0.3, 1.02), title="all sessions: per category")
axes[0].legend(fontsize=8)
wide = summary.wide
base = "band-power" if "band-power" in wide else wide.columns[-1]
for c in cats:
    sel = wide.index[cat_of.loc[wide.index] == c]
    if len(sel):
        axes[1].scatter(wide.loc[sel, base], wide.loc[sel, "clef"], label=c, s=18)
axes[1].plot([0, 1], [0, 1], color="k", lw=0.8)
axes[1].set(xlabel=f"{base} AUROC", ylabel="clef AUROC", xlim=(0.2, 1.02), ylim=(0.2, 1.02),
            title=f"subset, per task: clef vs {base}")
if len(wide):
    axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Reading the results per category
#
# * **Findings** are what an EEG shows directly; spectral findings (beta excess, slowing,
#   suppression) are within reach of band power too, transient ones (spikes, periodic discharges)
#   need a representation that keeps time structure.
# * **Phenotypes** are partly expressed in the EEG: their ceiling (oracle) is well below 1, so
#   compare each model to the ceiling, not to 1.
# * **Medications** are mostly invisible in the EEG (notebook 02); a model that predicts them
#   does so through correlates (sedation patterns, setting, diagnoses).
# * **Demographics** (age, setting) shape the background rhythm and the kind of recording.
#
# The gap to the oracle per category on all sessions, printed from the table of section 3:

# %%
gap = summary_all.table[cats]
if "oracle" in gap.index:
    gap = gap.loc[["oracle"]].to_numpy() - gap
    print("oracle minus representation (smaller = closer to the ceiling):")
gap.round(3)

# %% [markdown]
# The shipped results of the full run (`clef probe` on the whole sample cohort, with the
# reconstruction-only and short-window baselines) live in `data_samples/probe/` and
# `benchmarks/results/probe/`; when present they are printed here.

# %%
folders = [f for f in (bundle.probe, DEFAULT_ROOT.parent / "benchmarks" / "results" / "probe")
           if f is not None]
full = next((f / "summary_table.csv" for f in folders if (f / "summary_table.csv").is_file()), None)
if full is not None:
    print(f"full run ({full}):")
    print(pd.read_csv(full, index_col=0).round(3).to_string())
else:
    print("no full probe run found (benchmarks/results/probe/summary_table.csv): run `clef probe "
          "--cohort ... --checkpoint ... --out ...`")

# %% [markdown]
# ## Exercises
#
# 1. **External site.** The probes above were fitted on site A. Summarize their AUROC on the other
#    site(s). How large is the drop, and for which representation?
# 2. **Where band power wins.** List the tasks on which band power beats CLEF. Are they spectral
#    findings?
# 3. **Uncertainty.** How many of CLEF's task AUROCs have a 95% interval that contains 0.5 at this
#    cohort size?

# %%
if SHOW_SOLUTIONS:
    # 1. External site(s), all sessions.
    for site in external_all:
        ext = summarize(results_all, site)
        drop = summary_all.table["overall"] - ext.table["overall"]
        print(f"site {site}: {ext.n_tasks} tasks; mean AUROC drop from site {TRAIN_SITE}:")
        print(drop.round(3).to_string())
    if not external_all:
        print("no other site in this cohort")

# %%
if SHOW_SOLUTIONS:
    # 2. Tasks where band power beats CLEF.
    better = wide[wide["band-power"] > wide["clef"]] if "band-power" in wide else wide.iloc[:0]
    better = better.assign(category=cat_of.reindex(better.index))
    print(better[[c for c in ("category", "band-power", "clef") if c in better]].round(3)
          .to_string())

# %%
if SHOW_SOLUTIONS:
    # 3. Intervals containing 0.5.
    r = results_all["clef"]
    r = r[(r["test_set"] == "test") & (r["status"] == "ok")]
    if N_BOOT:
        wide_ci = (r["ci_low"] <= 0.5) & (r["ci_high"] >= 0.5)
        print(f"{int(wide_ci.sum())} of {len(r)} CLEF tasks have a 95% interval containing 0.5")
        print(f"median interval width {float((r['ci_high'] - r['ci_low']).median()):.3f}")
