"""Spectrogram thumbnails: a session's channel-mean spectrogram, coarse and 8-bit.

``clef embed`` makes one per session from its tokens (no second pass over the recording) and
keeps them in the store (:class:`clef.store.EmbeddingStore`), so a list of sessions (the
dashboard's similar sessions) shows each one's spectrogram without reading or regenerating its
signals: ~5 ms per thumbnail instead of ~0.2-0.5 s.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THUMB_TIMES = 64  # columns: time bins over the session (30 x 64 bytes per session by default)
THUMB_FMAX = 30.0  # Hz: highest frequency row, as the dashboard's spectrograms
DB_REF = 1e-12  # V^2/Hz: 0 dB = 1 µV^2/Hz, as clef.explore.to_db


@dataclass(frozen=True)
class Thumbnail:
    """One session's thumbnail.

    Attributes
    ----------
    image : np.ndarray
        uint8, (n_freqs, n_times): rows ascending in frequency; 0..255 spans ``db_lo..db_hi``
        (the session's 2nd and 98th percentiles, clipped outside).
    freqs : np.ndarray
        (n_freqs,) Hz of the rows.
    span_s : float
        Time of the last spectrogram window's centre (the image spans 0..span_s).
    db_lo, db_hi : float
        dB re 1 µV²/Hz at pixel values 0 and 255.
    """

    image: np.ndarray  # (n_freqs, n_times) uint8
    freqs: np.ndarray  # (n_freqs,)
    span_s: float
    db_lo: float
    db_hi: float


def _time_bins(power: np.ndarray, n_times: int) -> np.ndarray:
    """(windows, freqs) -> (n_times, freqs): mean power per equal time bin (a window repeated
    when there are fewer windows than bins)."""
    n = power.shape[0]
    starts = np.floor(np.linspace(0, n, n_times + 1)[:-1]).astype(np.int64)  # (n_times,)
    sums = np.add.reduceat(power, starts, axis=0)
    ends = np.append(starts[1:], n)
    counts = np.where(ends > starts, ends - starts, 1)  # repeated start: reduceat gives one row
    return sums / counts[:, None]


def to_u8(db: np.ndarray) -> tuple[np.ndarray, float, float]:
    """dB values as 0..255 between their 2nd and 98th percentiles (NaN -> 0), with those two."""
    lo, hi = (float(v) for v in np.nanpercentile(db, [2, 98]))
    u = np.nan_to_num(np.clip((np.asarray(db, float) - lo) / max(hi - lo, 1e-6), 0.0, 1.0))
    return (u * 255).round().astype(np.uint8), lo, hi


def thumbnail(density: np.ndarray, freqs: np.ndarray, span_s: float, *,
              n_times: int = THUMB_TIMES, fmax: float = THUMB_FMAX) -> Thumbnail:
    """The thumbnail of a per-channel spectrogram.

    Parameters
    ----------
    density : np.ndarray
        (channels, windows, freqs) power spectral density, V²/Hz.
    freqs : np.ndarray
        (freqs,) Hz.
    span_s : float
        Centre time of the last window (s).
    n_times : int
        Image columns.
    fmax : float
        Highest frequency kept (Hz).

    Returns
    -------
    Thumbnail
    """
    density = np.asarray(density, dtype=np.float64)
    if density.ndim != 3 or not density.shape[1] or not density.shape[2]:
        raise ValueError(f"density must be (channels, windows, freqs), got {density.shape}")
    keep = np.asarray(freqs) <= fmax
    mean = _time_bins(density[:, :, keep].mean(axis=0), n_times)  # (n_times, n_freqs)
    db = 10 * np.log10(np.maximum(mean, 1e-30) / DB_REF).T  # (n_freqs, n_times)
    image, lo, hi = to_u8(db)
    return Thumbnail(image, np.asarray(freqs)[keep].astype(np.float32), float(span_s), lo, hi)


def tokens_thumbnail(tokenizer, tokens, session_index: int = 0, **kwargs) -> Thumbnail | None:
    """The thumbnail of one tokenized session, from its tokens alone.

    Parameters
    ----------
    tokenizer : clef.tokenizer.MultitaperTokenizer
        The tokenizer that made ``tokens``.
    tokens : clef.tokens.Tokens
    session_index : int
        Which session of the batch.
    **kwargs
        ``n_times``, ``fmax`` of :func:`thumbnail`.

    Returns
    -------
    Thumbnail or None
        None for tokens that do not hold the spectrogram (a learned VQ tokenizer's codes).
    """
    if tokens.codes is not None:
        return None
    vol = tokenizer.untokenize(tokens, session_index)  # (channels, windows, freqs), normalized
    real = (vol != 0).any(dim=2).any(dim=0)  # (windows,)
    n = int(real.nonzero().max()) + 1 if bool(real.any()) else 0  # drop the last patch's padding
    if n == 0:
        return None
    sfreq = float(tokenizer.config.sfreq)
    density = (tokenizer.to_power(vol[:, :n]) / sfreq).double().numpy()  # V^2/Hz
    return thumbnail(density, tokenizer.volume_freqs, float(tokenizer.times(n)[-1]), **kwargs)


def pack(thumbnails: list[Thumbnail | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Thumbnails as arrays to store: ``images`` (N, F, T) uint8, ``info`` (N, 3) float32
    (span_s, db_lo, db_hi; NaN where a session has none) and ``freqs`` (F,); None when all are
    None. They must share one shape and frequency rows (one tokenizer, the same defaults)."""
    given = [t for t in thumbnails if t is not None]
    if not given:
        return None
    shape, freqs = given[0].image.shape, given[0].freqs
    if any(t.image.shape != shape or not np.array_equal(t.freqs, freqs) for t in given):
        raise ValueError("thumbnails differ in shape or frequency rows; make them with one "
                         "tokenizer and clef.thumbnails defaults")
    images = np.zeros((len(thumbnails), *shape), np.uint8)  # (N, F, T)
    info = np.full((len(thumbnails), 3), np.nan, np.float32)  # (N, 3)
    for i, t in enumerate(thumbnails):
        if t is not None:
            images[i], info[i] = t.image, (t.span_s, t.db_lo, t.db_hi)
    return images, info, np.asarray(freqs, np.float32)


def unpack(images: np.ndarray, info: np.ndarray, freqs: np.ndarray) -> list[Thumbnail | None]:
    """The inverse of :func:`pack`."""
    return [Thumbnail(np.asarray(images[i]), np.asarray(freqs, np.float32),
                      *(float(v) for v in info[i])) if np.isfinite(info[i, 0]) else None
            for i in range(len(info))]
