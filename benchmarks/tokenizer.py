"""Tokenizer speed: ours vs MNE's psd_array_multitaper looped over windows vs plain numpy.

One 20-minute, 19-channel, 200 Hz random session; best of 3 for every row, all in the same run.
Targets: ours (spectrogram + tokenize) < 0.15 s per session on 2 CPU cores and >= 10x faster than
the MNE loop; on a CUDA GPU >= 1,000 sessions/s in batches (compute only, data on the device).

Usage: ``python benchmarks/tokenizer.py [--out benchmarks/results/tokenizer.md] [--repeats 3]``
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from mne.time_frequency import psd_array_multitaper

from clef.tokenizer import MultitaperTokenizer, TokenizerConfig, dpss_tapers

MINUTES, N_CH = 20, 19


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def mne_loop(x: np.ndarray, cfg: TokenizerConfig) -> np.ndarray:
    n, step = cfg.n_window, cfg.n_step
    n_win = (x.shape[1] - n) // step + 1
    out = []
    for w in range(n_win):
        psd, _ = psd_array_multitaper(x[:, w * step: w * step + n], cfg.sfreq, fmin=cfg.fmin,
                                      fmax=cfg.fmax, bandwidth=2 * cfg.nw * cfg.sfreq / n,
                                      adaptive=False, normalization="length", verbose=False)
        out.append(psd)
    return np.stack(out, axis=1)  # (channels, windows, freqs)


def numpy_loop(x: np.ndarray, cfg: TokenizerConfig) -> np.ndarray:
    """Plain numpy, one window at a time (what one would write first)."""
    n, step = cfg.n_window, cfg.n_step
    tapers, eig = dpss_tapers(n, cfg.nw)
    w = eig / eig.sum()
    sl = cfg.freq_slice
    n_win = (x.shape[1] - n) // step + 1
    out = np.empty((x.shape[0], n_win, sl.stop - sl.start))
    for i in range(n_win):
        seg = x[:, i * step: i * step + n]
        seg = seg - seg.mean(-1, keepdims=True)
        spec = np.fft.rfft(seg[:, None, :] * tapers, axis=-1)[..., sl]  # (C, K, F)
        out[:, i] = 2 * np.einsum("ckf,k->cf", np.abs(spec) ** 2, w)
    return out


def gpu_rate(tok: MultitaperTokenizer, x: np.ndarray, batch: int, repeats: int) -> float:
    xb = torch.from_numpy(x).cuda().unsqueeze(0).repeat(batch, 1, 1)  # (batch, channels, samples)
    tok.tokenize(xb)
    torch.cuda.synchronize()

    def run():
        tok.tokenize(xb)
        torch.cuda.synchronize()

    t, _ = best_of(run, repeats)
    return batch / t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "tokenizer.md"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    cfg = TokenizerConfig.base()
    tok = MultitaperTokenizer(cfg)
    rng = np.random.default_rng(0)
    x32 = (rng.standard_normal((N_CH, int(MINUTES * 60 * cfg.sfreq))) * 2e-5).astype(np.float32)
    x64 = x32.astype(np.float64)
    load0 = os.getloadavg()[0]

    tok.tokenize(x32)  # warm-up (FFT plans)
    t_ours, tokens = best_of(lambda: tok.tokenize(x32), args.repeats)
    t_spec, spec = best_of(lambda: tok.spectrogram(x32), args.repeats)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t_ours1, _ = best_of(lambda: tok.tokenize(x32), args.repeats)
    torch.set_num_threads(threads)
    t_np, ref_np = best_of(lambda: numpy_loop(x64, cfg), args.repeats)
    t_mne, ref_mne = best_of(lambda: mne_loop(x64, cfg), args.repeats)
    load1 = os.getloadavg()[0]

    rel_mne = float(np.max(np.abs(spec - ref_mne) / ref_mne))
    rel_np = float(np.max(np.abs(ref_np - ref_mne) / ref_mne))
    rows = [
        ("ours: spectrogram + tokenize (torch, float32)", t_ours),
        ("ours: spectrogram only", t_spec),
        ("ours: spectrogram + tokenize, 1 thread", t_ours1),
        ("plain numpy, per-window loop (float64)", t_np),
        ("MNE psd_array_multitaper, per-window loop", t_mne),
    ]
    lines = [
        "# Tokenizer benchmark",
        "",
        (f"20-minute {N_CH}-channel {cfg.sfreq:g} Hz random session ({tokens.n_tokens} tokens, "
        f"patch_dim {tok.patch_dim}); best of {args.repeats}; torch {torch.__version__}, "
        f"{threads} threads, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}."),
        (f"Load average before/after: {load0:.2f}/{load1:.2f} (the 2 cores are shared with other "
        "jobs; timings are noisy when the load is above ~1)."),
        "",
        "| method | seconds / session | MNE loop / method |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {t:.4f} | {t_mne / t:.1f}x |" for name, t in rows]
    lines += [
        "",
        (f"Max relative difference vs MNE: ours (float32) {rel_mne:.1e}; numpy loop (float64) "
        f"{rel_np:.1e}. (float64 input gives < 1e-5; see tests/test_tokenizer.py.)"),
        "",
        f"- target < 0.15 s per session: {'PASS' if t_ours < 0.15 else 'FAIL'} ({t_ours:.3f} s)",
        (f"- target >= 10x faster than the MNE loop: {'PASS' if t_mne / t_ours >= 10 else 'FAIL'} "
        f"({t_mne / t_ours:.0f}x)"),
    ]
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        rates = {b: gpu_rate(tok, x32, b, args.repeats) for b in (16, 64)}
        best = max(rates.values())
        lines += [f"- GPU ({name}) sessions/s, tokenize on device: "
                  + ", ".join(f"batch {b}: {r:,.0f}" for b, r in rates.items())
                  + f"; target >= 1,000: {'PASS' if best >= 1000 else 'FAIL'}"]
    else:
        lines += ["- GPU row not measured: no CUDA device on this machine."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
