"""Colour tables shared by the images the dashboard draws (spectrogram thumbnails, image maps)."""
from __future__ import annotations

import numpy as np


def viridis_lut(n: int = 256) -> np.ndarray:
    """Plotly's Viridis scale sampled at ``n`` evenly spaced points.

    Parameters
    ----------
    n : int
        Number of colours (>= 2).

    Returns
    -------
    np.ndarray
        (n, 3) uint8 RGB, from the low end of the scale to the high end.
    """
    from plotly.colors import hex_to_rgb, sequential

    stops = np.array([hex_to_rgb(c) for c in sequential.Viridis], float)  # (k, 3)
    grid, u = np.linspace(0.0, 1.0, len(stops)), np.linspace(0.0, 1.0, n)
    return np.stack([np.interp(u, grid, stops[:, c]) for c in range(3)], 1).round().astype(np.uint8)
