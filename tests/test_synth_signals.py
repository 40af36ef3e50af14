"""clef.synth signals: each concept's signature is measurable in the rendered signal."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt, welch

from clef.channels import CHANNEL_INDEX as CI
from clef.synth.plan import make_session_id, plan_session
from clef.synth.signals import synthesize

SEED = 4


def find_plan(pred, site="A", duration=120, start=0, limit=4000):
    """First plan (scanning patients) satisfying ``pred``."""
    for p in range(start, start + limit):
        plan = plan_session(SEED, make_session_id(site, p, 0, duration))
        if pred(plan):
            return plan
    raise AssertionError("no plan found")  # pragma: no cover


def render(plan):
    x, _ = synthesize(plan)
    return x.astype(np.float64)  # (19, samples) uV as recorded


def avg_ref(x):
    return x - x.mean(0, keepdims=True)


def mask_of(n, fs, intervals):
    m = np.zeros(n, bool)
    for s, d in intervals:
        m[int(s * fs):int((s + d) * fs)] = True
    return m


def clean_chunks(x, fs, keep, seconds=4.0):
    """(k, channels, samples) chunks lying entirely inside the boolean mask ``keep``."""
    L = int(seconds * fs)
    out = [x[:, i:i + L] for i in range(0, x.shape[1] - L, L) if keep[i:i + L].all()]
    return np.stack(out)


def psd(chunks, fs):
    f, p = welch(chunks, fs=fs, nperseg=chunks.shape[-1], window="hann", axis=-1)
    return f, p.mean(0)  # (channels, freqs)


def busy_intervals(plan, kinds=("blink", "eye_move", "muscle", "pop", "photic", "hv", "roving")):
    return [(e.onset - 0.5, e.duration + 1.0) for e in plan.events if e.kind in kinds]


@pytest.mark.parametrize("pred", [
    lambda p: "normal_pdr" in p.findings and p.age >= 18,
    lambda p: "normal_pdr" in p.findings and p.age < 6,
    lambda p: "pdr_slowing" in p.findings and p.age >= 18,
], ids=["adult", "child", "slowed"])
def test_pdr_peak_at_drawn_frequency_and_reactive(pred):
    plan = find_plan(pred, duration=300)
    fs, x = plan.sfreq, avg_ref(render(plan))
    n = x.shape[1]
    awake = mask_of(n, fs, [(s, d) for s, d, st in plan.states if st == "awake"])
    eo = mask_of(n, fs, plan.eyes_open)
    busy = mask_of(n, fs, busy_intervals(plan, ("photic", "hv", "muscle", "pop"))
                   + ([plan.hv] if plan.hv else []))
    ec = awake & ~eo & ~busy
    f, p = psd(clean_chunks(x, fs, ec), fs)
    occ = p[[CI["O1"], CI["O2"]]].mean(0)
    band = (f >= 3) & (f <= 13)
    peak = f[band][np.argmax(occ[band])]
    assert abs(peak - plan.signal["pdr_hz"]) <= 0.5, (peak, plan.signal["pdr_hz"])
    # occipital maximum
    assert occ[band].max() > 2 * p[CI["Fz"]][band][np.argmax(occ[band])]
    # reactivity: eye opening attenuates the PDR
    if plan.eyes_open:
        f2, p2 = psd(clean_chunks(x, fs, awake & eo & ~busy, 2.0), fs)
        alpha = lambda ff, pp: pp[[CI["O1"], CI["O2"]]][:, np.abs(ff - peak) <= 1].sum()
        f3, p3 = psd(clean_chunks(x, fs, ec, 2.0), fs)
        assert alpha(f2, p2) < 0.4 * alpha(f3, p3)


def test_burst_suppression_ratio_matches():
    plan = find_plan(lambda p: "burst_suppression" in p.findings, duration=300)
    fs, x = plan.sfreq, avg_ref(render(plan))
    sos = butter(4, [0.5, 30], btype="band", fs=fs, output="sos")
    y = sosfiltfilt(sos, x, axis=1)
    win = int(0.25 * fs)
    k = y.shape[1] // win
    rms = np.sqrt((y[:, :k * win].reshape(19, k, win) ** 2).mean(-1))  # (channels, windows)
    suppressed = np.median(rms, 0) < 8.0  # "< 10 uV"
    want = plan.findings["burst_suppression"]["suppression_ratio"]
    assert abs(suppressed.mean() - want) < 0.06, (suppressed.mean(), want)
    assert np.median(np.median(rms, 0)[suppressed]) < 5


def _detect_negative_peaks(sig, fs, thr, min_gap=0.25):
    idx = np.flatnonzero((sig[1:-1] < sig[:-2]) & (sig[1:-1] <= sig[2:]) & (sig[1:-1] < -thr)) + 1
    out = []
    for i in idx:
        if out and i - out[-1] < min_gap * fs:
            if sig[i] < sig[out[-1]]:
                out[-1] = i
            continue
        out.append(i)
    return np.array(out) / fs


def test_spike_counts_match_annotations():
    clean = ("muscle", "electrode_pop", "line_noise")
    plan = find_plan(lambda p: any(k in p.findings for k in ("ied_left_temporal",
                                                             "ied_right_temporal"))
                     and not any(a in p.artifacts for a in clean)
                     and not any(k.startswith("focal_slowing") for k in p.findings)
                     and p.findings.get("ied_left_temporal", p.findings.get(
                         "ied_right_temporal"))["n_events"] >= 8, duration=180)
    name = "ied_left_temporal" if "ied_left_temporal" in plan.findings else "ied_right_temporal"
    fs, x = plan.sfreq, avg_ref(render(plan))
    ch = CI["T7"] if "left" in name else CI["T8"]
    sos = butter(4, [4, 30], btype="band", fs=fs, output="sos")
    y = sosfiltfilt(sos, x[ch])
    sigma = np.median(np.abs(y)) / 0.6745
    found = _detect_negative_peaks(y, fs, 5 * sigma)
    truth = np.array([e.onset + e.params["width"] / 2 for e in plan.events if e.concept == name])
    assert truth.size == plan.findings[name]["n_events"] >= 8
    hit = np.array([np.abs(found - t).min() < 0.12 for t in truth]) if found.size else np.zeros(1)
    recall = hit.mean()
    precision = np.mean([np.abs(truth - t).min() < 0.12 for t in found])
    assert recall >= 0.8 and precision >= 0.7, (recall, precision, truth.size, found.size)


def test_spindle_density_in_n2():
    plan = find_plan(lambda p: "sleep_spindles" in p.findings and "excess_beta" not in p.findings
                     and p.findings["sleep_spindles"]["n_events"] >= 6, duration=300)
    fs, x = plan.sfreq, avg_ref(render(plan))
    sos = butter(4, [11, 16], btype="band", fs=fs, output="sos")
    y = sosfiltfilt(sos, x[[CI["C3"], CI["Cz"], CI["C4"]]].mean(0))
    env = np.convolve(np.abs(y), np.ones(int(0.2 * fs)) / (0.2 * fs), "same")
    n2 = mask_of(len(y), fs, [(s, d) for s, d, st in plan.states if st in ("n2", "n3")])
    thr = 3 * np.median(env[n2])
    above = (env > thr) & n2
    edges = np.flatnonzero(np.diff(above.astype(int)) == 1)
    ends = np.flatnonzero(np.diff(above.astype(int)) == -1)
    durs = [(ends[ends > s][0] - s) / fs for s in edges if (ends > s).any()]
    found = sum(d >= 0.25 for d in durs)
    truth = plan.findings["sleep_spindles"]["n_events"]
    assert abs(found - truth) <= max(2, 0.3 * truth), (found, truth)
    minutes = n2.sum() / fs / 60
    assert 1.0 <= found / minutes <= 10.0  # 2-7 per minute drawn


def test_generalized_spike_wave_at_3hz():
    plan = find_plan(lambda p: "gsw_3hz" in p.findings, duration=300)
    fs, x = plan.sfreq, avg_ref(render(plan))
    bursts = [(e.onset, e.duration) for e in plan.events if e.kind == "gsw"]
    inside = mask_of(x.shape[1], fs, bursts)
    seg = np.concatenate([x[:, int(s * fs):int((s + d) * fs)] for s, d in bursts], 1)
    f, p = welch(seg, fs=fs, nperseg=int(2 * fs), axis=-1)
    fz = p[CI["F3"]] + p[CI["F4"]]
    band = (f > 1) & (f < 8)
    peak = f[band][np.argmax(fz[band])]
    assert 2.5 <= peak <= 3.5, peak
    f0, p0 = psd(clean_chunks(x, fs, ~inside, 2.0), fs)
    k = np.argmin(np.abs(f0 - peak))
    assert fz[np.argmin(np.abs(f - peak))] > 10 * (p0[CI["F3"], k] + p0[CI["F4"], k])
    # frontal maximum
    assert p[CI["F3"]][band].max() > 2 * p[CI["O1"]][band].max()


@pytest.mark.parametrize("site,line,other", [("A", 60.0, 50.0), ("B", 50.0, 60.0)])
def test_line_noise_at_site_frequency(site, line, other):
    plan = plan_session(SEED, make_session_id(site, 1, 0, 30))
    fs, x = plan.sfreq, render(plan)
    f, p = welch(x, fs=fs, nperseg=int(4 * fs), axis=-1)
    p = p.mean(0)
    at = lambda hz: p[np.argmin(np.abs(f - hz))]
    floor = np.median(p[(f > 40) & (f < fs / 2 - 5) & (np.abs(f - line) > 3)])
    assert at(line) > 20 * floor
    assert at(other) < 5 * floor


def test_volume_conduction_neighbours_correlate():
    plan = find_plan(lambda p: p.setting == "outpatient", duration=60)
    x = avg_ref(render(plan))
    sos = butter(4, [1, 30], btype="band", fs=plan.sfreq, output="sos")
    c = np.corrcoef(sosfiltfilt(sos, x, axis=1))
    near = np.mean([c[CI["C3"], CI["Cz"]], c[CI["P3"], CI["Pz"]], c[CI["F3"], CI["Fz"]],
                    c[CI["O1"], CI["P3"]]])
    far = np.mean([abs(c[CI["Fp1"], CI["O2"]]), abs(c[CI["T7"], CI["T8"]]),
                   abs(c[CI["F7"], CI["P8"]])])
    assert near > far + 0.2


def test_focal_slowing_lateralized():
    plan = find_plan(lambda p: "focal_slowing_left_temporal" in p.findings
                     and p.findings["focal_slowing_left_temporal"]["continuous"]
                     and "asymmetry" not in p.findings, duration=120)
    fs, x = plan.sfreq, avg_ref(render(plan))
    f, p = welch(x, fs=fs, nperseg=int(4 * fs), axis=-1)
    delta = p[:, (f >= 1) & (f <= 3)].sum(1)
    left = delta[[CI["F7"], CI["T7"], CI["P7"]]].mean()
    right = delta[[CI["F8"], CI["T8"], CI["P8"]]].mean()
    assert left > 3 * right


def test_seizure_evolves_in_frequency():
    plan = find_plan(lambda p: "seizure" in p.findings
                     and p.findings["seizure"]["region"] == "temporal", duration=300, site="A")
    ev = next(e for e in plan.events if e.kind == "seizure")
    fs, x = plan.sfreq, avg_ref(render(plan))
    ch = CI["T7"] if ev.params["side"] == "left" else CI["T8"]
    s0, d = ev.onset, ev.params["ictal_s"]

    def peak(a, b):
        seg = x[ch, int((s0 + a * d) * fs):int((s0 + b * d) * fs)]
        f, p = welch(seg, fs=fs, nperseg=min(len(seg), int(4 * fs)))
        band = (f > 1.5) & (f < 9)
        return f[band][np.argmax(p[band])]

    early, late = peak(0.15, 0.35), peak(0.75, 0.95)
    assert abs(early - (ev.params["f0"] + (ev.params["f1"] - ev.params["f0"]) * 0.25 ** 0.8)) < 1.0
    assert late < early - 1.0
