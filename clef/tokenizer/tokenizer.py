"""`MultitaperTokenizer`: whole EEG sessions -> multitaper spectrogram -> 3-D patch tokens.

Pipeline per session (19 standard channels at ``config.sfreq``):

1. ``spectrogram``: DPSS multitaper power per sliding window, equal to MNE's
   ``psd_array_multitaper(adaptive=False, low_bias=True, normalization="length")`` on each window.
   Per window: remove the mean, multiply by K DPSS tapers, rfft, combine
   ``P = 2 * sum_k lambda_k |X_k|^2 / sum_k lambda_k`` (DC / Nyquist bins halved, as MNE).
   Computed with torch on the input's device, in the input's float precision (float64 stays
   float64, anything else float32), one batched rfft per memory-bounded time chunk.
2. ``volume``: optional pooling of ``freq_pool`` adjacent bins (mean power), then fixed log
   normalization (``TokenizerConfig`` docstring): ``(channels, windows, freqs)`` values.
3. ``tokenize``: 3-D patches (channel group x ``windows_per_patch`` windows x frequency band), see
   ``clef.tokenizer.patching``; a batch of sessions is padded to the longest, ``mask`` marks real
   tokens. ``untokenize`` inverts step 3 exactly.

Length handling. Windows start every ``step_s`` from the session start; the last window ends at most
one step (< ``step_s``) before the end of the recording, and that tail is not covered. Everything
else is represented: the last time patch is kept even when partial (its missing windows are
zero-filled, value 0; ``n_windows(n_samples)`` tells how many are real and
``untokenize(..., n_windows=)`` drops the fill). Sessions shorter than one token span
(``token_span_s``) raise ``clef.errors.TooShort``.

Above a model's context. The tokenizer never crops: a 24-hour session gives ~144k base tokens. Fitting
them into a model's context is the model's job: split by ``time_idx`` into context-sized chunks
(e.g. 2,048 tokens ~ 20 minutes), encode each, and pool the chunk embeddings (time indices are
absolute from the session start, so chunks keep their position).

CPU threads. The kernel uses torch's intra-op threads (``torch.set_num_threads``). When several
workers share the cores (Dask, parallel jobs), give each worker 1 thread: on an oversubscribed
2-core machine 1 thread was ~7x faster than 2 (OpenMP threads waiting on each other).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from clef.channels import STANDARD_CHANNELS
from clef.errors import BadSignal, InvalidRecording, TooFewChannels, TooShort
from clef.session import Session
from clef.tokenizer.config import TokenizerConfig
from clef.tokenizer.patching import PatchLayout, collate_tokens, patch, unpatch
from clef.tokens import Tokens

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
    # scipy.signal (~1.5 s to import) only here: loading a model for text search (the
    # dashboard's background model load) needs no tapers, and `clef embed`'s workers get them
    # made (clef.io.read.SIGNAL_DESIGNS)
    from clef.io.read import dpss_windows

    tapers, ratios = dpss_windows(n_window, nw)
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


def _n_windows(n_samples: int, n_window: int, n_step: int) -> int:
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
    n_win = _n_windows(n_samples, n_window, n_step)
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


def _name(session: Session) -> str:
    meta = session.meta or {}
    return str(meta.get("path") or meta.get("source") or meta.get("session_id") or "<session>")


class MultitaperTokenizer:
    """Multitaper spectrogram tokenizer.

    Parameters
    ----------
    config : TokenizerConfig, optional
        Defaults to ``TokenizerConfig.base()``.
    chunk_bytes : int, optional
        Bytes of tapered data per time chunk (default: about 1 MB on CPU, 256 MB on GPU). Results
        do not depend on it; it only bounds memory.
    progress : bool
        tqdm bar over sessions when tokenizing lists.
    """

    def __init__(self, config: TokenizerConfig | None = None, *, chunk_bytes: int | None = None,
                 progress: bool = False):
        self.config = config if config is not None else TokenizerConfig.base()
        self.layout = PatchLayout.from_config(self.config)
        self.chunk_bytes = chunk_bytes
        self.progress = progress

    def __repr__(self) -> str:
        c = self.config
        return (f"MultitaperTokenizer({c.channel_groups}={self.n_regions}, time_patch={self.time_patch_s:g}s, "
                f"bands={self.n_bands}, patch_dim={self.patch_dim}, hash={c.hash()})")

    # ---- sizes ------------------------------------------------------------------------------
    @property
    def patch_dim(self) -> int:
        """Values per token: group channels x windows per patch x bins per band."""
        return self.layout.patch_dim

    @property
    def n_regions(self) -> int:
        """Channel groups (5 regions, or 19 channels)."""
        return self.layout.n_groups

    @property
    def region_names(self) -> tuple[str, ...]:
        """Names of the channel groups, in token order."""
        return self.layout.group_names

    @property
    def n_bands(self) -> int:
        """Frequency bands per token (each pools ``config.bins_per_band`` frequency bins)."""
        return self.layout.n_bands

    @property
    def time_patch_s(self) -> float:
        """Seconds between consecutive time patches."""
        return self.config.windows_per_patch * self.config.n_step / self.config.sfreq

    @property
    def token_span_s(self) -> float:
        """Seconds of signal under one time patch (the minimum session length)."""
        c = self.config
        return ((c.windows_per_patch - 1) * c.n_step + c.n_window) / c.sfreq

    @property
    def valid(self) -> torch.Tensor:
        """bool (regions, bands, patch_dim): positions holding real channels/bins (not padding)."""
        return self.layout.valid()

    @property
    def freqs(self) -> np.ndarray:
        """Frequencies (Hz) of ``spectrogram``'s last axis."""
        c = self.config
        return np.fft.rfftfreq(c.n_window, 1.0 / c.sfreq)[c.freq_slice]

    @property
    def volume_freqs(self) -> np.ndarray:
        """Frequencies (Hz) of ``volume`` / ``untokenize`` (mean of each pooled group)."""
        f, p = self.freqs, int(self.config.freq_pool)
        return np.array([f[i: i + p].mean() for i in range(0, len(f), p)])

    def n_windows(self, n_samples: int) -> int:
        """Spectrogram windows for a recording of ``n_samples``."""
        return _n_windows(int(n_samples), self.config.n_window, self.config.n_step)

    def times(self, n_windows: int) -> np.ndarray:
        """Window centres in seconds from the session start."""
        c = self.config
        return (np.arange(n_windows) * c.n_step + c.n_window / 2) / c.sfreq

    def n_tokens(self, duration_s: float) -> int:
        """Tokens for a session of ``duration_s`` (0 when shorter than ``token_span_s``)."""
        n_samples = round(duration_s * self.config.sfreq)
        if n_samples < round(self.token_span_s * self.config.sfreq):
            return 0
        return self.layout.n_tokens(self.n_windows(n_samples))

    # ---- input handling ---------------------------------------------------------------------
    def _check_sfreq(self, sfreq, name) -> None:
        if sfreq is not None and abs(float(sfreq) - self.config.sfreq) > 1e-6:
            raise InvalidRecording(
                name, f"sampling rate is {float(sfreq):g} Hz but the tokenizer expects "
                      f"{self.config.sfreq:g} Hz",
                f"resample first with clef.io.preprocess(session, sfreq={self.config.sfreq:g}) "
                f"(or clef.io.read_session(path, sfreq={self.config.sfreq:g})), or build the "
                f"tokenizer with TokenizerConfig(sfreq=...)")

    @staticmethod
    def _to_tensor(x, device=None) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"expected a numpy array, torch tensor or Session, got {type(x).__name__}")
        if t.dtype not in (torch.float32, torch.float64):
            t = t.to(torch.float32)
        return t.to(device) if device is not None else t

    def _session_tensor(self, session: Session, device=None) -> torch.Tensor:
        name = _name(session)
        self._check_sfreq(session.sfreq, name)
        pos = {ch: i for i, ch in enumerate(session.ch_names)}
        missing = [ch for ch in STANDARD_CHANNELS if ch not in pos]
        if missing:
            raise TooFewChannels(
                name, f"missing standard channels {missing} (has {list(session.ch_names)[:8]}...)",
                "read it with clef.io.read_session(path) or clef.io.preprocess(session, "
                "montage='average'), which harmonize to the 19 standard channels")
        order = [pos[ch] for ch in STANDARD_CHANNELS]
        data = np.asarray(session.data)
        if order != list(range(len(order))) or data.shape[0] != len(order):
            data = data[order]
        return self._to_tensor(data, device)

    # ---- spectrogram ------------------------------------------------------------------------
    def spectrogram(self, x, *, sfreq: float | None = None):
        """Multitaper power of every window.

        Parameters
        ----------
        x : np.ndarray or torch.Tensor
            (channels, samples) or (batch, channels, samples), volts, at ``config.sfreq``.
        sfreq : float, optional
            The input's rate, checked against ``config.sfreq``.

        Returns
        -------
        np.ndarray or torch.Tensor (same type and device as ``x``)
            (channels, windows, freqs) or (batch, channels, windows, freqs); MNE
            ``normalization="length"`` power, float64 for float64 input else float32.
        """
        self._check_sfreq(sfreq, "<array>")
        was_numpy = isinstance(x, np.ndarray)
        t = self._to_tensor(x)
        if t.ndim not in (2, 3):
            raise ValueError(f"spectrogram expects (channels, samples) or (batch, channels, samples), "
                             f"got shape {tuple(t.shape)}")
        c = self.config
        power = multitaper_power(t, n_window=c.n_window, n_step=c.n_step, nw=c.nw,
                                 freq_slice=c.freq_slice, chunk_bytes=self.chunk_bytes)
        return power.cpu().numpy() if was_numpy else power

    def _pool(self, power: torch.Tensor) -> torch.Tensor:
        p = int(self.config.freq_pool)
        if p == 1:
            return power
        n_f = power.shape[-1]
        n_out = -(-n_f // p)
        padded = power.new_zeros(*power.shape[:-1], n_out * p)
        padded[..., :n_f] = power
        counts = torch.full((n_out,), float(p), dtype=power.dtype, device=power.device)
        counts[-1] = n_f - (n_out - 1) * p
        # (..., freqs) -> (..., groups, p): mean power over the real bins of each group
        return padded.reshape(*power.shape[:-1], n_out, p).sum(-1) / counts

    def normalize(self, power: torch.Tensor) -> torch.Tensor:
        """Fixed log normalization of (pooled) power, in place; see ``TokenizerConfig``."""
        c = self.config
        out = power.div_(c.sfreq * c.db_ref).log10_().mul_(10.0)  # dB re db_ref (V^2/Hz)
        return out.clamp_(min=c.floor_db).div_(c.db_scale)

    def to_power(self, volume: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`normalize` (exact except where the floor clamped)."""
        c = self.config
        return torch.pow(10.0, volume * (c.db_scale / 10.0)) * (c.sfreq * c.db_ref)

    def volume(self, x, *, sfreq: float | None = None) -> torch.Tensor:
        """The normalized volume that is tokenized.

        Parameters
        ----------
        x : np.ndarray, torch.Tensor or Session
            (channels, samples) or (batch, channels, samples).

        Returns
        -------
        torch.Tensor
            float32, (channels, windows, freqs) or (batch, channels, windows, freqs), on ``x``'s
            device; freqs are ``volume_freqs``.
        """
        if isinstance(x, Session):
            t = self._session_tensor(x)
        else:
            self._check_sfreq(sfreq, "<array>")
            t = self._to_tensor(x)
        c = self.config
        power = multitaper_power(t, n_window=c.n_window, n_step=c.n_step, nw=c.nw,
                                 freq_slice=c.freq_slice, chunk_bytes=self.chunk_bytes)
        return self.normalize(self._pool(power).to(torch.float32))

    # ---- tokens -----------------------------------------------------------------------------
    def _check_session(self, t: torch.Tensor, name: str) -> None:
        n_ch = len(STANDARD_CHANNELS)
        if t.shape[-2] != n_ch:
            raise TooFewChannels(
                name, f"has {t.shape[-2]} channels; tokenize expects the {n_ch} standard channels "
                      "in clef.channels.STANDARD_CHANNELS order",
                "pass a Session from clef.io.read_session / clef.io.preprocess, or reorder the array")
        span = self.token_span_s
        n_span = round(span * self.config.sfreq)
        if t.shape[-1] < n_span:
            raise TooShort(
                name, f"is {t.shape[-1] / self.config.sfreq:.2f} s long, shorter than one token span "
                      f"({span:g} s = {self.config.windows_per_patch} windows of "
                      f"{self.config.window_s:g} s every {self.config.step_s:g} s)",
                f"use recordings of at least {span:g} s, or a TokenizerConfig with a smaller "
                "windows_per_patch")
        # A sum is finite unless a sample is NaN/Inf (or it overflows, which the exact check then
        # rules out): 20x cheaper than isfinite over every sample on the common, clean path.
        if not torch.isfinite(t.sum()) and not bool(torch.isfinite(t).all()):
            raise BadSignal(name, "contains NaN or Inf samples",
                            "fix or drop the bad segment (clef.io.read_session rejects these)")

    def _tokens_of(self, t: torch.Tensor, name: str) -> Tokens:
        """(channels, samples) or (batch, channels, samples) tensor -> Tokens (no padding)."""
        self._check_session(t, name)
        vol = self.volume(t)
        vol = vol.unsqueeze(0) if vol.ndim == 3 else vol  # (batch, channels, windows, freqs)
        values, t_idx, r_idx, b_idx = patch(vol, self.layout)  # (batch, n_tokens, patch_dim)
        b, n = values.shape[:2]
        return Tokens(values, t_idx.expand(b, n).contiguous(), r_idx.expand(b, n).contiguous(),
                      b_idx.expand(b, n).contiguous(),
                      torch.ones(b, n, dtype=torch.bool, device=values.device), self.time_patch_s)

    def tokenize(self, x, *, sfreq: float | None = None, device=None,
                 progress: bool | None = None) -> Tokens:
        """Tokenize one or many sessions.

        Parameters
        ----------
        x : array, tensor, Session, or list of them
            (channels, samples) or (batch, channels, samples) with the 19 standard channels in
            ``STANDARD_CHANNELS`` order at ``config.sfreq``; Sessions are reordered by name.
            A list may hold sessions of different lengths.
        sfreq : float, optional
            Rate of array inputs, checked against ``config.sfreq``.
        device : str or torch.device, optional
            Compute device (default: where the input is; numpy -> CPU).
        progress : bool, optional
            tqdm bar over list items (default: the tokenizer's ``progress``).

        Returns
        -------
        Tokens
            Padded batch, ``mask`` True on real tokens.

        Raises
        ------
        TooShort, TooFewChannels, BadSignal, InvalidRecording (wrong sampling rate)
        """
        self._check_sfreq(sfreq, "<array>")
        if isinstance(x, (list, tuple)):
            if not x:
                raise ValueError("tokenize: empty list; pass at least one session")
            seq: Sequence = x
            show = self.progress if progress is None else progress
            if show:
                from tqdm.auto import tqdm

                seq = tqdm(x, desc="tokenize", unit="session")
            parts = []
            for i, item in enumerate(seq):
                if isinstance(item, Session):
                    parts.append(self._tokens_of(self._session_tensor(item, device), _name(item)))
                else:
                    t = self._to_tensor(item, device)
                    if t.ndim != 2:
                        raise ValueError(f"tokenize: list item {i} has shape {tuple(t.shape)}; "
                                         "expected (channels, samples)")
                    parts.append(self._tokens_of(t, f"<array {i}>"))
            return collate_tokens(parts) if len(parts) > 1 else parts[0]
        if isinstance(x, Session):
            return self._tokens_of(self._session_tensor(x, device), _name(x))
        t = self._to_tensor(x, device)
        if t.ndim not in (2, 3):
            raise ValueError(f"tokenize expects (channels, samples) or (batch, channels, samples), "
                             f"got shape {tuple(t.shape)}")
        return self._tokens_of(t, "<array>")

    def untokenize(self, tokens: Tokens, session_index: int = 0, *,
                   n_windows: int | None = None) -> torch.Tensor:
        """Rebuild one session's volume from its tokens (exact inverse of the patching).

        Parameters
        ----------
        tokens : Tokens
        session_index : int
            Which session of the batch.
        n_windows : int, optional
            Real window count (``n_windows(n_samples)``) to drop the last patch's zero padding;
            default keeps whole time patches.

        Returns
        -------
        torch.Tensor
            float32, (channels, windows, freqs), equal to ``volume(x)`` of that session.
        """
        if tokens.values.shape[-1] != self.patch_dim:
            raise ValueError(f"tokens have patch_dim {tokens.values.shape[-1]} but this tokenizer's is "
                             f"{self.patch_dim}; use the tokenizer (config) that made them")
        m = tokens.mask[session_index]
        return unpatch(tokens.values[session_index][m], tokens.time_idx[session_index][m],
                       tokens.region_idx[session_index][m], tokens.band_idx[session_index][m],
                       self.layout, n_windows)
