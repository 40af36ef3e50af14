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
# # 03 · Pretraining: masked reconstruction, then alignment to reports and EHR
#
# **After this notebook you can**
# - explain the two training stages of CLEF: masked spectrogram reconstruction (no labels) and
#   contrastive alignment of EEG with reports and EHR (**InfoNCE**);
# - read a loss curve against its chance level;
# - read an EEG-report **cosine similarity** matrix and its recall@1;
# - say what alignment changed in the shipped model, with numbers read from its probe run.
#
# **Prerequisites:** notebooks 01 (tokens) and 02 (reports, EHR). Glossary:
# `notebooks/README.md` (embedding, cosine similarity, InfoNCE).
#
# **Time (about 25 min):** 1 a small cohort (2 min) · 2 both stages + exercise (8 min) ·
# 3 filling in hidden patches + exercise (5 min) · 4 similarity matrices + exercise (6 min) ·
# 5 the shipped checkpoint (4 min). The training cell takes about a minute.
#
# CLEF pretrains its session encoder in two stages:
#
# 1. **Masked spectrogram reconstruction.** Most of a session's tokens are hidden; the encoder
#    sees the rest and a small decoder predicts the hidden 3-D patches. This needs no labels and
#    teaches the encoder what EEG looks like over a whole session.
# 2. **Contrastive alignment.** The session embedding is pulled towards the embedding of its own
#    report (a text tower) and of its own EHR record (diagnoses, medications, demographics), and
#    pushed away from the other sessions' reports and records in the batch (a symmetric
#    InfoNCE / CLIP loss). Afterwards EEG, report text and free-text queries live in one space.
#
# Here both stages run for a few dozen steps on a small synthetic cohort on the CPU: enough to see
# the losses fall and the EEG-report similarity matrix change. This is a toy run; the shipped
# `clef-tiny` checkpoint (trained the same way, longer, on more sessions) is compared at the end.
#
# Library calls: `clef.synth.generate_cohort`, `clef.train.TrainConfig`, `clef.train.pretrain`,
# `clef.model.CLEFModel` (`encode_eeg`, `encode_text`, `encode_ehr`, `reconstruct`,
# `from_pretrained`).

# %% tags=["parameters"]
# Parameters. The defaults run in about a minute and a half on 2 CPU cores.
import os

N_SESSIONS = 48  # synthetic sessions; about 3/4 are in the training split (full setting: 2000)
MINUTES = 3.0  # length of each session (full setting: 20, a routine EEG)
STEPS = 20  # optimizer steps per stage (full setting: see the shipped model card below)
BATCH_SIZE = 16  # sessions per step; the contrastive loss uses the others as negatives (full: 32)
LR = 1e-3  # peak AdamW learning rate (full setting: 5e-4)
N_SHOW = 12  # held-out sessions in the similarity matrices
SEED = 0
TORCH_THREADS = 1  # torch CPU threads: this small model gains little from more, and a shared or
#                    busy machine loses a lot to thread contention (set 0 for torch's default)
SAMPLE_DIR = os.environ.get("CLEF_SAMPLE_DIR", "")  # "" = data_samples/ (shipped checkpoint)

# %%
import json
import sys
import tempfile
import warnings
from dataclasses import replace
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
from clef.model import CLEFModel, ModelConfig  # noqa: E402
from clef.synth import generate_cohort  # noqa: E402
from clef.train import TrainConfig, pretrain  # noqa: E402
from clef.train.checkpoint import list_checkpoints, load_checkpoint  # noqa: E402

nbt.style()
torch.manual_seed(SEED)
if TORCH_THREADS:
    torch.set_num_threads(TORCH_THREADS)
SAMPLES = Path(SAMPLE_DIR) if SAMPLE_DIR else ROOT / "data_samples"
WORK = Path(tempfile.mkdtemp(prefix="clef_nb03_"))
print("working folder:", WORK)

# %% [markdown]
# ## 1. A small cohort (2 min)
#
# `generate_cohort(..., signals="none")` writes only the tables (sessions with reports and EHR,
# tasks, oracle); the signals are regenerated from `(seed, session_id)` whenever a session is
# read, so nothing large is stored. Training uses the **train** split only (patient-level);
# the **test** split's patients are never seen.

# %%
cohort_dir = generate_cohort(WORK / "cohort", n_sessions=N_SESSIONS, seed=SEED, minutes=MINUTES,
                             signals="none", progress=False, created_by="notebook 03")
cohort = Cohort.load(cohort_dir)
split_counts = cohort.sessions.groupby("split")["patient_id"].agg(["size", "nunique"])
split_counts.columns = ["sessions", "patients"]
display(split_counts)

# %% [markdown]
# ## 2. Both stages (8 min, with the exercise)
#
# `clef.train.pretrain` runs the stages one after the other (`stage="both"`), each with its own
# warm-up and cosine learning-rate decay, and writes a checkpoint at the end of each stage. The
# `clef-tiny` config is a 4-layer Transformer over the `tiny` tokens of notebook 01; the text tower
# is a frozen sentence encoder (all-MiniLM-L6-v2) with a trained projection, the EHR tower a small
# bag-of-codes network. Stage 2 keeps a quarter-weight reconstruction term so the encoder does not
# forget stage 1.

# %%
cfg = TrainConfig(cohort=str(cohort_dir), out=str(WORK / "model"), config="clef-tiny",
                  stage="both", steps=STEPS, batch_size=BATCH_SIZE, lr=LR, seed=SEED,
                  eval_sessions=64, ckpt_every=10_000, keep_checkpoints=2, log_every=1,
                  threads=TORCH_THREADS or None, progress=False,
                  command="notebooks/03_pretraining")
summary = pretrain(cfg)
print(f"trained on {summary['train_sessions']} sessions in {summary['wall_s']:.0f} s")
print("held-out metrics:", {k: round(v, 3) for k, v in summary["eval"].items()
                            if isinstance(v, float)})

# %%
log = pd.DataFrame([json.loads(line) for line in
                    (WORK / "model" / "train_log.jsonl").read_text().splitlines()])
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
rec = log[log["stage"] == "recon"]
ali = log[log["stage"] == "align"]
axes[0].plot(rec["global_step"], rec["recon"], label="stage 1")
axes[0].plot(ali["global_step"], ali["recon"], label="stage 2 (weight 0.25)")
axes[0].set(title="masked reconstruction", xlabel="optimizer step",
            ylabel="mean squared error (dB scale²)")
axes[0].legend()
axes[1].plot(ali["global_step"], ali["clip_text"], label="EEG <-> report")
axes[1].plot(ali["global_step"], ali["clip_ehr"], label="EEG <-> EHR")
axes[1].axhline(np.log(BATCH_SIZE), color="k", ls="--", lw=0.8, label="chance (ln batch)")
axes[1].set(title="contrastive losses (InfoNCE)", xlabel="optimizer step",
            ylabel="cross-entropy (nats)")
axes[1].legend()
axes[2].plot(log["global_step"], log["lr"])
axes[2].set(title="learning rate", xlabel="optimizer step", ylabel="AdamW learning rate")
fig.tight_layout()
plt.show()
first, last = rec.iloc[0], rec.iloc[-1]
end_text = ali["clip_text"].iloc[-1]
nbt.say(f"Stage 1 reconstruction error {first['recon']:.3f} -> {last['recon']:.3f}; stage 2 "
        f"EEG-report loss {ali['clip_text'].iloc[0]:.3f} -> {end_text:.3f}, "
        + ("**below** " if end_text < np.log(BATCH_SIZE) else "**not below** ")
        + f"the chance level ln({BATCH_SIZE}) = {np.log(BATCH_SIZE):.3f}: at chance the model "
        "cannot tell a session's own report from the other reports of its batch.")

# %% [markdown]
# ### Exercise 2.1 · Why is chance ln(batch size)?
#
# InfoNCE is a cross-entropy: for each session, a softmax over its cosine similarities with the
# batch's reports (divided by a temperature), and the loss is minus the log-probability of its
# own report. Compute the loss of a model whose similarities are all equal, and of one whose own
# report is more similar than the others by a margin of one temperature unit.

# %%
# Exercise 2.1 · scaffold
def info_nce(sim: np.ndarray, temperature: float = 0.07) -> float:
    """Mean InfoNCE (EEG -> report direction) of a (batch, batch) similarity matrix."""
    logits = sim / temperature
    # TODO: log-softmax over each row, then minus the mean of the diagonal
    return float("nan")


print("all similarities equal:", info_nce(np.zeros((BATCH_SIZE, BATCH_SIZE))),
      "| ln(batch) =", round(float(np.log(BATCH_SIZE)), 3))

# %% tags=["solution"]
# Exercise 2.1 · solution
def info_nce(sim: np.ndarray, temperature: float = 0.07) -> float:
    logits = sim / temperature
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.diag(log_p).mean())


flat = np.zeros((BATCH_SIZE, BATCH_SIZE))
print(f"all equal: {info_nce(flat):.3f} = ln({BATCH_SIZE}) = {np.log(BATCH_SIZE):.3f}")
print(f"own report ahead by one temperature unit: {info_nce(flat + 0.07 * np.eye(BATCH_SIZE)):.3f}")

# %% [markdown]
# ## 3. What stage 1 learns: filling in hidden patches (5 min, with the exercise)
#
# We load the checkpoint written at the end of stage 1, hide most of one held-out session's
# tokens (the training mask ratio, printed below) and let the model predict them. Left: the
# session's volume (one region); middle: the visible tokens only (hidden ones grey); right:
# visible tokens plus the model's predictions.

# %%
ckpts = list_checkpoints(WORK / "model" / "checkpoints")  # oldest first: end of stage 1, stage 2


def load_stage(path) -> CLEFModel:
    """A CLEFModel from a training checkpoint folder (weights only)."""
    weights, _, state = load_checkpoint(path)
    model = CLEFModel(ModelConfig.from_dict(state["model_config"]))
    model.load_state_dict(weights)
    return model.eval()


stage1 = load_stage(ckpts[0])
final = CLEFModel.from_pretrained(WORK / "model").eval()
test_ids = cohort.sessions.loc[cohort.sessions["split"] == "test", "session_id"].tolist()[:N_SHOW]
sessions = [cohort.session(s) for s in test_ids]  # regenerated, 200 Hz, average reference
tok = final.tokenizer
tokens = tok.tokenize(sessions)  # padded batch
print(f"{len(test_ids)} held-out sessions -> tokens {tuple(tokens.values.shape)}; "
      f"mask ratio {cfg.mask_ratio:g}")

one = tok.tokenize(sessions[0])
noise = torch.rand(one.mask.shape, generator=torch.Generator().manual_seed(SEED))
with torch.no_grad():
    pred, masked, valid = stage1.reconstruct(one, noise, mask_ratio=cfg.mask_ratio)
visible = one.values.clone()
visible[masked] = float("nan")  # hidden: drawn grey
filled = torch.where(masked[..., None], pred.float(), one.values)
region = 0
n_win = tok.n_windows(sessions[0].n_samples)
cmap = plt.get_cmap("magma").with_extremes(bad="lightgray")
panels = {"original": one.values, f"visible ({1 - cfg.mask_ratio:.0%})": visible,
          "visible + predicted": filled}
fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
for ax, (title, vals) in zip(axes, panels.items()):
    vol = tok.untokenize(replace(one, values=vals), 0, n_windows=n_win)  # (ch, windows, freqs)
    chans = tok.layout.groups[region]
    im = ax.imshow(vol[list(chans)].mean(0).T.numpy(), aspect="auto", origin="lower", cmap=cmap,
                   vmin=-1, vmax=3, extent=[0, n_win * tok.config.step_s, tok.volume_freqs[0],
                                            tok.volume_freqs[-1]])
    ax.set(title=f"{title}: {tok.region_names[region].replace('_', ' ')}",
           xlabel="time (s)")
axes[0].set_ylabel("frequency (Hz)")
fig.colorbar(im, ax=axes, shrink=0.85, label="normalized power (tokenizer dB scale)")
plt.show()
sel = masked[..., None].expand_as(valid) & valid
err = ((pred.float() - one.values) ** 2)[sel].mean()
zero = (one.values ** 2)[sel].mean()
nbt.say(f"Error on the hidden tokens: {float(err):.3f}, against {float(zero):.3f} for predicting "
        "the tokenizer's zero level everywhere: "
        + ("the toy stage 1 already does better than that." if err < zero else
           "the toy stage 1 is not yet better than that; more steps are needed."))

# %% [markdown]
# ### Exercise 3.1 · How much can be hidden?
#
# Evaluate the stage-1 model's reconstruction error on all held-out sessions with 30, 60 and 90
# in every hundred tokens hidden. How fast does it degrade? (A clinician's analogy: how much of
# a page can be covered before you can no longer guess the background rhythm?)

# %%
# Exercise 3.1 · scaffold
gen = torch.Generator().manual_seed(SEED + 1)
noise_all = torch.rand(tokens.mask.shape, generator=gen)
noise_all[~tokens.mask] = 2.0  # padding is never "visible"
for ratio in (0.3, 0.6, 0.9):
    # TODO: with torch.no_grad(): p, m, v = stage1.reconstruct(tokens, noise_all, mask_ratio=ratio)
    #       then the mean squared error on hidden, valid values, as in the cell above
    pass

# %% tags=["solution"]
# Exercise 3.1 · solution
for ratio in (0.3, 0.6, 0.9):
    with torch.no_grad():
        p, m, v = stage1.reconstruct(tokens, noise_all, mask_ratio=ratio)
    sel_r = (m & tokens.mask)[..., None].expand_as(v) & v
    print(f"mask ratio {ratio:.1f}: error on hidden tokens "
          f"{float(((p.float() - tokens.values) ** 2)[sel_r].mean()):.3f}")

# %% [markdown]
# ## 4. The EEG-report similarity matrix, before and after alignment (6 min, with the exercise)
#
# Row *i* is held-out session *i*'s EEG embedding, column *j* report *j*'s text embedding; each
# cell is their **cosine similarity** (1 = same direction, 0 = unrelated). After stage 1 the text
# projection is untrained, so the matrix is noise. Stage 2 should make the **diagonal** (each
# session with its own report) stand out. These patients were never seen in training; with a few
# dozen steps on a few dozen sessions the effect is small or absent, which is what the numbers
# below say. The shipped checkpoint (section 5) is the fair comparison.

# %%
reports = cohort.sessions.set_index("session_id").loc[test_ids, "report"].tolist()


def similarity(model: CLEFModel) -> np.ndarray:
    """(sessions, reports) cosine similarities."""
    with torch.no_grad():
        z_eeg = model.encode_eeg(tokens)  # (n, embed_dim), L2-normalized
        z_txt = model.encode_text(reports)  # (n, embed_dim)
    return (z_eeg @ z_txt.T).numpy()


def recall_at_1(sim: np.ndarray) -> float:
    """Share of sessions whose own report is the most similar one."""
    return float((sim.argmax(axis=1) == np.arange(len(sim))).mean())


def draw_similarity(ax, sim, title):
    lim = float(np.abs(sim).max())
    im = ax.imshow(sim, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set(title=f"{title}\nrecall@1 {recall_at_1(sim):.2f} (chance {1 / len(sim):.2f})",
           xlabel="report of session j", ylabel="EEG of session i")
    plt.colorbar(im, ax=ax, shrink=0.8, label="cosine similarity")


sims = {"after stage 1 (before alignment)": similarity(stage1),
        "after stage 2 (aligned, toy run)": similarity(final)}
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
for ax, (title, sim) in zip(axes, sims.items()):
    draw_similarity(ax, sim, title)
fig.tight_layout()
plt.show()
lines = []
for title, sim in sims.items():
    diag, off = np.diag(sim).mean(), sim[~np.eye(len(sim), dtype=bool)].mean()
    lines.append(f"- {title}: mean diagonal {diag:.3f} vs off-diagonal {off:.3f}, recall@1 "
                 f"{recall_at_1(sim):.2f} (chance {1 / len(sim):.2f})")
nbt.say("\n".join(lines))

# %% [markdown]
# ### Exercise 4.1 · EEG and EHR
#
# Draw the EEG-EHR similarity matrix of the final toy model (`final.encode_ehr(records)` with the
# sessions table rows as records). Why are some off-diagonal cells as high as the diagonal?
# (Hint: many patients share the same diagnoses and medications.)

# %%
# Exercise 4.1 · scaffold
records = cohort.sessions.set_index("session_id").loc[test_ids].reset_index()
sim_ehr = None  # TODO: with torch.no_grad(): final.encode_eeg(tokens) @ final.encode_ehr(records).T
if sim_ehr is None:
    print("TODO: compute sim_ehr, then draw_similarity(ax, sim_ehr.numpy(), 'EEG <-> EHR')")

# %% tags=["solution"]
# Exercise 4.1 · solution
with torch.no_grad():
    sim_ehr = (final.encode_eeg(tokens) @ final.encode_ehr(records).T).numpy()
fig, ax = plt.subplots(figsize=(6, 5))
draw_similarity(ax, sim_ehr, "EEG <-> EHR (toy run)")
plt.show()
keys = records.apply(lambda r: (tuple(r["diagnoses"] if r["diagnoses"] is not None else ()),
                                tuple(r["medications"] if r["medications"] is not None else ()),
                                r["setting"]), axis=1)
print(f"{keys.nunique()} distinct (diagnoses, medications, setting) among {len(keys)} records: "
      "identical records have identical EHR embeddings, so their columns tie")

# %% [markdown]
# ## 5. The shipped checkpoint (4 min)
#
# `data_samples/` ships a `clef-tiny` checkpoint trained with the same code on a larger synthetic
# cohort; its model card records the exact command and data (printed below). Its stage 2 is a
# variant of the one above: `--init-from` a stage-1 checkpoint and `--freeze-encoder` keep the
# encoder locked and train only the attention pool, the projections and the text/EHR towers.
# Because the encoder is locked, the **reconstruction-only** baseline of the probe benchmark is
# exactly this model *before* alignment: comparing the two is the before/after of alignment. The
# numbers are read from the shipped probe run at run time.

# %%
bundle = Bundle.locate(SAMPLES, require=False)
shipped_dir = bundle.checkpoint or next((p for p in (SAMPLES / "clef-tiny",) if p.is_dir()), None)
if shipped_dir is None:
    print(f"no shipped checkpoint under {SAMPLES}; build one with `clef demo` or set "
          "CLEF_SAMPLE_DIR")
else:
    shipped = CLEFModel.from_pretrained(shipped_dir).eval()
    card = (Path(shipped_dir) / "MODEL_CARD.md").read_text()
    print("\n".join(card.splitlines()[:32]))
    sim = similarity(shipped)
    fig, ax = plt.subplots(figsize=(6, 5))
    draw_similarity(ax, sim, "shipped checkpoint")
    plt.show()
    seed_line = next((ln for ln in card.splitlines() if "cohort_seed" in ln), "")
    same_seed = seed_line.split(":")[-1].strip() == str(SEED)
    nbt.say(f"Shipped checkpoint on this notebook's held-out sessions: recall@1 "
            f"{recall_at_1(sim):.2f} (chance {1 / len(sim):.2f}). "
            + ("Its training cohort used the same seed, so some of these patients may be in its "
               "training split: read it as an illustration; notebook 04 evaluates properly."
               if same_seed else
               "Its training cohort used another seed, so these patients are new to it; with a "
               "dozen sessions the number is still noisy (notebook 04 evaluates properly)."))

# %%
summary_full = nbt.read_result("summary_table.csv", bundle=bundle, index_col=0)
if summary_full is None or not {"clef", "recon"} <= set(summary_full.index):
    nbt.say("*No shipped probe run with the reconstruction-only baseline was found.*")
else:
    cats = [c for c in summary_full.columns if c not in ("n_tasks",)]
    before, after = summary_full.loc["recon", cats], summary_full.loc["clef", cats]
    diff = after - before
    gained = [c for c in cats if c != "overall" and diff[c] > 0]
    lost = [c for c in cats if c != "overall" and diff[c] <= 0]
    nbt.say(
        f"**Alignment, before and after** (shipped probe run, "
        f"{int(summary_full.loc['clef', 'n_tasks'])} tasks, held-out patients, mean AUROC): "
        f"overall {before['overall']:.3f} before (reconstruction only) -> {after['overall']:.3f} "
        f"after ({diff['overall']:+.3f}). Gains in: {', '.join(gained) or 'none'}; "
        f"no gain in: {', '.join(lost) or 'none'}."
        + (f" The short-window baseline ({summary_full.loc['short-window', 'overall']:.3f}) is a "
           "different model (10-second windows, averaged), not a stage of this one."
           if "short-window" in summary_full.index else ""))
    display((summary_full.loc[[r for r in ("recon", "clef", "oracle") if r in summary_full.index],
                              cats]).round(3))
