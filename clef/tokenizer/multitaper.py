"""DPSS multitaper spectrogram kernel in torch (CPU or GPU), matching MNE's psd_array_multitaper.

Per window: remove the mean, multiply by K DPSS tapers, rfft, combine
``P = 2 * sum_k lambda_k |X_k|^2 / sum_k lambda_k`` (MNE with ``adaptive=False``, ``low_bias=True``,
``normalization="length"``; the DC / Nyquist bins are divided by 2 as MNE does). All windows of a
time chunk go through one batched rfft; chunks bound memory.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

# Default chunk budget (bytes of tapered float data per chunk): small blocks stay in CPU cache
# (measured fastest on CPU around 0.5-2 MB, benchmarks/results/ingest.md); GPUs want large
# launches. Peak memory per chunk is about 3x the budget (tapered block + complex spectrum), far
# under the 2 GB bound.
CPU_CHUNK_BYTES = 1 * 2**20
GPU_CHUNK_BYTES = 256 * 2**20


@functools.lru_cache(maxsize=32)
def dpss_tapers(n_window: int, nw: float) -> tuple[np.ndarray, np.ndarray]:
    """DPSS tapers and concentration ratios as MNE picks them (low-bias: ratios > 0.9).

    Parameters
    ----------
    n_window : int
        Window length in samples.
    nw : float
        Time-half-bandwidth product.

    Returns
    -------
    tapers : np.ndarray, float64, (K, n_window)
    eigvals : np.ndarray, float64, (K,)
    """
    # imported here: scipy.signal takes ~1.5 s to import, and loading a model for text search
    # (the dashboard's background model load) needs no tapers
    from scipy.signal.windows import dpss

    tapers, ratios = dpss(n_window, nw, int(2 * nw), sym=False, norm=None, return_ratios=True)
    tapers = np.atleast_2d(tapers)
    ratios = np.atleast_1d(ratios)
    keep = ratios > 0.9
    if not keep.any():  # MNE keeps the lowest-bias taper
        keep = ratios == ratios.max()
    tapers, ratios = tapers[keep], ratios[keep]
    tapers.setflags(write=False)
    ratios.setflags(write=False)
    return tapers, ratios


@functools.lru_cache(maxsize=32)
def _scaled_tapers(n_window: int, nw: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Tapers times sqrt(2 lambda_k / sum lambda): power = sum_k |rfft(x * taper_k')|^2."""
    tapers, eig = dpss_tapers(n_window, nw)
    scaled = tapers * np.sqrt(2.0 * eig / eig.sum())[:, None]
    return torch.tensor(scaled, dtype=dtype, device=device)  # (K, n_window)


def n_windows(n_samples: int, n_window: int, n_step: int) -> int:
    """Number of full windows in ``n_samples`` (0 when shorter than one window)."""
    if n_samples < n_window:
        return 0
    return (n_samples - n_window) // n_step + 1


def multitaper_power(
    x: torch.Tensor,
    *,
    n_window: int,
    n_step: int,
    nw: float,
    freq_slice: slice,
    chunk_bytes: int | None = None,
) -> torch.Tensor:
    """Sliding-window multitaper power.

    Parameters
    ----------
    x : torch.Tensor
        float32 or float64, (..., samples); computed in its dtype on its device.
    n_window, n_step : int
        Window and hop in samples.
    nw : float
        Time-half-bandwidth product.
    freq_slice : slice
        rfft bins to keep.
    chunk_bytes : int, optional
        Bytes of tapered data per chunk of windows (default by device); results do not depend on it.

    Returns
    -------
    torch.Tensor
        (..., windows, freqs) power, MNE ``normalization="length"`` units.
    """
    lead = x.shape[:-1]
    n_samples = x.shape[-1]
    n_win = n_windows(n_samples, n_window, n_step)
    n_rfft = n_window // 2 + 1
    lo, hi = freq_slice.start, freq_slice.stop
    n_f = hi - lo
    dtype, device = x.dtype, x.device
    tapers = _scaled_tapers(n_window, float(nw), dtype, device)  # (K, n_window)
    # DC and Nyquist bins: MNE divides the one-sided spectrum there by sqrt(2) (power by 2).
    edge = [k for k in ((0, n_rfft - 1) if n_window % 2 == 0 else (0,)) if lo <= k < hi]
    out = torch.empty(*lead, n_win, n_f, dtype=dtype, device=device)
    if n_win == 0 or n_f == 0:
        return out
    xf = x.reshape(-1, n_samples)  # (rows, samples)
    rows = xf.shape[0]
    if chunk_bytes is None:
        chunk_bytes = GPU_CHUNK_BYTES if device.type == "cuda" else CPU_CHUNK_BYTES
    per_window = rows * tapers.shape[0] * n_window * x.element_size()
    chunk = max(1, int(chunk_bytes // max(per_window, 1)))
    out_f = out.reshape(rows, n_win, n_f)  # (rows, windows, freqs) view
    for w0 in range(0, n_win, chunk):
        w1 = min(n_win, w0 + chunk)
        seg = xf[:, w0 * n_step: (w1 - 1) * n_step + n_window]
        seg = seg.unfold(-1, n_window, n_step)  # (rows, chunk_windows, n_window) view
        seg = seg - seg.mean(-1, keepdim=True)  # remove DC per window, as MNE
        spec = torch.fft.rfft(seg.unsqueeze(-2) * tapers, dim=-1)[..., lo:hi]  # (rows, cw, K, freqs)
        power = spec.real.square() + spec.imag.square()  # (rows, cw, K, freqs)
        torch.sum(power, dim=-2, out=out_f[:, w0:w1])  # (rows, cw, freqs); one reduced axis is
        # ~3x faster on CPU than reducing over (K, re/im) of view_as_real at once
    for k in edge:
        out_f[..., k - lo] *= 0.5
    return out
