"""Polyphase resampling of many channels at once (the filter is designed by the caller,
:func:`clef.io.read.polyphase_taps`).

:func:`resample_channels` gives, for each channel, exactly what
``scipy.signal.resample_poly(row, up, down, window=("kaiser", 5.0), padtype="reflect")`` gives
for a float32 row (MNE's ``method="polyphase"`` filter): the same taps, the same reflected edges
and the same float32 products summed in the same order. The channels advance together through
one compiled loop over the output samples (numba), in blocks of time, instead of one
``upfirdn`` call per channel; ``tests/test_io.py`` checks the bits against SciPy.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

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
        Rate factors, reduced by their greatest common divisor.
    taps : np.ndarray
        The low-pass filter ``resample_poly`` designs for them:
        ``firwin(20 * max(up, down) + 1, 1 / max(up, down), window=("kaiser", 5.0))``
        (:func:`clef.io.read.polyphase_taps`).
    out : np.ndarray
        (rows, ceil(samples * up / down)) float32, written in place.
    out_rows : list of int, optional
        The row of ``out`` for each input row (default: the same order from row 0).
    """
    out_rows = list(range(len(rows))) if out_rows is None else list(out_rows)
    if math.gcd(up, down) != 1:
        raise ValueError(f"up={up} and down={down} must be reduced by their common divisor")
    n_in = len(rows[0])
    if up == down == 1:
        for r, row in zip(out_rows, rows, strict=True):
            out[r] = row
        return
    taps, per_phase, first, n_out = _design(taps, up, down, n_in)
    kernel = _compiled()
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


@lru_cache(maxsize=1)
def _compiled():
    """:func:`_polyphase` compiled by numba (cached on disk after the first process)."""
    import numba

    return numba.njit(cache=True, nogil=True)(_polyphase)
