"""Recording sites: how each lab records (sampling rate, channel names, reference, line frequency,
amplitude calibration), whom it sees (setting mix, age mix) and how its neurologists write.

Site B is the external cohort: different amplifier, line frequency, naming and report style.
"""
from __future__ import annotations

from dataclasses import dataclass

from clef.channels import OLD_NAMES

_NEW_TO_OLD = {v: k for k, v in OLD_NAMES.items()}


@dataclass(frozen=True)
class SiteProfile:
    """One recording site."""

    name: str
    code: int  # integer used in RNG seeds (stable; never reuse)
    sfreq: float  # native sampling rate of the EDF files (Hz)
    line_freq: float  # mains frequency (Hz): 60 in the Americas, 50 in Europe/Asia
    channel_format: str  # EDF label pattern: "{NAME}" upper-case, "{name}" standard case
    old_names: bool  # T3/T4/T5/T6 instead of T7/T8/P7/P8 in the EDF labels
    reference: str  # "vertex" (REF electrode near CPz), "linked_ears" or "average"
    gain: float  # amplitude calibration: recorded = gain * true (uncalibrated amplifier)
    line_uv: float  # baseline mains pickup on every channel (uV amplitude)
    setting_p: tuple[float, float, float]  # P(outpatient, emu, icu) of a new patient
    child_p: float  # P(patient is a child) for outpatient/EMU patients
    report_style: str  # "acns_long" or "terse"
    author_count: int  # number of reading neurologists (each with own phrasing habits)
    pop_rate: float  # multiplier on electrode-pop artifact rate (older electrodes)
    physical_uv: float  # EDF physical range +/- (uV); sets quantization (range / 32767)

    def edf_label(self, std_name: str) -> str:
        """EDF channel label this site writes for a standard channel name."""
        name = _NEW_TO_OLD.get(std_name, std_name) if self.old_names else std_name
        return self.channel_format.format(NAME=name.upper(), name=name)


SITES: dict[str, SiteProfile] = {
    "A": SiteProfile("A", 1, 200.0, 60.0, "EEG {NAME}-REF", False, "vertex", 1.0, 1.5,
                     (0.50, 0.20, 0.30), 0.18, "acns_long", 4, 1.0, 3276.7),
    "B": SiteProfile("B", 2, 256.0, 50.0, "{name}", False, "linked_ears", 0.82, 2.5,
                     (0.70, 0.10, 0.20), 0.10, "terse", 3, 2.0, 3276.7),
    "C": SiteProfile("C", 3, 250.0, 50.0, "{NAME}-LE", True, "linked_ears", 1.1, 1.0,
                     (0.60, 0.25, 0.15), 0.25, "acns_long", 2, 1.0, 3276.7),
    "D": SiteProfile("D", 4, 500.0, 60.0, "EEG {name}", True, "average", 0.95, 0.8,
                     (0.40, 0.20, 0.40), 0.12, "terse", 2, 0.5, 6553.4),
}


def get_site(name: str) -> SiteProfile:
    """Look up a site profile by name ("A", "B", "C", "D")."""
    if name not in SITES:
        raise ValueError(f"unknown site {name!r}; choose from {sorted(SITES)}")
    return SITES[name]
