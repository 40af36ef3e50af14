"""Display montages and display filters for the session viewer (MNE and SciPy).

Montages re-reference a window of the 19 standard channels the way a reading station does:
longitudinal bipolar (double banana), transverse bipolar, common average, Cz reference and a
surface Laplacian (MNE's current source density). Display filters (low cut, high cut, notch) only
change what is drawn, never the stored recording or its embedding.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MONTAGE_LABELS = {
    "bipolar": "Double banana",
    "transverse": "Transverse bipolar",
    "average": "Average reference",
    "cz": "Cz reference",
    "laplacian": "Laplacian (CSD)",
}

#: ACNS transverse bipolar chains, front to back (T3/T4/T5/T6 as T7/T8/P7/P8).
TRANSVERSE = (("F7", "Fp1"), ("Fp1", "Fp2"), ("Fp2", "F8"),
              ("F7", "F3"), ("F3", "Fz"), ("Fz", "F4"), ("F4", "F8"),
              ("T7", "C3"), ("C3", "Cz"), ("Cz", "C4"), ("C4", "T8"),
              ("P7", "P3"), ("P3", "Pz"), ("Pz", "P4"), ("P4", "P8"),
              ("P7", "O1"), ("O1", "O2"), ("O2", "P8"))

NOTCH_CHOICES = (0, 50, 60)  # Hz; 0 = no notch
LOW_CUT_CHOICES = (0.0, 0.3, 0.5, 1.0, 1.6, 5.0)  # Hz; 0 = off
HIGH_CUT_CHOICES = (0.0, 15.0, 30.0, 35.0, 50.0, 70.0)  # Hz; 0 = off


def _check(montage: str) -> None:
    if montage not in MONTAGE_LABELS:
        raise ValueError(f"montage={montage!r} is not one of {tuple(MONTAGE_LABELS)}. "
                         "Fix: pick one of those.")


def _raw(data: np.ndarray, ch_names: Sequence[str], sfreq: float):
    import mne

    info = mne.create_info(list(ch_names), float(sfreq), ch_types="eeg", verbose="error")
    raw = mne.io.RawArray(np.asarray(data, dtype=np.float64), info, verbose="error")
    raw.set_montage("standard_1020", match_case=False, on_missing="ignore", verbose="error")
    return raw


def apply_display_montage(data: np.ndarray, ch_names: Sequence[str], montage: str,
                          sfreq: float = 200.0) -> tuple[np.ndarray, list[str]]:
    """Re-reference a block of EEG for display.

    Parameters
    ----------
    data : np.ndarray
        (channels, samples), volts, the 19 standard channels on any common reference.
    ch_names : sequence of str
    montage : {"bipolar", "transverse", "average", "cz", "laplacian"}
        ``"bipolar"``/``"average"`` use :func:`clef.io.apply_montage`; ``"transverse"``
        (``mne.set_bipolar_reference``), ``"cz"`` (``mne.set_eeg_reference``, Cz itself left
        out) and ``"laplacian"`` (``mne.preprocessing.compute_current_source_density``, rescaled
        to the average reference's median amplitude so one gain fits both) go through MNE.
    sfreq : float

    Returns
    -------
    data : np.ndarray
        float32 (derivations, samples), volts (scaled for the Laplacian).
    names : list of str
    """
    _check(montage)
    data = np.asarray(data, dtype=np.float32)
    if montage in ("bipolar", "average"):
        from clef.io import apply_montage
        from clef.session import Session

        out = apply_montage(Session(data, float(sfreq), list(ch_names)), montage)
        return out.data, list(out.ch_names)
    import mne

    raw = _raw(data, ch_names, sfreq)
    if montage == "transverse":
        anode, cathode = [a for a, _ in TRANSVERSE], [c for _, c in TRANSVERSE]
        names = [f"{a}-{c}" for a, c in TRANSVERSE]
        bip = mne.set_bipolar_reference(raw, anode, cathode, ch_name=names, drop_refs=False,
                                        copy=True, verbose="error")
        return bip.get_data(picks=names).astype(np.float32), names
    if montage == "cz":
        ref, _ = mne.set_eeg_reference(raw, ["Cz"], copy=True, verbose="error")
        names = [n for n in ch_names if n != "Cz"]
        return ref.get_data(picks=names).astype(np.float32), names
    avg = data - data.mean(axis=0, keepdims=True)
    csd = mne.preprocessing.compute_current_source_density(raw, verbose="error").get_data()
    scale = float(np.median(np.abs(avg))) / max(float(np.median(np.abs(csd))), 1e-30)
    return (csd * scale).astype(np.float32), list(ch_names)


def display_filter(data: np.ndarray, sfreq: float, *, low_hz: float = 0.0, high_hz: float = 0.0,
                   notch_hz: float = 0.0, order: int = 4) -> np.ndarray:
    """Zero-phase display filters, as on a reading station (``scipy.signal.sosfiltfilt``).

    Parameters
    ----------
    data : np.ndarray
        (channels, samples).
    sfreq : float
    low_hz, high_hz : float
        Butterworth high-pass (low cut) and low-pass (high cut) corners; 0 = off. Corners at or
        above Nyquist are skipped.
    notch_hz : float
        Line-noise notch (50 or 60 Hz; 0 = off; Q = 30).
    order : int

    Returns
    -------
    np.ndarray
        float32, same shape; the input when every filter is off.

    Raises
    ------
    ValueError
        A low cut at or above the high cut.
    """
    from scipy import signal

    nyq = float(sfreq) / 2.0
    low = low_hz if low_hz and 0 < low_hz < nyq else 0.0
    high = high_hz if high_hz and 0 < high_hz < nyq else 0.0
    if low and high and low >= high:
        raise ValueError(f"low cut {low_hz:g} Hz is not below high cut {high_hz:g} Hz. Fix: "
                         "lower the low cut or raise the high cut.")
    x = np.asarray(data, dtype=np.float64)
    sos = []
    if low:
        sos.append(signal.butter(order, low, "highpass", fs=sfreq, output="sos"))
    if high:
        sos.append(signal.butter(order, high, "lowpass", fs=sfreq, output="sos"))
    if notch_hz and 0 < notch_hz < nyq:
        b, a = signal.iirnotch(notch_hz, 30.0, fs=sfreq)
        sos.append(signal.tf2sos(b, a))
    if not sos:
        return np.asarray(data, dtype=np.float32)
    n = x.shape[-1]
    for s in sos:
        padlen = min(n - 1, 3 * (2 * len(s) + 1))
        x = signal.sosfiltfilt(s, x, axis=-1, padlen=max(padlen, 0))
    return x.astype(np.float32)
