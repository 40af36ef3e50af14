"""References and montages: common average, linked ears, longitudinal bipolar (double banana).

All operations are linear and applied to every sample the same way, so they commute with
resampling and filtering. :func:`apply_montage` never modifies its input.
"""
from __future__ import annotations

import numpy as np

from clef.channels import DOUBLE_BANANA, STANDARD_CHANNELS
from clef.errors import TooFewChannels
from clef.session import Session

MONTAGES = ("average", "linked_ears", "bipolar", "none", "as_recorded")
BIPOLAR_NAMES = tuple(f"{a}-{b}" for a, b in DOUBLE_BANANA)  # 18 derivations, "Fp1-F7" ...
EAR_PAIRS = (("A1", "A2"), ("M1", "M2"))


def check_montage(montage: str) -> str:
    """Validate a montage name; ``"as_recorded"`` is an alias of ``"none"``."""
    if montage not in MONTAGES:
        raise ValueError(f"montage={montage!r} is not one of {MONTAGES}; use 'average' (common "
                         "average), 'linked_ears', 'bipolar' (double banana) or 'none'")
    return "none" if montage == "as_recorded" else montage


def _rows(ch_names, wanted, path, montage):
    index = {n: i for i, n in enumerate(ch_names)}
    missing = [c for c in wanted if c not in index]
    if missing:
        raise TooFewChannels(path, f"montage {montage!r} needs channels {missing} that the session "
                                   f"lacks (it has {list(ch_names)})",
                             "harmonize the session first (clef.io.read_session / preprocess)")
    return [index[c] for c in wanted]


def _average_inplace(data: np.ndarray, rows: list[int], block: int = 1 << 16) -> None:
    """Subtract the mean of ``rows`` from every row, in time blocks. data: (channels, samples)."""
    for s in range(0, data.shape[1], block):
        seg = data[:, s:s + block]  # view (channels, block)
        ref = np.zeros(seg.shape[1], dtype=np.float64)  # (block,) running sum
        for r in rows:
            ref += seg[r]
        seg -= (ref / len(rows)).astype(data.dtype)


def _ear_rows(ch_names):
    for left, right in EAR_PAIRS:
        if left in ch_names and right in ch_names:
            return ch_names.index(left), ch_names.index(right)
    return None


def apply_montage(session: Session, montage: str = "average") -> Session:
    """Re-reference a harmonized session or derive the longitudinal bipolar montage.

    Parameters
    ----------
    session : Session
        Standard channels (the 19 of ``clef.channels.STANDARD_CHANNELS``, in any reference), plus
        ear electrodes ``A1``/``A2`` (or ``M1``/``M2``) when ``montage="linked_ears"``.
    montage : {"average", "linked_ears", "bipolar", "none", "as_recorded"}
        ``"average"``: subtract the mean of the 19 channels. ``"linked_ears"``: subtract the mean of
        the two ear electrodes. ``"bipolar"``: the 18 double-banana derivations (``"Fp1-F7"``...).
        ``"none"``/``"as_recorded"``: keep the recorded reference.

    Returns
    -------
    Session
        A new session (19 channels, or 18 derivations for ``"bipolar"``); ear channels are dropped.
        ``meta["montage"]`` records the montage.

    Raises
    ------
    TooFewChannels
        ``"linked_ears"`` without an ear pair, or standard channels missing.
    """
    montage = check_montage(montage)
    path = session.meta.get("source_path")
    names = list(session.ch_names)
    std_rows = _rows(names, STANDARD_CHANNELS, path, montage)
    meta = dict(session.meta)
    if montage == "bipolar":
        index = {n: i for i, n in enumerate(names)}
        out = np.empty((len(DOUBLE_BANANA), session.n_samples), dtype=np.float32)  # (18, samples)
        for k, (a, b) in enumerate(DOUBLE_BANANA):
            np.subtract(session.data[index[a]], session.data[index[b]], out=out[k])
        meta["montage"] = "bipolar"
        return Session(out, session.sfreq, list(BIPOLAR_NAMES), meta, list(session.annotations))
    data = np.array(session.data[std_rows], dtype=np.float32)  # (19, samples) copy
    if montage == "average":
        _average_inplace(data, list(range(len(STANDARD_CHANNELS))))
        meta["reference"] = "average"
    elif montage == "linked_ears":
        ears = _ear_rows(names)
        if ears is None:
            raise TooFewChannels(path, "montage 'linked_ears' needs both ear electrodes A1/A2 (or "
                                       f"mastoids M1/M2); the session has {names}",
                                 "use montage='average' or 'bipolar', or a recording with ear "
                                 "electrodes")
        ref = (session.data[ears[0]].astype(np.float64) + session.data[ears[1]]) / 2.0
        data -= ref.astype(np.float32)
        meta["reference"] = "linked_ears"
    meta["montage"] = montage
    return Session(data, session.sfreq, list(STANDARD_CHANNELS), meta, list(session.annotations))
