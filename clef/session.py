"""`Session`: one recording as every clef module sees it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Session:
    """A harmonized EEG recording.

    Attributes
    ----------
    data : np.ndarray
        float32, shape (channels, samples), volts.
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Channel names; the 19 standard names (``clef.channels.STANDARD_CHANNELS`` order) after
        harmonization, or derivation names such as ``"Fp1-F7"`` for a bipolar montage.
    meta : dict
        Provenance: source path, original channel names and mapping, interpolated channels,
        reference/montage, filters, site, and anything a reader learned.
    annotations : list of (onset_s, duration_s, description)
        Events kept from the file (or the generator's ground truth).
    """

    data: np.ndarray  # (channels, samples) float32 volts
    sfreq: float
    ch_names: list[str]
    meta: dict = field(default_factory=dict)
    annotations: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / float(self.sfreq)

    def __repr__(self) -> str:  # short: data arrays are large
        return (f"Session({len(self.ch_names)} ch x {self.n_samples} samples @ {self.sfreq:g} Hz, "
                f"{self.duration_s:.1f} s, id={self.meta.get('session_id', '?')})")
