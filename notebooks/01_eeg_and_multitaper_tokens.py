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
# CLEF reads a whole clinical EEG session, turns it into a **multitaper spectrogram**
# (channels x time windows x frequencies), cuts that volume into **3-D patches** and hands the
# patches to a Transformer as **tokens**. This notebook walks through each step on one recording:
#
# 1. reading a file and **harmonizing** its channels to the 19 standard 10-20 electrodes;
# 2. **montages**: the same signal in common-average reference and in the longitudinal bipolar
#    ("double banana") montage neurologists read;
# 3. the **multitaper spectrogram**, and what the number of tapers trades (variance against
#    frequency resolution), measured in spectrogram cells;
# 4. **3-D patches and tokens**, and how many tokens a session becomes under the `tiny` (CPU) and
#    `base` (GPU) presets.
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
SHOW_SOLUTIONS = True  # run the exercise solutions (CI runs them so they cannot drift)

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib_inline.backend_inline import set_matplotlib_formats
from scipy.special import polygamma

import clef
from clef.channels import REGIONS, STANDARD_CHANNELS
from clef.io import apply_montage, read_session, summarize
from clef.tokenizer import MultitaperTokenizer, TokenizerConfig, dpss_tapers

# Small committed outputs: JPEG figures at a modest resolution.
set_matplotlib_formats("jpeg", pil_kwargs={"quality": 80})
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72, "figure.figsize": (10, 4)})
pd.set_option("display.width", 120)

# The repository root (the notebook may be started from notebooks/ or from the root).
ROOT = next((p for p in (Path.cwd(), *Path.cwd().parents) if (p / "clef" / "__init__.py").exists()),
            Path.cwd())
print("clef", clef.__version__ if hasattr(clef, "__version__") else "", "| repository:", ROOT)

# %% [markdown]
# ## 1. Reading a recording and harmonizing its channels
#
# Real files name their electrodes in many ways: `EEG FP1-REF`, `Fp1`, `FP1-LE`, `T3` (old name
# of `T7`) or, in the PhysioNet motor-imagery set used here, `Fp1.` and `Fc5.` (padded with dots).
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
print(f"median channel RMS {np.median(amp_uv):.1f} uV")

# %% [markdown]
# ## 2. Montages: average reference and double banana
#
# A referential recording measures every electrode against one reference; the **common average**
# subtracts the mean of the 19 channels. Neurologists mostly read the **longitudinal bipolar**
# montage ("double banana"): 18 differences between neighbouring electrodes along four chains
# (left temporal, right temporal, left and right parasagittal) plus the midline. A local field
# shows up as a **phase reversal** between two neighbouring derivations; activity common to
# neighbours (a far reference, most artifacts of the reference electrode) cancels.

# %%
as_recorded = read_session(edf, montage="none")  # recorded reference, same filters and rate
views = {"average reference": apply_montage(as_recorded, "average"),
         "double banana (longitudinal bipolar)": apply_montage(as_recorded, "bipolar")}
print("bipolar derivations:", views["double banana (longitudinal bipolar)"].ch_names[:6], "...")


def plot_traces(ax, s, seconds, start_s=0.0, spacing_uv=None, title=""):
    """Stacked EEG traces, first channel on top (plotting glue)."""
    a = int(start_s * s.sfreq)
    seg = 1e6 * s.data[:, a:a + int(seconds * s.sfreq)]  # (channels, samples) uV
    spacing = spacing_uv or 4 * np.median(seg.std(axis=1))
    t = start_s + np.arange(seg.shape[1]) / s.sfreq
    for i, row in enumerate(seg):
        ax.plot(t, row - i * spacing, lw=0.5, color="k")
    ax.set_yticks(-spacing * np.arange(len(s.ch_names)), s.ch_names, fontsize=7)
    ax.set_xlabel("time (s)")
    ax.set_title(f"{title} (spacing {spacing:.0f} uV)", fontsize=10)
    ax.set_xlim(t[0], t[-1])


fig, axes = plt.subplots(1, 2, figsize=(12, 5.5), sharex=True)
for ax, (name, s) in zip(axes, views.items()):
    plot_traces(ax, s, TRACE_SECONDS, title=name)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. The multitaper spectrogram
#
# The tokenizer slides a 4 s window every 2 s (50 % overlap) and estimates the power spectrum of
# each window with **DPSS (Slepian) tapers**: each taper gives an independent, nearly unbiased
# estimate; averaging K of them lowers the variance. With `NW = 2`, K = 2NW - 1 = 3 tapers and the
# spectral smoothing is 2NW / 4 s = 1 Hz. The output is a volume
# `(channels, windows, frequencies)` with 0.25 Hz bins from 0.5 to 40 Hz.
#
# Below: the spectrogram of each scalp region (mean dB of its channels), the way a compressed
# spectral array looks in a clinical reviewer.

# %%
tok = MultitaperTokenizer(TokenizerConfig.base())
power = tok.spectrogram(session.data)  # (channels, windows, freqs), V^2 (MNE "length" units)
times, freqs = tok.times(power.shape[1]), tok.freqs
print("spectrogram", power.shape, f"window {tok.config.window_s:g} s, hop {tok.config.step_s:g} s,",
      f"{len(freqs)} bins of {freqs[1] - freqs[0]:.2f} Hz from {freqs[0]:g} to {freqs[-1]:g} Hz")
db = 10 * np.log10(power / session.sfreq / 1e-12)  # dB re 1 uV^2/Hz
index = {c: i for i, c in enumerate(STANDARD_CHANNELS)}

fig, axes = plt.subplots(len(REGIONS), 1, figsize=(10, 8), sharex=True)
lo, hi = np.percentile(db, [2, 98])
for ax, (region, chans) in zip(axes, REGIONS.items()):
    img = db[[index[c] for c in chans]].mean(axis=0).T  # (freqs, windows)
    im = ax.imshow(img, aspect="auto", origin="lower", vmin=lo, vmax=hi, cmap="magma",
                   extent=[times[0], times[-1], freqs[0], freqs[-1]])
    ax.set_ylabel(region.replace("_", "\n") + "\n(Hz)", fontsize=8)
axes[-1].set_xlabel("time (s)")
fig.colorbar(im, ax=axes, label="dB re 1 uV²/Hz", shrink=0.6)
plt.show()

# %% [markdown]
# The average spectrum over the whole recording, per region: most EEG power sits below 15 Hz and
# falls roughly as 1/f; the posterior dominant (alpha) rhythm makes a bump around 8-12 Hz over the
# parasagittal (occipital) channels when the eyes are closed.

# %%
mean_db = 10 * np.log10(power.mean(axis=1) / session.sfreq / 1e-12)  # (channels, freqs)
fig, ax = plt.subplots(figsize=(8, 3.5))
for region, chans in REGIONS.items():
    ax.plot(freqs, mean_db[[index[c] for c in chans]].mean(axis=0), label=region)
ax.set_xlabel("frequency (Hz)")
ax.set_ylabel("dB re 1 uV²/Hz")
ax.legend(fontsize=8)
plt.show()
occipital = mean_db[[index["O1"], index["O2"]]].mean(axis=0)
band = (freqs >= 7) & (freqs <= 13)
print(f"occipital peak between 7 and 13 Hz: {freqs[band][np.argmax(occipital[band])]:.2f} Hz")

# %% [markdown]
# ### What the tapers trade
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
    spectra[nw] = tk.spectrogram(session.data[[index["O1"]]])[0]  # (windows, freqs) real EEG
taper_table = pd.DataFrame(rows).set_index("NW")
taper_table.round(2)

# %%
w = spectra[NW_VALUES[0]].shape[0] // 2  # one window in the middle of the recording
fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
for nw, spec in spectra.items():
    axes[0].plot(tk.freqs, 10 * np.log10(spec[w] / sf / 1e-12), lw=1,
                 label=f"NW={nw:g} (K={int(taper_table.loc[nw, 'tapers K'])})")
axes[0].set(xlabel="frequency (Hz)", ylabel="dB re 1 uV²/Hz",
            title=f"O1, one 4 s window (t={times[w]:.0f} s)")
axes[0].legend(fontsize=8)
axes[1].plot(taper_table["peak width at -6 dB (cells)"], taper_table["noise spread (dB std)"], "o-")
for nw, r in taper_table.iterrows():
    axes[1].annotate(f"NW={nw:g}", (r["peak width at -6 dB (cells)"], r["noise spread (dB std)"]),
                     textcoords="offset points", xytext=(5, 5))
axes[1].set(xlabel="peak width (cells of 0.25 Hz)", ylabel="noise spread (dB std)",
            title="resolution vs variance")
fig.tight_layout()
plt.show()
r1, r4 = taper_table.iloc[0], taper_table.iloc[-1]
width, spread = "peak width at -6 dB (cells)", "noise spread (dB std)"
print(f"NW {NW_VALUES[0]:g} -> {NW_VALUES[-1]:g}: peak width {r1[width]} -> {r4[width]} cells, "
      f"noise spread {r1[spread]:.2f} -> {r4[spread]:.2f} dB")

# %% [markdown]
# The presets use NW = 2 (3 tapers, 1 Hz bandwidth): clinical rhythms are defined in whole hertz
# (a 3 Hz spike-and-wave, an 8.5 Hz posterior rhythm), so 1 Hz resolution loses little, while a
# single taper's noise would drown slow changes of background power.

# %% [markdown]
# ## 4. 3-D patches and tokens
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
for name, cfg in presets.items():
    tk = MultitaperTokenizer(cfg)
    rows.append({"preset": name, "time patch (s)": tk.time_patch_s, "regions": tk.n_regions,
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
labels = [f"{r} · band {b}" for r in tiny.region_names for b in range(tiny.n_bands)]
c = tiny.config
one = tokens.values[0, 2 * tiny.n_bands].reshape(5, c.windows_per_patch, tiny.layout.bins_per_band)
fig, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [2, 1]})
im = axes[0].imshow(grid.numpy(), aspect="auto", cmap="viridis", origin="upper")
axes[0].set_yticks(range(len(labels)), labels, fontsize=7)
axes[0].set_xlabel(f"time patch ({tiny.time_patch_s:g} s each)")
axes[0].set_title("mean of every token's real values")
fig.colorbar(im, ax=axes[0])
chans = REGIONS[tiny.region_names[2]]
axes[1].imshow(one.permute(0, 2, 1).reshape(-1, c.windows_per_patch).numpy(), aspect="auto",
               cmap="viridis", origin="upper", interpolation="nearest")
axes[1].set_yticks([tiny.layout.bins_per_band * (i + 0.5) for i in range(len(chans))], chans)
axes[1].set_xlabel("window in the patch")
axes[1].set_title(f"token {2 * tiny.n_bands}: {tiny.region_names[2]}, band 0\n"
                  f"(channel x {tiny.layout.bins_per_band} bins) x {c.windows_per_patch} windows",
                  fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# A 20-minute routine EEG becomes a few hundred `tiny` or a couple of thousand `base` tokens (the
# table above), which fits a Transformer's context in one piece: the whole session is encoded at
# once, not as a bag of 10-second windows. A 24-hour ICU recording is longer than any context: the
# model encodes it in context-sized chunks and pools them.
#
# ## Exercises
#
# 1. **Alpha reactivity.** Compute the occipital (O1, O2) 8-12 Hz power in every spectrogram window
#    and plot it over time. Where does it rise and fall? (In the real motor-imagery recording, the
#    annotations `T0` mark rest and `T1`/`T2` imagined fist movements.)
# 2. **Tokens for a long recording.** How many `base` tokens does a 72-hour monitoring session give,
#    and how many 2,048-token chunks does the model need?
# 3. **Tapers on real EEG.** For each NW, compute the standard deviation over time of the O1
#    power at 10 Hz (dB). Does it follow the white-noise spread of the table?
# 4. **No ear electrodes.** Ask `read_session` for `montage="linked_ears"` on this file. What does
#    the error say, and what is the fix?

# %%
if SHOW_SOLUTIONS:
    # 1. Alpha power over time, occipital channels.
    alpha = (freqs >= 8) & (freqs <= 12)
    occ_alpha = 10 * np.log10(power[[index["O1"], index["O2"]]][:, :, alpha].mean(axis=(0, 2))
                              / sf / 1e-12)  # (windows,)
    fig, ax = plt.subplots(figsize=(10, 2.5))
    ax.plot(times, occ_alpha, lw=1)
    for onset, dur, desc in session.annotations:
        if desc in ("T1", "T2"):
            ax.axvspan(onset, onset + dur, color="tab:orange", alpha=0.2, lw=0)
    ax.set(xlabel="time (s)", ylabel="8-12 Hz dB",
           title="occipital alpha (shaded: T1/T2 if present)")
    plt.show()
    print(f"alpha power over the recording: {occ_alpha.min():.1f} to {occ_alpha.max():.1f} dB")

# %%
if SHOW_SOLUTIONS:
    # 2. A 72-hour session under the base preset.
    base = MultitaperTokenizer(presets["base"])
    n72 = base.n_tokens(72 * 3600)
    print(f"72 h -> {n72:,} base tokens -> {-(-n72 // 2048)} chunks of 2,048 tokens")

# %%
if SHOW_SOLUTIONS:
    # 3. Variability over time at 10 Hz, real EEG, per NW.
    f10 = int(np.argmin(np.abs(tok.freqs - 10.0)))
    for nw, spec in spectra.items():
        print(f"NW={nw:g}: O1 10 Hz power varies by {np.std(10 * np.log10(spec[:, f10])):.2f} dB "
              f"over time (white-noise spread {taper_table.loc[nw, spread]:.2f} dB)")
    # White noise sets the estimation-noise level of a noise-like signal. Real EEG at 10 Hz mixes
    # that noise with the alpha rhythm's own waxing and waning (more variation) and a partly
    # steady oscillation (a sinusoid's estimate barely varies: less variation).

# %%
if SHOW_SOLUTIONS:
    # 4. Linked ears need A1/A2 (or M1/M2) electrodes.
    from clef.errors import TooFewChannels

    try:
        read_session(edf, montage="linked_ears")
    except TooFewChannels as err:
        print(type(err).__name__, "->", err)
