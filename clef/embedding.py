"""The one embedding path: recording or Session -> tokens -> encoder -> unit-norm embedding.

``clef embed`` (:mod:`clef.embed`), the probe (:mod:`clef.probe.representations`), the dashboard
upload and ``SessionIndex.by_recording`` all embed sessions through :func:`embed_sessions` (one
model) or :func:`embed_sessions_shared` (several models fed one tokenization); :func:`embed`
raises instead of isolating failures, and :func:`embed_recording` reads a file first.

The unit-norm invariant
-----------------------
Every session embedding clef produces is float32 with unit L2 norm: rows of :func:`embed_sessions`
(``CLEFModel.encode_eeg(normalize=True)``), per-time-patch window embeddings, text query vectors.
Stores, indexes and maps hold such rows (a store's manifest says ``"normalized": true``) and check
them with :func:`check_unit_norm` (tolerance :data:`UNIT_NORM_ATOL`) instead of normalising again;
only inputs that are not embeddings (an arbitrary query direction, float16-rounded map anchors, a
sum of vectors) are scaled with :func:`unit_normalize`, the one normaliser.

This module imports torch, the tokenizer and ``clef.io`` lazily, so the check helpers are cheap to
import from the store, index and map modules.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from clef.errors import NotUnitNorm

UNIT_NORM_ATOL = 1e-3  # |norm - 1| allowed by check_unit_norm (float16 window states: ~1e-3)

__all__ = [
    "UNIT_NORM_ATOL", "check_unit_norm", "embed", "embed_recording", "embed_sessions",
    "embed_sessions_shared", "model_input", "tokenizer_sfreq", "unit_normalize",
]


# ----------------------------------------------------------------------------------------------
# the unit-norm invariant


def unit_normalize(x, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit L2 norm, float32 (zero rows stay zero).

    Parameters
    ----------
    x : array (..., D)
    eps : float
        Norms below this are treated as ``eps`` (so zero rows stay zero).

    Returns
    -------
    np.ndarray
        float32, same shape.
    """
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)  # (..., 1)
    return (x / np.maximum(norms, eps)).astype(np.float32, copy=False)


def check_unit_norm(x, what: str, *, atol: float = UNIT_NORM_ATOL) -> np.ndarray:
    """Assert that every (finite) row of ``x`` has unit L2 norm; return ``x`` as float32.

    Parameters
    ----------
    x : array (n, D) or (D,)
    what : str
        What the rows are, for the message (e.g. ``"store /data/st embeddings"``).
    atol : float
        Allowed ``|norm - 1|``.

    Returns
    -------
    np.ndarray
        ``x`` as float32 (not copied when it already is).

    Raises
    ------
    clef.errors.NotUnitNorm
        A row's norm is off by more than ``atol`` (rows of NaN, e.g. failed sessions, are
        skipped).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return x
    norms = np.linalg.norm(x.reshape(-1, x.shape[-1]), axis=1)  # (n,)
    norms = norms[np.isfinite(norms)]
    if not np.allclose(norms, 1.0, atol=atol):
        bad = int(np.argmax(np.abs(norms - 1.0)))
        raise NotUnitNorm(
            f"{what}: row norms must be 1 (+-{atol}) but one is {norms[bad]:.6g}. Fix: make "
            "embeddings with clef.embedding.embed_sessions (unit norm), or scale arbitrary vectors "
            "with clef.embedding.unit_normalize first.")
    return x


# ----------------------------------------------------------------------------------------------
# model input


def tokenizer_sfreq(model) -> float:
    """Sampling rate (Hz) the model's tokenizer expects."""
    return float(getattr(model.tokenizer.config, "sfreq", 200.0))


def model_input(model, s) -> np.ndarray:
    """A Session (any rate/channel set) or array -> (19, samples) float32 at the tokenizer rate.

    Sessions not already at the tokenizer's rate on the 19 standard channels go through
    :func:`clef.io.preprocess`; arrays must already be (19, samples) at that rate.

    Raises
    ------
    ValueError
        An array that is not 2-D.
    clef.errors.InvalidRecording
        ``clef.io.preprocess`` cannot use the session.
    """
    from clef.channels import STANDARD_CHANNELS
    from clef.session import Session

    if isinstance(s, Session):
        sfreq = tokenizer_sfreq(model)
        if abs(s.sfreq - sfreq) > 1e-6 or list(s.ch_names) != list(STANDARD_CHANNELS):
            from clef.io import preprocess

            s = preprocess(s, sfreq=sfreq)
        return np.asarray(s.data, np.float32)  # (19, samples)
    a = np.asarray(s, np.float32)
    if a.ndim != 2:
        raise ValueError(f"session array has shape {a.shape}; expected (channels, samples). "
                         "Fix: pass clef.session.Session objects or 2-D arrays.")
    return a


def _length(item) -> int:
    """Sort key: samples of an array, real tokens of a cached Tokens."""
    from clef.tokens import Tokens

    return int(item.mask.sum()) if isinstance(item, Tokens) else int(item.shape[-1])


# ----------------------------------------------------------------------------------------------
# encoding


def _window_embeddings(model, tokens, states) -> list[np.ndarray]:
    """Per-time-patch embeddings of each session, projected into the shared space and
    unit-normalised. -> list of (W_i, D) float32.

    Session pool: the mean token state per time index. Region pool: the model's own region
    attention pool restricted to each time index (one query per window x region), so a window's
    vector keeps sides exactly like the session vector does."""
    import torch

    out = []
    by_region = getattr(model.config, "eeg_pool", "session") != "session"
    for b in range(tokens.batch_size):
        m = tokens.mask[b]  # (N,)
        t = tokens.time_idx[b][m]  # (n_real,)
        s = states[b][m].float()  # (n_real, d_model)
        n_win = int(t.max().item()) + 1 if len(t) else 0
        if by_region:
            pooled = _pooled_windows(model.eeg.pool, s, t, tokens.region_idx[b][m], n_win)
        else:
            pooled = torch.zeros(n_win, s.shape[-1], dtype=s.dtype, device=s.device)
            pooled.index_add_(0, t, s)  # (W, d_model)
            pooled = pooled / torch.bincount(t, minlength=n_win).clamp_min(1)[:, None]
        if getattr(model.config, "eeg_output", "shared") != "mean":
            pooled = model.eeg_proj(pooled)  # (W, embed_dim)
        out.append(unit_normalize(pooled.detach().cpu().numpy()))
    return out


def _pooled_windows(pool, s, t, r, n_win: int):
    """The model's attention pool restricted to each time index, all windows in one pass.
    s (n, d), t (n,), r (n,) -> (W, Q * d)."""
    import torch

    qm = pool.query_masks(torch.ones_like(t, dtype=torch.bool)[None], r[None])[0]  # (Q, n)
    Q = qm.shape[0]
    win = t[None, :] == torch.arange(n_win, device=s.device)[:, None]  # (W, n)
    masks = (win[:, None, :] & qm[None]).reshape(1, n_win * Q, -1)  # (1, W*Q, n)
    q_idx = torch.arange(Q, device=s.device).repeat(n_win)  # (W*Q,)
    v = pool.attend(s[None], masks, q_idx)[0] * masks[0].any(-1, keepdim=True)  # (W*Q, d)
    return v.reshape(n_win, Q * s.shape[-1])


def _encode(models: Mapping, items: list, states: bool) -> dict:
    """Tokenize ``items`` once (or collate cached Tokens) and encode with every model.

    Returns ``{name: (z (B, D) float32 unit rows, windows list or None)}``.
    """
    from clef.tokenizer import collate_tokens
    from clef.tokens import Tokens

    first = next(iter(models.values()))
    if all(isinstance(a, Tokens) for a in items):
        tokens = collate_tokens(items)
    else:
        tokens = first.tokenizer.tokenize(items)  # (B, N) tokens + indices + mask
    out = {}
    for name, m in models.items():
        if states:
            z, st = m.encode_eeg(tokens, normalize=True, return_states=True)  # (B, D), (B, N, d)
            out[name] = (z.float().cpu().numpy(), _window_embeddings(m, tokens, st))
        else:
            out[name] = (m.encode_eeg(tokens, normalize=True).float().cpu().numpy(), None)
    return out


def _embed_many(models: Mapping, sessions: Sequence, *, batch_size: int, states: bool,
                catch: type[BaseException] | tuple, progress: bool):
    """The shared loop: prepare, batch by length, encode, isolate failures.

    Returns ``(vectors {name: (n, D) float32, NaN rows for failures}, windows {name: list} or
    None, errors {index: exception})``.
    """
    import torch
    from tqdm.auto import tqdm

    from clef.tokens import Tokens

    first = next(iter(models.values()))
    errors: dict[int, BaseException] = {}
    items: dict[int, object] = {}
    for i, s in enumerate(sessions):
        try:
            items[i] = s if isinstance(s, Tokens) else model_input(first, s)
        except catch as e:  # recorded per session, reported by the caller
            errors[i] = e
    ok = sorted(items, key=lambda i: _length(items[i]))  # similar lengths together: less padding
    vectors = {n: np.full((len(sessions), m.eeg_dim), np.nan, np.float32)
               for n, m in models.items()}
    windows = {n: [None] * len(sessions) for n in models} if states else None
    was_training = {n: m.training for n, m in models.items()}
    for m in models.values():
        m.eval()
    try:
        with torch.inference_mode():
            starts = range(0, len(ok), batch_size)
            for start in tqdm(starts, disable=not progress, desc="embed", unit="batch"):
                idx = ok[start:start + batch_size]
                try:
                    results = [(idx, _encode(models, [items[i] for i in idx], states))]
                except catch:  # isolate the bad session(s): one at a time
                    results = []
                    for i in idx:
                        try:
                            results.append(([i], _encode(models, [items[i]], states)))
                        except catch as e:
                            errors[i] = e
                for rows, encoded in results:
                    for name, (z, w) in encoded.items():
                        vectors[name][rows] = z
                        if states:
                            for r, wr in zip(rows, w):
                                windows[name][r] = wr
    finally:
        for n, m in models.items():
            m.train(was_training[n])
    return vectors, windows, errors


def embed_sessions(model, sessions: Sequence, *, batch_size: int = 8, states: bool = False,
                   catch: type[BaseException] | tuple = Exception, progress: bool = False):
    """Embed in-memory sessions with one model, isolating failures.

    Parameters
    ----------
    model : CLEFModel
    sessions : list of Session, (19, samples) arrays or single-session Tokens
        Sessions are brought to the tokenizer's rate and channels (:func:`model_input`); Tokens
        (e.g. from a ``TokenCache``) are encoded as they are.
    batch_size : int
        Sessions per forward pass (sorted by length to limit padding).
    states : bool
        Also return per-time-patch window embeddings.
    catch : exception class or tuple
        Errors recorded per session instead of raised.
    progress : bool
        tqdm bar over batches.

    Returns
    -------
    vectors : np.ndarray
        (n, D) float32, unit rows; rows of failed sessions are NaN.
    window_states : list of (W_i, D) float32 arrays, or None
        None unless ``states``; None entries for failures.
    errors : dict
        index -> exception, for sessions that failed to prepare, tokenize or encode.
    """
    vectors, windows, errors = _embed_many({"m": model}, sessions, batch_size=batch_size,
                                           states=states, catch=catch, progress=progress)
    return vectors["m"], (windows["m"] if windows is not None else None), errors


def embed_sessions_shared(models: Mapping, sessions: Sequence, *, batch_size: int = 8,
                          catch: type[BaseException] | tuple = Exception,
                          progress: bool = False):
    """Embed sessions with several models that share one tokenizer config (tokenized once).

    Parameters
    ----------
    models : dict of str -> CLEFModel
        Their tokenizer configs must be equal (the first model's tokenizer is used).
    sessions, batch_size, catch, progress :
        As in :func:`embed_sessions`. A session that fails for one model fails for all.

    Returns
    -------
    vectors : dict of str -> np.ndarray
        (n, D_model) float32 unit rows per model; NaN rows for failed sessions.
    errors : dict
        index -> exception.
    """
    vectors, _, errors = _embed_many(models, sessions, batch_size=batch_size, states=False,
                                     catch=catch, progress=progress)
    return vectors, errors


def embed(model, sessions: Sequence, *, batch_size: int = 8, progress: bool = False) -> np.ndarray:
    """Embed sessions end to end; the first failure is raised.

    Parameters
    ----------
    model : CLEFModel
    sessions : list of Session or (19, samples) arrays
        See :func:`embed_sessions`.
    batch_size : int
    progress : bool

    Returns
    -------
    np.ndarray
        (n, D) float32, unit rows.
    """
    vectors, _, errors = embed_sessions(model, sessions, batch_size=batch_size,
                                        progress=progress)
    if errors:
        raise errors[min(errors)]
    return vectors


def embed_recording(model, path, *, read: Callable | None = None) -> np.ndarray:
    """(D,) unit embedding of one recording file, read once with ``clef.io.read_session``.

    Parameters
    ----------
    model : CLEFModel
    path : str or Path
        A recording file clef reads (EDF, BDF, FIF, BrainVision, EEGLAB, BIDS).
    read : callable, optional
        ``read(path, sfreq=...) -> Session``; default :func:`clef.io.read_session`.

    Raises
    ------
    clef.errors.InvalidRecording
        The file cannot be read or used.
    """
    if read is None:
        from clef.io import read_session as read

    session = read(path, sfreq=tokenizer_sfreq(model))
    return embed(model, [session], batch_size=1)[0]
