"""The compiled signal kernels of :mod:`clef.io.read`, each bit for bit its SciPy counterpart
with the channels advancing together (designs come from the caller: ``clef.io.read``).

:func:`filter_channels`: zero-phase IIR filtering, ``scipy.signal.sosfiltfilt`` per row.

:func:`resample_channels` gives, for each channel, exactly what
``scipy.signal.resample_poly(row, up, down, window=("kaiser", 5.0), padtype="reflect")`` gives
for a float32 row (MNE's ``method="polyphase"`` filter): the same taps, the same reflected edges
and the same float32 products summed in the same order. The channels advance together through
one compiled loop over the output samples (numba), in blocks of time, instead of one
``upfirdn`` call per channel; ``tests/test_io.py`` checks the bits against SciPy.
"""
from __future__ import annotations

import math
from functools import cache

import numpy as np

_FILTER_CHANNELS = 4  # channels filtered together: 4 MB of float64 per 10 min (19: 10% faster)
_BLOCK_OUT = 1 << 14  # output samples per block: (block inputs, channels) float32 temporaries


def _design(taps: np.ndarray, up: int, down: int, n_in: int) -> tuple[np.ndarray, int, int, int]:
    """(flipped polyphase taps float32, taps per phase, first kept output, outputs kept), from
    the low-pass ``taps`` (2 * 10 * max(up, down) + 1 of them), as ``resample_poly`` pads them."""
    half_len = (len(taps) - 1) // 2
    h = np.asarray(taps).astype(np.float32)
    h *= up
    n_out = -(-n_in * up // down)
    pre = down - half_len % down
    first = (half_len + pre) // down
    post = 0
    while _output_len(len(h) + pre + post, n_in, up, down) < n_out + first:
        post += 1
    h = np.concatenate([np.zeros(pre, np.float32), h, np.zeros(post, np.float32)])
    padded = np.zeros(len(h) + (-len(h) % up), np.float32)
    padded[:len(h)] = h
    flipped = np.ascontiguousarray(padded.reshape(-1, up).T[:, ::-1].ravel())  # phase-major
    return flipped, len(padded) // up, first, n_out


def _output_len(len_h: int, n_in: int, up: int, down: int) -> int:
    return ((n_in - 1) * up + len_h - 1) // down + 1


def _reflect(idx: np.ndarray, n: int) -> np.ndarray:
    """Indices into a length-``n`` signal for ``idx`` (any integers), reflected at both ends
    without repeating the edge sample (``3 2 | 1 2 3 | 2 1``)."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    j = np.mod(idx, period)
    return np.where(j < n, j, period - j)


def resample_channels(rows: list[np.ndarray], up: int, down: int, taps: np.ndarray,
                      out: np.ndarray, out_rows: list[int] | None = None) -> None:
    """Resample each row by ``up / down`` into rows of ``out``.

    Parameters
    ----------
    rows : list of np.ndarray
        (samples,) float32 each, all the same length.
    up, down : int
        Rate factors, different and reduced by their greatest common divisor.
    taps : np.ndarray
        The low-pass filter ``resample_poly`` designs for them:
        ``firwin(20 * max(up, down) + 1, 1 / max(up, down), window=("kaiser", 5.0))``
        (:func:`clef.io.read.polyphase_taps`).
    out : np.ndarray
        (rows, ceil(samples * up / down)) float32, written in place.
    out_rows : list of int, optional
        The row of ``out`` for each input row (default: the same order from row 0).
    """
    if up == down or math.gcd(up, down) != 1:
        raise ValueError(f"up={up} and down={down} must differ and be reduced by their common "
                         "divisor")
    out_rows = list(range(len(rows))) if out_rows is None else list(out_rows)
    n_in = len(rows[0])
    taps, per_phase, first, n_out = _design(taps, up, down, n_in)
    kernel = _compiled(_polyphase)
    targets = np.asarray(out_rows, dtype=np.int64)
    for a in range(0, n_out, _BLOCK_OUT):
        b = min(n_out, a + _BLOCK_OUT)
        lo = (first + a) * down // up - per_phase + 1  # first input sample the block needs
        hi = (first + b - 1) * down // up + 1
        idx = _reflect(np.arange(lo, hi), n_in) if lo < 0 or hi > n_in else slice(lo, hi)
        # (inputs, channels): rows stacked, then one transposed copy (faster than column writes)
        block = np.ascontiguousarray(np.stack([row[idx] for row in rows]).T)
        kernel(block, lo, taps, per_phase, up, down, first + a, out, targets, a, b - a)


def _polyphase(block, lo, taps, per_phase, up, down, y0, out, targets, col0, n) -> None:
    """``out[targets[c], col0 + j] = sum_k x_c[i - per_phase + 1 + k] * taps[t * per_phase + k]``
    for output ``y0 + j`` (``i, t = divmod((y0 + j) * down, up)``), in float32, ``k`` ascending:
    SciPy's ``upfirdn`` order. ``block`` holds inputs ``lo ...`` as (inputs, channels): the
    channels' sums advance together (one per channel in flight at once)."""
    c = block.shape[1]
    acc = np.empty(c, np.float32)
    for j in range(n):
        i, t = divmod((y0 + j) * down, up)
        base = i - per_phase + 1 - lo
        h0 = t * per_phase
        for ch in range(c):
            acc[ch] = 0.0
        for k in range(per_phase):
            hk = taps[h0 + k]
            for ch in range(c):
                acc[ch] = acc[ch] + block[base + k, ch] * hk
        for ch in range(c):
            out[targets[ch], col0 + j] = acc[ch]


def filter_channels(data: np.ndarray, sos: np.ndarray, zi: np.ndarray) -> None:
    """Zero-phase IIR filtering of each row in place. data: (channels, samples) float32; ``sos``
    (sections, 6) and ``zi`` (sections, 2) from :func:`clef.io.read.filter_design`.

    Bit for bit ``scipy.signal.sosfiltfilt(sos, row, padlen=...)`` per row, with the channels
    advancing together in one compiled loop: 2x faster than scipy's one channel at a time."""
    pad = min(data.shape[1] - 1, 3 * (2 * len(sos) + 1) * 50)
    for s in range(0, data.shape[0], _FILTER_CHANNELS):  # bounds the float64 temporaries
        block = data[s:s + _FILTER_CHANNELS]  # (channels, samples) view
        n = block.shape[1]
        cols = np.empty((n + 2 * pad, block.shape[0]))  # (pad + samples + pad, channels) float64
        cols[pad:pad + n] = block.T  # the ends: scipy's odd extension, in the input's dtype
        cols[:pad] = (2 * block[:, :1] - block[:, pad:0:-1]).T
        cols[pad + n:] = (2 * block[:, -1:] - block[:, -2:-(pad + 2):-1]).T
        _compiled(_filtfilt_columns)(sos, zi, cols)
        block[:] = cols[pad:pad + n].T
        del cols  # before the next block's is allocated


def _filtfilt_columns(sos, zi, y) -> None:
    """Forward then backward SOS filtering of each column of ``y`` (samples, signals) in place:
    scipy's ``_sosfilt`` recursion, same operations in the same order; ``zi`` (sections, 2) is
    ``sosfilt_zi(sos)``, scaled by each pass's first sample. Compiled by numba when called."""
    n, c = y.shape
    z = np.empty((sos.shape[0], 2, c))  # (sections, 2, signals) filter state
    for backward in range(2):
        first = n - 1 if backward else 0
        for s in range(sos.shape[0]):
            for k in range(c):
                z[s, 0, k] = zi[s, 0] * y[first, k]
                z[s, 1, k] = zi[s, 1] * y[first, k]
        for j in range(n):
            i = n - 1 - j if backward else j
            for s in range(sos.shape[0]):
                b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
                for k in range(c):
                    x_cur = y[i, k]
                    x_new = b0 * x_cur + z[s, 0, k]
                    z[s, 0, k] = b1 * x_cur - a1 * x_new + z[s, 1, k]
                    z[s, 1, k] = b2 * x_cur - a2 * x_new
                    y[i, k] = x_new


@cache
def _compiled(kernel):
    """``kernel`` compiled by numba on first use (cached on disk after the first process)."""
    import numba

    return numba.njit(cache=True, nogil=True)(kernel)
