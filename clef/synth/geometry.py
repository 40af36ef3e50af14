"""Electrode geometry, volume-conduction mixing and scalp topographies for the 19 channels."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from clef.channels import CHANNEL_INDEX, STANDARD_CHANNELS

# Azimuthal-equidistant 2-D positions (x right, y nose), radius 1 = the 10-20 circumference ring.
_POS2D = {
    "Fp1": (-0.31, 0.95), "Fp2": (0.31, 0.95), "F7": (-0.81, 0.59), "F3": (-0.42, 0.52),
    "Fz": (0.0, 0.5), "F4": (0.42, 0.52), "F8": (0.81, 0.59), "T7": (-1.0, 0.0),
    "C3": (-0.5, 0.0), "Cz": (0.0, 0.0), "C4": (0.5, 0.0), "T8": (1.0, 0.0),
    "P7": (-0.81, -0.59), "P3": (-0.42, -0.52), "Pz": (0.0, -0.5), "P4": (0.42, -0.52),
    "P8": (0.81, -0.59), "O1": (-0.31, -0.95), "O2": (0.31, -0.95),
}
# Anterior-posterior row of each channel (0 = frontopolar ... 4 = occipital): triphasic lag.
AP_ROW = np.array([{"Fp": 0, "F": 1, "T": 2, "C": 2, "P": 3, "O": 4}[
    n.rstrip("0123456789z")] if not n.startswith("Fp") else 0 for n in STANDARD_CHANNELS])
LEFT = np.array([n[-1] in "13579" for n in STANDARD_CHANNELS])
RIGHT = np.array([n[-1] in "2468" for n in STANDARD_CHANNELS])


def positions3d() -> np.ndarray:
    """Unit-sphere positions (19, 3) of the standard channels."""
    xy = np.array([_POS2D[n] for n in STANDARD_CHANNELS])
    r = np.hypot(xy[:, 0], xy[:, 1])
    theta = r * (np.pi / 2) * 0.9  # ring sits slightly above the equator
    phi = np.arctan2(xy[:, 1], xy[:, 0])
    return np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], 1)


@lru_cache(maxsize=1)
def distances() -> np.ndarray:
    """Chordal distances (19, 19) between electrodes on the unit sphere."""
    p = positions3d()
    return np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)


@lru_cache(maxsize=4)
def mixing_matrix(width: float = 0.5) -> np.ndarray:
    """Volume-conduction mixing (19, 19): Gaussian of electrode distance, unit-variance rows."""
    m = np.exp(-distances() ** 2 / (2 * width ** 2))
    m /= np.sqrt((m ** 2).sum(1, keepdims=True))
    return m.astype(np.float32)


def topo(centers, width: float = 0.4, floor: float = 0.0) -> np.ndarray:
    """Topography (19,) peaking at 1 over the center electrodes, Gaussian falloff with distance."""
    d = distances()
    idx = [CHANNEL_INDEX[c] for c in centers]
    w = np.exp(-d[idx] ** 2 / (2 * width ** 2)).max(0)
    return (floor + (1 - floor) * w).astype(np.float32)


def region_topo(region: str, side: str = "left", width: float = 0.4) -> np.ndarray:
    """Topography of a named region: temporal, frontal, centrotemporal, hemisphere, generalized,
    bifrontal, occipital, central, vertex."""
    L = side == "left"
    if region == "temporal":  # anterior-mid temporal maximum (phase reversal at T7/T8)
        return topo(["T7"] if L else ["T8"], width * 1.15)
    if region == "frontal":
        t = topo(["F3"] if L else ["F4"], width)
        return np.maximum(t, 0.8 * topo(["Fz"], width))
    if region == "centrotemporal":
        return topo(["C3", "T7"] if L else ["C4", "T8"], width * 0.9)
    if region == "hemisphere":
        return topo(["T7", "C3"] if L else ["T8", "C4"], 0.6, floor=0.05)
    if region == "generalized":  # bilateral, frontal maximum (Fz/F3/F4), ~0.2 occipital
        return topo(["F3", "Fz", "F4"], 0.55, floor=0.15)
    if region == "bifrontal":
        return topo(["Fp1", "Fp2", "F3", "F4", "Fz"], 0.35, floor=0.05)
    if region == "occipital":
        return topo(["O1", "O2"], 0.4)
    if region == "posterior":
        return topo(["O1", "O2", "Pz"], 0.45)
    if region == "central":
        return topo(["C3", "Cz", "C4"], 0.35)
    if region == "vertex":
        return topo(["Cz"], 0.45)
    if region == "frontocentral":
        return topo(["F3", "Fz", "F4", "Cz"], 0.45, floor=0.25)
    raise ValueError(f"unknown region {region!r}")


def hemisphere_gain(side: str, ratio: float) -> np.ndarray:
    """Per-channel gain (19,) attenuating one hemisphere to `ratio` (midline halfway)."""
    g = np.ones(len(STANDARD_CHANNELS), np.float32)
    mask = LEFT if side == "left" else RIGHT
    g[mask] = ratio
    mid = ~(LEFT | RIGHT)
    g[mid] = 0.5 * (1 + ratio)
    return g


def ecg_topo() -> np.ndarray:
    """Far-field cardiac dipole (19,): a linear gradient, negative over the left posterior head."""
    xy = np.array([_POS2D[n] for n in STANDARD_CHANNELS])
    w = 0.8 * xy[:, 0] + 0.45 * xy[:, 1]
    return (w / np.abs(w).max()).astype(np.float32)
