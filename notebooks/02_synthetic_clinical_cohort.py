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
# # 02 · The synthetic clinical cohort
#
# Real clinical EEG archives with reports and EHR cannot be shipped with a teaching repository,
# so `clef.synth` generates a cohort whose **ground truth is known**. Every session is drawn from
# `(seed, session_id)` alone: a patient (age, sex, care setting, diagnoses, chronic medications),
# a session plan (medications that day, sleep-wake states, true EEG findings with their time
# intervals), and from that plan the **signal**, the neurologist's **report** and the **EHR** row.
# Because the three are derived from the same plan, we can ask how well *any* model could do
# on each task: the **ceiling**.
#
# This notebook covers:
# 1. the concept ontology (findings, artifacts, phenotypes, medications, demographics);
# 2. what the signatures of a few findings look like in the signal;
# 3. the latent patient model that links diagnoses and medications to findings;
# 4. reports and EHR, with their deliberate noise;
# 5. the oracle (true latent findings) and why tasks have ceilings below 1.
#
# Library calls: `clef.synth.concepts`, `clef.synth.example`, `clef.synth.plan_session`,
# `clef.synth.cohort.build_tables`, `clef.probe.probe_tasks`,
# `clef.probe.representations.oracle_features`.

# %% tags=["parameters"]
# Parameters. The defaults run in about a minute on 2 CPU cores.
SEED = 0  # cohort seed (everything below is reproducible from it)
N_SESSIONS = 300  # sessions in the cohort tables (full setting: 2000, as clef-tiny's training set)
MINUTES = 10  # session length; findings and event counts depend on it (full setting: 20)
EXAMPLES = ("normal_pdr", "ied_left_temporal", "gsw_3hz", "burst_suppression")  # signatures shown
EXAMPLE_SECONDS = 8.0  # length of each example segment
SPACING_UV = 150.0  # trace spacing (display sensitivity) in the signature figure
PROBE_CS = (0.01, 0.1, 1.0)  # probe regularization grid (full: (0.001, 0.01, 0.1, 1, 10))
N_BOOT = 0  # bootstrap resamples for AUROC intervals (full setting: 200)
SHOW_SOLUTIONS = True  # run the exercise solutions (CI runs them so they cannot drift)

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib_inline.backend_inline import set_matplotlib_formats

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

from clef.channels import STANDARD_CHANNELS
from clef.io import preprocess
from clef.probe import BatteryConfig, ProbeConfig, patient_split, probe_tasks, summarize
from clef.probe.representations import oracle_features
from clef.synth import (
    GENERATOR_VERSION,
    ONTOLOGY,
    concepts,
    example,
    make_session_id,
    plan_session,
)
from clef.synth.cohort import build_tables, cohort_session_ids
from clef.synth.reports import EHR_NOISE, REPORT_NOISE, ehr_record, held_out_mentions, write_report

set_matplotlib_formats("jpeg", pil_kwargs={"quality": 80})  # small committed outputs
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72, "figure.figsize": (10, 4)})
pd.set_option("display.width", 120)
pd.set_option("display.max_colwidth", 80)
print("generator", GENERATOR_VERSION)

# %% [markdown]
# ## 1. The concepts
#
# The ontology names every concept the cohort knows. **Findings** are what a neurologist reads in
# the EEG (slowing, epileptiform discharges, periodic patterns, sleep transients...);
# **artifacts** are distractors that are not clinical; **phenotypes** are EHR diagnoses with
# ICD-10 codes; **medications** are lowercase generic names with their known EEG effect (often
# none); **demographics** cover age, sex and care setting. A few findings are **held out**: no
# training-split report ever names them, so a model can only know them zero-shot (notebook 05).

# %%
onto = pd.DataFrame([{"name": c.name, "category": c.category, "label": c.label,
                      "held_out": c.held_out, "synonyms": len(c.synonyms),
                      "signature": c.signature} for c in concepts()])
counts = onto.groupby("category").agg(concepts=("name", "size"), held_out=("held_out", "sum"))
print(f"{len(onto)} concepts;", ", ".join(f"{k}: {v}" for k, v in counts["concepts"].items()))
print("held-out findings:", ", ".join(onto.loc[onto["held_out"], "name"]))
onto[onto["category"] == "finding"][["name", "label", "held_out", "signature"]].head(12)

# %% [markdown]
# Medications carry their EEG effect as medicine knows it; where none is known, the generator
# puts none in the signal.

# %%
meds = onto[onto["category"] == "medication"].copy()
meds["drug class"] = [ONTOLOGY[n].drug_class for n in meds["name"]]
meds[["name", "drug class", "signature"]].head(12)

# %% [markdown]
# ## 2. Signatures in the signal
#
# `clef.synth.example(concept)` finds the first synthetic session that has the concept and cuts a
# short segment around it. Below each segment is shown in the longitudinal bipolar montage, as
# a neurologist would read it, at one fixed sensitivity (site A records against a vertex
# reference at 200 Hz; `clef.io.preprocess` derives the montage).

# %%
def plot_traces(ax, s, title, spacing=SPACING_UV):
    """Stacked traces in uV, first channel on top (plotting glue)."""
    seg = 1e6 * s.data  # (channels, samples) uV
    t = np.arange(seg.shape[1]) / s.sfreq
    for i, row in enumerate(seg):
        ax.plot(t, row - i * spacing, lw=0.5, color="k")
    ax.set_yticks(-spacing * np.arange(len(s.ch_names)), s.ch_names, fontsize=6)
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0, t[-1])


segments = {c: example(c, seconds=EXAMPLE_SECONDS) for c in EXAMPLES}
fig, axes = plt.subplots(1, len(EXAMPLES), figsize=(14, 6), sharey=False)
for ax, (c, seg) in zip(axes, segments.items()):
    bip = preprocess(seg, sfreq=200.0, montage="bipolar", l_freq=0.5, min_duration_s=1.0)
    plot_traces(ax, bip, f"{ONTOLOGY[c].label}\n({seg.meta['source_session_id']})")
    ax.set_xlabel("time (s)")
fig.tight_layout()
plt.show()
for c, seg in segments.items():
    print(f"{c:>20}: {ONTOLOGY[c].signature[:110]}")

# %% [markdown]
# Some findings are rhythms rather than transients: their signature is clearest in the spectrum.
# The posterior rhythm sits at an age-dependent alpha frequency; benzodiazepines add frontal
# beta; generalized slowing moves power to theta and delta.

# %%
from scipy.signal import welch

spectral = ("normal_pdr", "excess_beta", "generalized_slowing")
fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
for c in spectral:
    s = preprocess(example(c, seconds=20.0), sfreq=200.0, montage="average")
    f, p = welch(s.data, fs=s.sfreq, nperseg=int(4 * s.sfreq))  # (channels, freqs) V^2/Hz
    occ = [STANDARD_CHANNELS.index(ch) for ch in ("O1", "O2")]
    front = [STANDARD_CHANNELS.index(ch) for ch in ("F3", "F4", "Fz")]
    keep = (f >= 0.5) & (f <= 40)
    axes[0].plot(f[keep], 10 * np.log10(p[occ][:, keep].mean(0) / 1e-12), label=c)
    axes[1].plot(f[keep], 10 * np.log10(p[front][:, keep].mean(0) / 1e-12), label=c)
axes[0].set(title="occipital (O1, O2)", xlabel="Hz", ylabel="dB re 1 uV²/Hz")
axes[1].set(title="frontal (F3, Fz, F4)", xlabel="Hz")
axes[0].legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. The latent patient model
#
# A patient is drawn from `(seed, site, patient index)`: a care setting (outpatient, epilepsy
# monitoring unit, ICU), an age, a primary presentation from setting- and age-dependent tables,
# comorbidities by co-occurrence rules, and chronic medications conditioned on the diagnoses.
# Each session then draws the day's medications (ICU sessions add sedation and acute drugs), a
# state timeline (awake, drowsy, sleep, coma; eyes open, hyperventilation, photic stimulation)
# and the **findings**, each from a noisy-OR of its causes: for example focal epilepsy causes
# temporal discharges in fewer than half of routine sessions, antiseizure medications lower that
# probability, sleep raises it. A diagnosis therefore often does not show on one EEG, as in
# the clinic.

# %%
# Session ids encode site, patient index, session index and length: "A-P000123-S0-D600".
# Take the first site-A patient with focal epilepsy whose session shows temporal discharges.
for p_index in range(500):
    sid = make_session_id("A", p_index, 0, 60 * MINUTES)
    plan = plan_session(SEED, sid)
    has_ied = any(f.startswith("ied_") for f in plan.findings)
    if "focal_epilepsy" in plan.patient.diagnoses and has_ied:
        break
pat = plan.patient
print(f"{sid}: {pat.setting}, {pat.sex}, {plan.age:.0f} y, split {pat.split}")
print("  diagnoses   :", pat.diagnoses)
print("  chronic meds:", pat.chronic_meds, "| today:", plan.meds)
print("  consciousness:", plan.consciousness, "| states:",
      [(n, round(d)) for _, d, n in plan.states])
print("  findings    :", {k: v for k, v in plan.findings.items()})


# %%
def plot_timeline(plan, ax):
    """The oracle of one session: every episode (finding, state, procedure) on a time axis."""
    eps = sorted(plan.episodes, key=lambda e: (e.category, e.concept))
    names = list(dict.fromkeys(f"{e.category}: {e.concept}" for e in eps))
    colors = {"finding": "tab:red", "artifact": "tab:gray", "state": "tab:blue",
              "procedure": "tab:green"}
    for e in eps:
        y = names.index(f"{e.category}: {e.concept}")
        ax.broken_barh([(e.onset / 60, max(e.duration, 1.0) / 60)], (y - 0.35, 0.7),
                       color=colors.get(e.category, "k"))
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("minutes")
    ax.set_xlim(0, plan.duration_s / 60)
    ax.invert_yaxis()


fig, ax = plt.subplots(figsize=(10, 4))
plot_timeline(plan, ax)
ax.set_title(f"ground truth of {sid}")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Reports and EHR
#
# The report is written in the site's voice (ACNS guideline 7 sections; one of several authors,
# each with phrasing habits), with **documented noise**: true findings are sometimes omitted, a
# finding is occasionally reported that is not there, a lateralized finding is occasionally given
# the wrong side. The EHR row has realistic missingness: a diagnosis is not always coded, a
# medication list is sometimes unavailable.

# %%
report, noise = write_report(plan, pat.split, return_info=True)
print(report[:1800] + (" [...]" if len(report) > 1800 else ""))
print("\nnoise applied to this report:", noise)
print("EHR:", ehr_record(plan))
print("report noise rates:", REPORT_NOISE)
print("EHR noise rates:", EHR_NOISE)

# %% [markdown]
# ## 5. A cohort, its labels and its oracle
#
# `build_tables` produces the three tables of a cohort folder without rendering any signal:
# sessions (demographics, report, EHR), tasks (one row per session x task) and the oracle (every
# true episode). Phenotype and medication labels come from the EHR *as recorded*; finding labels
# are the true latent findings.

# %%
ids = cohort_session_ids(N_SESSIONS, SEED, ("A", "B"), duration_s=60 * MINUTES)
sessions, tasks, oracle = build_tables(SEED, ids)
print(f"{len(sessions)} sessions from {sessions['patient_id'].nunique()} patients; "
      f"{tasks['task'].nunique()} tasks; {len(oracle)} oracle episodes")
print(sessions["setting"].value_counts().to_string())
labels = tasks.pivot(index="session_id", columns="task", values="label")
info = tasks.groupby("task")[["category", "held_out", "concept"]].first().reset_index()
prevalence = labels.mean().rename("prevalence").to_frame().join(info.set_index("task"))
prevalence.sort_values("prevalence", ascending=False).head(10)

# %% [markdown]
# How often does a diagnosis show in one session? The fraction of sessions with any
# epileptiform finding, by recorded epilepsy diagnosis, and how often the report names the
# findings the session truly has:

# %%
ct = pd.crosstab(labels["epilepsy_any"], labels["any_epileptiform"], normalize="index")
print("P(any epileptiform finding | epilepsy coded = 0 / 1):",
      ", ".join(f"{ct.loc[k, 1]:.2f}" for k in ct.index))
omitted = added = true_total = 0
for s_id, split in zip(sessions["session_id"], sessions["split"]):
    p = plan_session(SEED, s_id)
    _, inf = write_report(p, split, return_info=True)
    omitted += len(inf["omitted"])
    added += len(inf["added"])
    true_total += len(p.findings)
print(f"reports omitted {omitted} of {true_total} true findings ({omitted / true_total:.1%}) and "
      f"added {added} false ones")
train_reports = sessions.loc[sessions["split"] == "train", "report"]
n_named = sum(bool(held_out_mentions(r)) for r in train_reports)
print(f"training-split reports naming a held-out finding: {n_named} of {len(train_reports)}")

# %% [markdown]
# ## 6. Ceilings: what even a perfect EEG reader could not know
#
# The **oracle representation** gives a linear probe the true latent findings of each session
# (presence and fraction of the session for every finding). No model that sees only the EEG can
# know more about the session than these findings. We fit one linear probe per task on a
# patient-level split (no patient in both train and test) and read the test AUROC:
#
# * **findings** are the oracle itself, so their AUROC is (near) 1;
# * **phenotypes** show only probabilistically in one session (and the label is the EHR code,
#   which is sometimes missing), so their ceiling is well below 1;
# * **medications** mostly have no EEG effect; they are predictable only through their
#   correlates (setting, diagnoses, sedation);
# * **demographics** show through age-dependent rhythms and the setting's typical findings.

# %%
train_ids, test_ids = patient_split(sessions, test_size=0.3, seed=SEED)
X = oracle_features(oracle[oracle["category"] == "finding"], sessions)
cfg = BatteryConfig(probe=ProbeConfig(Cs=PROBE_CS))
res = probe_tasks(X, sessions, labels, info, train_ids, test_ids, n_boot=N_BOOT, seed=SEED,
                  config=cfg)
ok = res[res["status"] == "ok"]
print(f"{len(train_ids)} train / {len(test_ids)} test sessions; {len(ok)} tasks with enough "
      f"positives, {int((res['status'] == 'skipped').sum())} skipped (too few positives)")
ceilings = summarize({"oracle": res}).table
ceilings.round(3)

# %%
order = ["finding", "demographic", "phenotype", "medication"]
fig, ax = plt.subplots(figsize=(12, 4))
ok_sorted = ok.assign(c=ok["category"].map(order.index)).sort_values(["c", "auroc"],
                                                                      ascending=[True, False])
colors = dict(zip(order, ["tab:red", "tab:purple", "tab:blue", "tab:green"]))
ax.bar(range(len(ok_sorted)), ok_sorted["auroc"], color=ok_sorted["category"].map(colors))
ax.set_xticks(range(len(ok_sorted)), ok_sorted["task"], rotation=90, fontsize=7)
ax.axhline(0.5, color="k", lw=0.8, ls="--")
ax.set(ylabel="test AUROC", ylim=(0.3, 1.02), title="oracle ceiling per task")
ax.legend(handles=[Patch(color=col, label=cat) for cat, col in colors.items()], fontsize=8, ncol=4)
plt.show()
by_cat = ok.groupby("category")["auroc"].agg(["count", "mean", "min", "max"])
print(by_cat.round(3).to_string())

# %% [markdown]
# With a small test set, tasks whose ceiling is near 0.5 scatter on both sides of it by chance
# (set `N_BOOT = 200` for bootstrap intervals). The printed table is this cohort's ceiling: it
# changes with the seed, size and session length, and `benchmarks/synth_ceilings.py` computes it
# on a larger cohort with bootstrap intervals. A model trained on these sessions should be judged
# against it, not against 1.
#
# ## Exercises
#
# 1. **A rare finding.** Find a session with `lpds` (lateralized periodic discharges) in the
#    cohort tables and draw its ground-truth timeline.
# 2. **Medications without an EEG effect.** Among medications with no known (or little visible)
#    EEG effect, which has the highest oracle AUROC? Why can the oracle predict it at all?
# 3. **Held-out findings.** Count the sessions with each held-out finding in the train and test
#    splits. Which reports name them?

# %%
if SHOW_SOLUTIONS:
    # 1. A session with LPDs (or the rarest finding present).
    has = oracle[oracle["category"] == "finding"].groupby("concept")["session_id"].unique()
    target = "lpds" if "lpds" in has.index else has.map(len).idxmin()
    s_id = has[target][0]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    plot_timeline(plan_session(SEED, s_id), ax)
    ax.set_title(f"{s_id}: has {target}")
    fig.tight_layout()
    plt.show()

# %%
if SHOW_SOLUTIONS:
    # 2. The best-predicted medication without a known EEG effect.
    silent = {c.name for c in concepts() if c.category == "medication"
              and c.signature in ("none known", "little visible effect")}
    cand = ok[ok["task"].isin(silent)].sort_values("auroc", ascending=False)
    med = cand.iloc[0]
    print(f"{med['task']}: oracle AUROC {med['auroc']:.3f} (test positives "
          f"{int(med['n_pos_test'])}); known EEG effect: {ONTOLOGY[med['task']].signature}")
    # Correlates: which setting the sessions taking it come from.
    taking = labels.index[labels[med["task"]] == 1]
    print(sessions.set_index("session_id").loc[taking, "setting"].value_counts().to_string())
    print(tasks[tasks["session_id"].isin(taking) & (tasks["category"] == "phenotype")
                & (tasks["label"] == 1)]["task"].value_counts().head(5).to_string())
    # Whatever the oracle gets above 0.5 comes from findings caused by the diagnoses the drug
    # treats, or typical of the setting where it is given, not from the drug itself.

# %%
if SHOW_SOLUTIONS:
    # 3. Held-out findings by split, and which reports name them (label or a synonym).
    held = [c.name for c in concepts() if c.held_out]
    by_id = sessions.set_index("session_id")
    rows = []
    for c in held:
        with_c = labels.index[labels[c] == 1] if c in labels else pd.Index([])
        sub = by_id.loc[with_c]
        phrases = ONTOLOGY[c].phrases
        named = sub["report"].str.lower().map(lambda r, ph=phrases: any(p in r for p in ph))
        rows.append({"finding": c, "sessions (train)": int((sub["split"] == "train").sum()),
                     "sessions (test)": int((sub["split"] == "test").sum()),
                     "named in train reports": int((named & (sub["split"] == "train")).sum()),
                     "named in test reports": int((named & (sub["split"] == "test")).sum())})
    print(pd.DataFrame(rows).to_string(index=False))
