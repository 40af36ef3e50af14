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
# # 01 · From an EEG recording to multitaper tokens
#
# **After this notebook you can**
# - read an EDF file with clef and see how its channels map to the 19 standard 10-20 electrodes;
# - draw the same seconds in average reference and in the double banana, clinical polarity
#   (negative up), with a µV scale;
# - read a multitaper spectrogram, find the **mu rhythm** over C3/C4 and measure its
#   desynchronisation during hand movement;
# - explain what the number of tapers trades, and how a session becomes 3-D patches and
#   **tokens** for a Transformer.
#
# **Prerequisites:** basic EEG reading (montages, frequency bands). No programming beyond
# running cells and changing a value. Glossary: `notebooks/README.md`.
#
# **Time (about 35 min):** 1 reading and harmonizing + exercise (6 min) · 2 montages (5 min) ·
# 3 the multitaper spectrogram + mu exercise (12 min) · tapers + exercise (6 min) · 4 patches
# and tokens + exercise (6 min).
#
# CLEF reads a whole clinical EEG session, turns it into a **multitaper spectrogram**
# (channels x time windows x frequencies), cuts that volume into **3-D patches** and hands the
# patches to a Transformer as **tokens**.
#
# The recording is real: run 3 of subject S001 of the PhysioNet EEG Motor Movement/Imagery
# dataset (EEGMMIDB), a healthy volunteer who **opens and closes the left or right fist** when a
# target appears (runs 3, 7 and 11 are executed movement; runs 4, 8 and 12 imagine the same
# movement). Annotations mark rest (`T0`), left fist (`T1`) and right fist (`T2`). The rhythm that
# matters here is the **mu rhythm** (8-13 Hz over the central electrodes C3 and C4), which
# desynchronises over the hemisphere opposite the moving hand; eyes are open throughout, so the
# eyes-closed posterior alpha rhythm is not the point.
#
# Library calls: `clef.io.summarize`, `clef.io.read_session`, `clef.io.apply_montage`,
# `clef.tokenizer.MultitaperTokenizer`, `clef.tokenizer.TokenizerConfig`.

# %% tags=["parameters"]
# Parameters. The defaults run in well under a minute on 2 CPU cores.
import os

EDF_PATH = os.environ.get("CLEF_EEGMMIDB_EDF", "")  # "" = data_samples/real/S001R03.edf, shipped
#   (PhysioNet EEG Motor Movement/Imagery, 64 channels, 160 Hz, 125 s; ODC-By, see its README)
FORCE_SYNTHETIC = False  # True: use a synthetic recording (clef.synth) instead of the real EDF
SYNTH_SECONDS = 125.0  # length of the synthetic recording (an awake stretch)
TRACE_SECONDS = 10.0  # seconds of raw signal drawn in the montage figures
NW_VALUES = (1.0, 2.0, 4.0)  # time-half-bandwidth products compared (the presets use NW = 2)
NOISE_SECONDS = 300.0  # white-noise length for the variance measurement (full setting: 3600)
MU_BAND = (8.0, 13.0)  # Hz, the mu (and alpha) band

# %%
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.special import polygamma

# The repository root (the notebook may be started from notebooks/ or from the root).
ROOT = next((p for p in (Path.cwd(), *Path.cwd().parents) if (p / "clef" / "__init__.py").exists()),
            Path.cwd())
sys.path.insert(0, str(ROOT / "notebooks"))
import nbtools as nbt  # noqa: E402  (figure style, computed markdown, scale bars)

import clef  # noqa: E402
from clef.channels import REGIONS, STANDARD_CHANNELS  # noqa: E402
from clef.io import apply_montage, read_session, summarize  # noqa: E402
from clef.tokenizer import MultitaperTokenizer, TokenizerConfig, dpss_tapers  # noqa: E402

nbt.style()
REGION_NAMES = {r: r.replace("_", " ") for r in REGIONS}
EVENT_NAMES = {"T0": "rest", "T1": "left fist", "T2": "right fist"}  # EEGMMIDB runs 3, 7, 11
print("clef", clef.__version__ if hasattr(clef, "__version__") else "", "| repository:", ROOT)

# %% [markdown]
# ## 1. Reading a recording and harmonizing its channels (6 min, with the exercise)
#
# Real files name their electrodes in many ways: `EEG FP1-REF`, `Fp1`, `FP1-LE`, `T3` (old name
# of `T7`) or, in the PhysioNet motor movement/imagery set used here, `Fp1.` and `Fc5.` (padded
# with dots).
# `clef.io.summarize` shows what `read_session` will do with every channel before reading the
# signal: which of the 19 standard channels it **maps to**, which are **dropped** (extra
# electrodes of a 64-channel cap) and which are **missing** (interpolated when at most three are).
#
# The real recording ships with clef in `data_samples/real/` (three EEGMMIDB runs, with their
# licence and attribution). With `FORCE_SYNTHETIC = True` we instead write a synthetic session as
# its site would (site A labels channels `EEG FP1-REF`, records at 200 Hz against a vertex
# reference) and read that file: the steps are the same.

# %%
default_edf = ROOT / "data_samples" / "real" / "S001R03.edf"
edf = Path(EDF_PATH) if EDF_PATH else default_edf
if edf.is_file() and not FORCE_SYNTHETIC:
    SOURCE = "real"
else:
    from clef.synth import example
    from clef.synth.cohort import write_edf

    SOURCE = "synthetic"
    # An awake stretch with a normal posterior rhythm, as site A records it (raw, vertex ref).
    raw_session = example("normal_pdr", seconds=SYNTH_SECONDS)
    edf = write_edf(raw_session, Path(tempfile.mkdtemp(prefix="clef_nb01_")) / "synthetic.edf")
print(f"recording ({SOURCE}): {edf.name}")

info = summarize(edf)
print(f"format {info['format']}, {info['n_channels']} channels at {info['sfreq']:g} Hz, "
      f"{info['duration_s']:.1f} s; found {len(info['found'])} of {len(STANDARD_CHANNELS)} "
      f"standard channels, missing {info['missing']}, dropped {len(info['dropped'])}; problems: "
      f"{info['problems'] or 'none'}")
channels = pd.DataFrame(info["channels"])
print(channels["role"].value_counts().to_string())
channels[channels["role"] == "eeg"].head(8)

# %% [markdown]
# `read_session` keeps the 19 standard channels in a fixed order, re-references them (common
# average by default), high-passes at 0.5 Hz and resamples to 200 Hz, the rate every model in this
# suite expects. Everything it did is recorded in `meta`.

# %%
session = read_session(edf)  # montage="average", sfreq=200.0, l_freq=0.5
print("data", session.data.shape, session.data.dtype, f"at {session.sfreq:g} Hz,",
      f"{session.n_samples / session.sfreq:.1f} s")
print("first channels:", list(session.meta["channel_map"].items())[:4])
print("filters:", session.meta["filters"])
print("annotations:", len(session.annotations), session.annotations[:3])
amp_uv = 1e6 * session.data.std(axis=1)
print(f"median channel RMS {np.median(amp_uv):.1f} µV")

# %% [markdown]
# ### Exercise 1.1 · No ear electrodes
#
# Ask `read_session` for `montage="linked_ears"` on this file. What does the error say, and what
# is the fix?

# %%
# Exercise 1.1 · scaffold
from clef.errors import TooFewChannels  # noqa: E402

try:
    pass  # TODO: read_session(edf, montage="linked_ears")
except TooFewChannels as err:
    print(type(err).__name__, "->", err)

# %% tags=["solution"]
# Exercise 1.1 · solution (linked ears need A1/A2 or M1/M2 electrodes)
try:
    read_session(edf, montage="linked_ears")
    print("read: this file has ear electrodes")
except TooFewChannels as err:
    print(type(err).__name__, "->", err)

# %% [markdown]
# ## 2. Montages: average reference and double banana (5 min)
#
# A referential recording measures every electrode against one reference; the **common average**
# subtracts the mean of the 19 channels. Neurologists mostly read the **longitudinal bipolar**
# montage ("double banana"): 18 differences between neighbouring electrodes along four chains
# (left temporal, right temporal, left and right parasagittal) plus the midline. A local field
# shows up as a **phase reversal** between two neighbouring derivations (notebook 02 has an
# exercise on one); activity common to neighbours (a far reference, most artifacts of the
# reference electrode) cancels.
#
# Traces are drawn the clinical way, **negative up**; red bars give the µV and 1 s scales, and
# the shaded spans mark the task annotations (left or right fist).

# %%
as_recorded = read_session(edf, montage="none")  # recorded reference, same filters and rate
views = {"average reference": apply_montage(as_recorded, "average"),
         "double banana (longitudinal bipolar)": apply_montage(as_recorded, "bipolar")}
print("bipolar derivations:", views["double banana (longitudinal bipolar)"].ch_names[:6], "...")
event_colors = {"T1": "tab:orange", "T2": "tab:green"}

fig, axes = plt.subplots(1, 2, figsize=(15, 8))
for ax, (title, v) in zip(axes, views.items()):
    n = int(TRACE_SECONDS * v.sfreq)
    seg = 1e6 * v.data[:, :n]  # (channels, samples) µV
    spacing = float(np.ceil(4 * np.median(seg.std(axis=1)) / 10) * 10)
    nbt.traces(ax, seg, v.sfreq, v.ch_names, spacing)
    for onset, dur, desc in session.annotations:
        if desc in event_colors and onset < TRACE_SECONDS:
            ax.axvspan(onset, min(onset + dur, TRACE_SECONDS), color=event_colors[desc],
                       alpha=0.12, lw=0)
            ax.text(onset + 0.05, 1.0, EVENT_NAMES[desc], color=event_colors[desc],
                    transform=ax.get_xaxis_transform(), va="bottom", fontsize=11)
    ax.set_title(f"{title}\n{spacing:g} µV between traces, negative up", pad=18)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. The multitaper spectrogram (12 min, with the exercise)
#
# The tokenizer slides a 4 s window every 2 s (half-overlapping windows) and estimates the power
# spectrum of each window with **DPSS (Slepian) tapers**: each taper gives an independent, nearly
# unbiased estimate; averaging K of them lowers the variance. With `NW = 2`, K = 2NW - 1 = 3
# tapers and the spectral smoothing is 2NW / 4 s = 1 Hz. The output is a volume
# `(channels, windows, frequencies)` with 0.25 Hz bins from 0.5 to 40 Hz.
#
# Below: the spectrogram of each scalp region (mean power of its channels), the way a compressed
# spectral array looks in a clinical reviewer, with the task annotations above it.

# %%
tok = MultitaperTokenizer(TokenizerConfig.base())
power = tok.spectrogram(session.data)  # (channels, windows, freqs), V^2 (MNE "length" units)
times, freqs = tok.times(power.shape[1]), tok.freqs
print("spectrogram", power.shape, f"window {tok.config.window_s:g} s, hop {tok.config.step_s:g} s,",
      f"{len(freqs)} bins of {freqs[1] - freqs[0]:.2f} Hz from {freqs[0]:g} to {freqs[-1]:g} Hz")
db = 10 * np.log10(power / session.sfreq / 1e-12)  # dB re 1 µV^2/Hz
index = {c: i for i, c in enumerate(STANDARD_CHANNELS)}

fig, axes = plt.subplots(len(REGIONS), 1, figsize=(12, 9), sharex=True)
lo, hi = np.percentile(db, [2, 98])
for ax, (region, chans) in zip(axes, REGIONS.items()):
    img = db[[index[c] for c in chans]].mean(axis=0).T  # (freqs, windows)
    im = ax.imshow(img, aspect="auto", origin="lower", vmin=lo, vmax=hi, cmap="magma",
                   extent=[times[0], times[-1], freqs[0], freqs[-1]])
    ax.set_ylabel(REGION_NAMES[region].replace(" ", "\n") + "\n(Hz)", fontsize=10)
for onset, dur, desc in session.annotations:
    if desc in event_colors:
        axes[0].plot([onset, onset + dur], [freqs[-1] * 1.04] * 2, color=event_colors[desc],
                     lw=4, clip_on=False, solid_capstyle="butt")
axes[0].set_title("multitaper spectrogram per region (bars above: orange left fist, "
                  "green right fist)", pad=12)
axes[0].set_xlim(times[0], times[-1])
axes[-1].set_xlabel("time (s)")
fig.colorbar(im, ax=axes, label="power (dB re 1 µV²/Hz)", shrink=0.6)
plt.show()

# %% [markdown]
# The average spectrum over the whole recording, per region, and for the two central electrodes
# that sit over the hand areas of the motor cortex: most EEG power sits below 15 Hz and falls
# roughly as 1/f; a **mu** peak in 8-13 Hz over C3/C4 is what movement suppresses. The peak
# frequencies below are measured, not assumed.

# %%
mean_db = 10 * np.log10(power.mean(axis=1) / session.sfreq / 1e-12)  # (channels, freqs)
fig, axes = plt.subplots(1, 2, figsize=(13, 4), sharey=True)
for region, chans in REGIONS.items():
    axes[0].plot(freqs, mean_db[[index[c] for c in chans]].mean(axis=0), label=REGION_NAMES[region])
for ch, col in (("C3", "tab:blue"), ("C4", "tab:red"), ("O1", "0.6")):
    axes[1].plot(freqs, mean_db[index[ch]], label=ch, color=col)
for ax in axes:
    ax.axvspan(*MU_BAND, color="0.92", zorder=0)
    ax.set_xlabel("frequency (Hz)")
    ax.legend()
axes[0].set(ylabel="power (dB re 1 µV²/Hz)", title="per region, whole recording")
axes[1].set(title="central (hand area) and occipital; grey: 8-13 Hz")
fig.tight_layout()
plt.show()
band = (freqs >= MU_BAND[0]) & (freqs <= MU_BAND[1])
peaks = {ch: float(freqs[band][np.argmax(mean_db[index[ch]][band])]) for ch in ("C3", "C4", "O1")}
edge = [ch for ch, f in peaks.items() if f in (freqs[band][0], freqs[band][-1])]
nbt.say("Peak frequency between 8 and 13 Hz: "
        + ", ".join(f"{ch} {f:.2f} Hz" for ch, f in peaks.items()) + "."
        + (f" At the edge of the band for {', '.join(edge)}: no clear peak there over the whole "
           "run (rest and movement mixed); exercise 3.1 separates the conditions." if edge else ""))

# %% [markdown]
# ### Exercise 3.1 · Mu desynchronisation at C3 and C4
#
# Moving a hand suppresses the mu rhythm over the *opposite* hemisphere's motor cortex
# (**event-related desynchronisation**, ERD): a left-fist movement (`T1`) should lower 8-13 Hz
# power at C4, a right-fist movement (`T2`) at C3. For each spectrogram window whose centre falls
# inside an annotation, take the 8-13 Hz power at C3 and C4; average per condition; express
# movement against rest as a change in dB. Is the suppression contralateral in this run?
# (When the notebook runs on the synthetic fallback there are no task annotations.)

# %%
# Exercise 3.1 · scaffold
def condition_of_windows(annotations, centres):
    """The annotation ('T0', 'T1', 'T2' or None) covering each window centre."""
    out = np.full(len(centres), None, dtype=object)
    for onset, dur, desc in annotations:
        if desc in EVENT_NAMES:
            out[(centres >= onset) & (centres < onset + dur)] = desc
    return out


centres = times  # window centres (s)
cond = condition_of_windows(session.annotations, centres)
print({k: int((cond == k).sum()) for k in EVENT_NAMES}, "windows per condition")
mu_db = None  # TODO: 10*log10 of the mean 8-13 Hz power per window at C3 and C4 -> {"C3": ...}
erd = None  # TODO: {(channel, "T1"/"T2"): mean mu dB in that condition minus mean at rest (T0)}
print("TODO: compute mu_db and erd" if erd is None else erd)

# %% tags=["solution"]
# Exercise 3.1 · solution
def mu_erd(s, label: str):
    """Mu power change (dB, movement minus rest) at C3/C4 for one recording."""
    p = tok.spectrogram(s.data)  # (channels, windows, freqs)
    c = condition_of_windows(s.annotations, tok.times(p.shape[1]))
    mu = {ch: 10 * np.log10(p[index[ch]][:, band].mean(axis=1)) for ch in ("C3", "C4")}
    out = {}
    for ch in ("C3", "C4"):
        for ev in ("T1", "T2"):
            if (c == ev).any() and (c == "T0").any():
                out[(ch, ev)] = float(mu[ch][c == ev].mean() - mu[ch][c == "T0"].mean())
    return out


runs = {f"{edf.stem} (this recording)": session}
for other in ("S001R04.edf",):  # run 4: the same movements, imagined
    path = edf.parent / other
    if SOURCE == "real" and path.is_file():
        runs[f"{path.stem} (imagined)"] = read_session(path)
results = {label: mu_erd(s, label) for label, s in runs.items()}
results = {k: v for k, v in results.items() if v}
if not results:
    print("no T0/T1/T2 annotations in this recording: nothing to compare")
else:
    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4), sharey=True)
    for ax, (label, res) in zip(np.atleast_1d(axes), results.items()):
        x = np.arange(2)
        for j, (ch, col) in enumerate((("C3", "tab:blue"), ("C4", "tab:red"))):
            ax.bar(x + 0.38 * j, [res.get((ch, ev), np.nan) for ev in ("T1", "T2")], width=0.36,
                   color=col, label=f"{ch} ({'left' if ch == 'C3' else 'right'} hemisphere)")
        ax.set_xticks(x + 0.19, [EVENT_NAMES["T1"], EVENT_NAMES["T2"]])
        ax.axhline(0, color="k", lw=0.8)
        ax.set(title=label, ylabel="mu power vs rest (dB)")
        ax.legend()
    fig.tight_layout()
    plt.show()
    for label, res in results.items():
        contra = [res.get(("C4", "T1"), np.nan), res.get(("C3", "T2"), np.nan)]
        ipsi = [res.get(("C3", "T1"), np.nan), res.get(("C4", "T2"), np.nan)]
        print(f"{label}: mean change opposite the moving hand {np.nanmean(contra):+.2f} dB, "
              f"same side {np.nanmean(ipsi):+.2f} dB -> "
              + ("contralateral suppression is stronger" if np.nanmean(contra) < np.nanmean(ipsi)
                 else "no contralateral predominance in this run (one subject, few trials)"))

# %% [markdown]
# ### What the tapers trade (6 min, with the exercise)
#
# More tapers average more independent estimates (lower variance) but each taper concentrates
# its energy in a wider band (coarser frequency resolution). We measure both in **cells** of
# the spectrogram (0.25 Hz bins of a 4 s window):
#
# * **resolution**: a pure 10.1 Hz sinusoid; how many cells lie within 6 dB of its peak;
# * **variance**: white noise has a flat true spectrum, so the spread (standard deviation) of
#   its estimated power in dB across all cells is pure estimation noise.
#
# Theory: K = 2NW - 1 tapers; a mainlobe 2W = 2NW / T wide (T = 4 s window), that is 2NW cells;
# and the dB spread of an average of K independent chi-squared(2) estimates,
# 10 / ln(10) x sqrt(trigamma(K)) (the table's last column).

# %%
sf = tok.config.sfreq
rng = np.random.default_rng(0)
t = np.arange(0, 60, 1 / sf)
sine = np.sin(2 * np.pi * 10.1 * t)[None].astype(np.float32)  # (1, samples)
noise = rng.standard_normal((1, int(NOISE_SECONDS * sf))).astype(np.float32)
rows, spectra = [], {}
for nw in NW_VALUES:
    tk = MultitaperTokenizer(TokenizerConfig(nw=nw))
    k = dpss_tapers(tk.config.n_window, nw)[0].shape[0]
    p_sine = tk.spectrogram(sine)[0].mean(axis=0)  # (freqs,)
    rel = 10 * np.log10(p_sine / p_sine.max())
    p_noise = tk.spectrogram(noise)[0]  # (windows, freqs)
    rows.append({"NW": nw, "tapers K": k, "bandwidth 2NW/T (Hz)": 2 * nw / tk.config.window_s,
                 "peak width at -6 dB (cells)": int((rel > -6).sum()),
                 "noise spread (dB std)": float((10 * np.log10(p_noise)).std()),
                 "theory (dB std)": 10 / np.log(10) * np.sqrt(polygamma(1, k))})
    spectra[nw] = tk.spectrogram(session.data[[index["C3"]]])[0]  # (windows, freqs) real EEG
taper_table = pd.DataFrame(rows).set_index("NW")
taper_table.round(2)

# %%
w = spectra[NW_VALUES[0]].shape[0] // 2  # one window in the middle of the recording
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
for nw, spec in spectra.items():
    axes[0].plot(tk.freqs, 10 * np.log10(spec[w] / sf / 1e-12), lw=1.2,
                 label=f"NW={nw:g} (K={int(taper_table.loc[nw, 'tapers K'])})")
axes[0].set(xlabel="frequency (Hz)", ylabel="power (dB re 1 µV²/Hz)",
            title=f"C3, one 4 s window (t={times[w]:.0f} s)")
axes[0].legend()
axes[1].plot(taper_table["peak width at -6 dB (cells)"], taper_table["noise spread (dB std)"], "o-")
for nw, r in taper_table.iterrows():
    axes[1].annotate(f"NW={nw:g}", (r["peak width at -6 dB (cells)"], r["noise spread (dB std)"]),
                     textcoords="offset points", xytext=(5, 5))
axes[1].set(xlabel="peak width (cells of 0.25 Hz)", ylabel="noise spread (dB, std)",
            title="resolution vs variance")
fig.tight_layout()
plt.show()
r1, r4 = taper_table.iloc[0], taper_table.iloc[-1]
width, spread = "peak width at -6 dB (cells)", "noise spread (dB std)"
nbt.say(f"From NW {NW_VALUES[0]:g} to {NW_VALUES[-1]:g}: the peak widens from {r1[width]} to "
        f"{r4[width]} cells, the noise spread falls from {r1[spread]:.2f} to {r4[spread]:.2f} dB.")

# %% [markdown]
# The presets use NW = 2 (3 tapers, 1 Hz bandwidth): clinical rhythms are defined in whole hertz
# (a 3 Hz spike-and-wave, an 8.5 Hz posterior rhythm), so 1 Hz resolution loses little, while a
# single taper's noise would drown slow changes of background power.
#
# ### Exercise 3.2 · Tapers on real EEG
#
# For each NW, compute the standard deviation over time of the C3 power at 10 Hz (dB). Does it
# follow the white-noise spread of the table? Why not exactly?

# %%
# Exercise 3.2 · scaffold
f10 = int(np.argmin(np.abs(tok.freqs - 10.0)))  # the 10 Hz bin
for nw, spec in spectra.items():
    variation = None  # TODO: np.std of 10*log10(spec[:, f10]) over windows
    print(f"NW={nw:g}: {variation} (white-noise spread {taper_table.loc[nw, spread]:.2f} dB)")

# %% tags=["solution"]
# Exercise 3.2 · solution
for nw, spec in spectra.items():
    print(f"NW={nw:g}: C3 10 Hz power varies by {np.std(10 * np.log10(spec[:, f10])):.2f} dB "
          f"over time (white-noise spread {taper_table.loc[nw, spread]:.2f} dB)")
# White noise sets the estimation-noise level of a noise-like signal. Real EEG at 10 Hz mixes
# that noise with the mu rhythm's own waxing and waning with the task (more variation) and a
# partly steady oscillation (a sinusoid's estimate barely varies: less variation).

# %% [markdown]
# ## 4. 3-D patches and tokens (6 min, with the exercise)
#
# The volume is normalized to dB (fixed scale, so absolute power survives: suppression and
# diffuse slowing are findings) and cut into blocks of **channel group x time patch x frequency
# band**. Channel groups are the 5 scalp regions (a region's channels are zero-padded to 5), so
# one token describes, for example, "the left temporal chain, 24 s, 0.5-20 Hz". Tokens are ordered
# time-major, then region, then band; `time_idx`, `region_idx` and `band_idx` tell the model
# where each token sits.

# %%
presets = {"tiny": TokenizerConfig.tiny(), "base": TokenizerConfig.base()}
duration_s = session.n_samples / session.sfreq
rows = []
for preset, cfg in presets.items():
    tk = MultitaperTokenizer(cfg)
    rows.append({"preset": preset, "time patch (s)": tk.time_patch_s, "regions": tk.n_regions,
                 "bands": tk.n_bands, "patch_dim": tk.patch_dim,
                 "tokens, this recording": tk.n_tokens(duration_s),
                 "tokens, 20 min": tk.n_tokens(20 * 60), "tokens, 24 h": tk.n_tokens(24 * 3600)})
pd.DataFrame(rows).set_index("preset")

# %%
tiny = MultitaperTokenizer(presets["tiny"])
tokens = tiny.tokenize(session)
print(tiny)
print(f"one token = {tiny.layout.group_size} channels x {tiny.config.windows_per_patch} windows x "
      f"{tiny.layout.bins_per_band} bins = {tiny.patch_dim} values")
print("values", tuple(tokens.values.shape), "time_idx", tokens.time_idx[0, :10].tolist())
print("region_idx", tokens.region_idx[0, :10].tolist(),
      "band_idx", tokens.band_idx[0, :10].tolist())
volume = tiny.volume(session)  # (channels, windows, freqs) normalized values
back = tiny.untokenize(tokens, 0, n_windows=volume.shape[1])
print("untokenize(tokenize(x)) == volume(x):", bool((back == volume).all()),
      "| max abs difference", float((back - volume).abs().max()))

# %% [markdown]
# Each token is a small 3-D block: (channels of its region, zero-padded to 5) x (windows of its
# time patch) x (frequency bins of its band); for the `tiny` preset the bins are pooled to 1 Hz.
# Left: the mean of every token (over its real values, not the zero padding) on the
# (region x band) by time grid; the last time patch is only partly covered by the recording, its
# missing windows are zero-filled. Right: one token unfolded.

# %%
n_t = int(tokens.time_idx.max()) + 1
real = tiny.valid[tokens.region_idx[0], tokens.band_idx[0]]  # (n_tokens, patch_dim) not padding
token_mean = (tokens.values[0] * real).sum(dim=1) / real.sum(dim=1)  # (n_tokens,)
grid = token_mean.reshape(n_t, tiny.n_regions * tiny.n_bands).T  # (region x band, time patches)
labels = [f"{r.replace('_', ' ')} · band {b + 1}" for r in tiny.region_names
          for b in range(tiny.n_bands)]
c = tiny.config
one = tokens.values[0, 2 * tiny.n_bands].reshape(5, c.windows_per_patch, tiny.layout.bins_per_band)
fig, axes = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [2, 1]})
im = axes[0].imshow(grid.numpy(), aspect="auto", cmap="viridis", origin="upper")
axes[0].set_yticks(range(len(labels)), labels, fontsize=10)
axes[0].set_xlabel(f"time patch ({tiny.time_patch_s:g} s each)")
axes[0].set_title("mean of every token's real values")
fig.colorbar(im, ax=axes[0], label="normalized power (tokenizer dB scale)")
chans = REGIONS[tiny.region_names[2]]
im2 = axes[1].imshow(one.permute(0, 2, 1).reshape(-1, c.windows_per_patch).numpy(), aspect="auto",
                     cmap="viridis", origin="upper", interpolation="nearest")
axes[1].set_yticks([tiny.layout.bins_per_band * (i + 0.5) for i in range(len(chans))], chans)
axes[1].set_xlabel("window in the patch")
axes[1].set_title(f"token {2 * tiny.n_bands}: {tiny.region_names[2].replace('_', ' ')}, band 1\n"
                  f"(channel x {tiny.layout.bins_per_band} bins) x {c.windows_per_patch} windows")
fig.colorbar(im2, ax=axes[1], label="normalized power")
fig.tight_layout()
plt.show()

# %% [markdown]
# A 20-minute routine EEG becomes a few hundred `tiny` or a couple of thousand `base` tokens (the
# table above), which fits a Transformer's context in one piece: the whole session is encoded at
# once, not as a bag of 10-second windows. A 24-hour ICU recording is longer than any context: the
# model encodes it in context-sized chunks and pools them.
#
# ### Exercise 4.1 · Tokens for a long recording
#
# How many `base` tokens does a 72-hour monitoring session give, and how many 2,048-token chunks
# does the model need?

# %%
# Exercise 4.1 · scaffold
base = MultitaperTokenizer(presets["base"])
n72 = None  # TODO: base.n_tokens(...) for 72 hours, in seconds
print("TODO" if n72 is None else n72)

# %% tags=["solution"]
# Exercise 4.1 · solution
n72 = base.n_tokens(72 * 3600)
print(f"72 h -> {n72:,} base tokens -> {-(-n72 // 2048)} chunks of 2,048 tokens")
