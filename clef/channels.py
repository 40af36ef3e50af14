"""The 19 standard 10-20 channels, their scalp regions and the longitudinal bipolar montage.

Shared signal metadata: every module (io, synth, tokenizer, model, dashboard) uses these names and
this order, so a channel index means the same electrode everywhere.
"""
from __future__ import annotations

STANDARD_CHANNELS: tuple[str, ...] = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8",
    "T7", "C3", "Cz", "C4", "T8",
    "P7", "P3", "Pz", "P4", "P8",
    "O1", "O2",
)
N_CHANNELS = len(STANDARD_CHANNELS)  # 19
CHANNEL_INDEX = {name: i for i, name in enumerate(STANDARD_CHANNELS)}

# Old 10-20 names (T3/T4/T5/T6) map to the modern 10-10 names used above.
OLD_NAMES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}

# Scalp regions used for topographies (synth) and region tokens (tokenizer).
REGIONS: dict[str, tuple[str, ...]] = {
    "left_temporal": ("F7", "T7", "P7"),
    "right_temporal": ("F8", "T8", "P8"),
    "left_parasagittal": ("Fp1", "F3", "C3", "P3", "O1"),
    "right_parasagittal": ("Fp2", "F4", "C4", "P4", "O2"),
    "midline": ("Fz", "Cz", "Pz"),
}

# Longitudinal bipolar ("double banana"): 18 derivations, anode - cathode.
DOUBLE_BANANA: tuple[tuple[str, str], ...] = (
    ("Fp1", "F7"), ("F7", "T7"), ("T7", "P7"), ("P7", "O1"),
    ("Fp2", "F8"), ("F8", "T8"), ("T8", "P8"), ("P8", "O2"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
    ("Fz", "Cz"), ("Cz", "Pz"),
)
