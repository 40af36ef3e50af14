"""Channel-name harmonization: map the spellings real files use to the 19 standard 10-20 names.

Accepted variants (case-insensitive): ``Fp1``, ``FP1``, ``EEG FP1-REF``, ``EEG FP1-LE``,
``Fp1-AVG``, ``Fp1-A1``, EEGMMIDB's dotted ``Fp1.`` / ``C3..``, and the old names T3/T4/T5/T6
(-> T7/T8/P7/P8).
Ear electrodes (A1/A2, M1/M2) are recognized separately for the linked-ears reference. Everything
else (ECG, EMG, EOG, photic, annotations, 10-10 extras such as ``Fc5``) is dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from clef.channels import OLD_NAMES, STANDARD_CHANNELS

# Reference suffixes stripped from referential names ("EEG FP1-REF" -> "FP1"). A bipolar name such
# as "FP1-F7" keeps its suffix, so it never maps to a single electrode.
REFERENCE_SUFFIXES = frozenset({
    "REF", "LE", "RE", "AR", "AVG", "AV", "CAR", "A1", "A2", "M1", "M2", "A1A2", "M1M2",
    "LINKED", "EAR", "EARS", "MASTOID", "CZ_REF", "REF1", "REF2", "0", "1",
})
# Recording-type prefixes stripped before matching ("EEG FP1" -> "FP1").
_PREFIX = re.compile(r"^(EEG|EEG_|SCALP)[\s_:]*", re.IGNORECASE)

_STANDARD_UPPER = {name.upper(): name for name in STANDARD_CHANNELS}
_STANDARD_UPPER.update({old.upper(): new for old, new in OLD_NAMES.items()})
EAR_CHANNELS = ("A1", "A2", "M1", "M2")  # left ear, right ear, left mastoid, right mastoid


def normalize_name(name: str) -> str:
    """Upper-case electrode label with prefixes, reference suffixes, dots and spaces removed.

    Parameters
    ----------
    name : str
        A channel name as stored in a file.

    Returns
    -------
    str
        For example ``"EEG Fp1-REF"`` -> ``"FP1"``, ``"C3.."`` -> ``"C3"``,
        ``"Fp1-F7"`` -> ``"FP1-F7"``.
    """
    s = str(name).strip()
    s = _PREFIX.sub("", s)
    s = s.replace(".", "").replace(" ", "").upper()
    if "-" in s:
        head, _, tail = s.partition("-")
        if tail in REFERENCE_SUFFIXES and head:
            s = head
    return s


def standard_name(name: str) -> str | None:
    """The standard 10-20 name for a file's channel name (one of
    ``clef.channels.STANDARD_CHANNELS``, old names mapped to new), or None for anything else."""
    return _STANDARD_UPPER.get(normalize_name(name))


def ear_name(name: str) -> str | None:
    """``"A1"``/``"A2"``/``"M1"``/``"M2"`` for an ear/mastoid electrode, else None."""
    s = normalize_name(name)
    return s if s in EAR_CHANNELS else None


@dataclass
class Harmonization:
    """How a file's channel names map to the standard 19.

    Attributes
    ----------
    mapping : dict
        Original name -> standard name, for channels kept (first occurrence of each standard name).
    ears : dict
        Original name -> ``"A1"``/``"A2"``/``"M1"``/``"M2"`` for ear/mastoid electrodes.
    dropped : list of str
        Original names that are not one of the 19 (non-EEG channels, 10-10 extras, duplicates).
    missing : list of str
        Standard names with no channel in the file, in standard order.
    """

    mapping: dict[str, str] = field(default_factory=dict)
    ears: dict[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def found(self) -> list[str]:
        """Standard names present in the file, in standard order."""
        present = set(self.mapping.values())
        return [c for c in STANDARD_CHANNELS if c in present]

    def source_of(self, standard: str) -> str:
        """Original name of the channel mapped to ``standard``."""
        for orig, std in self.mapping.items():
            if std == standard:
                return orig
        raise KeyError(standard)

    def ear_pair(self) -> tuple[str, str] | None:
        """Original names of a left/right ear pair (A1/A2 preferred, then M1/M2), or None."""
        by_std = {std: orig for orig, std in self.ears.items()}
        for left, right in (("A1", "A2"), ("M1", "M2")):
            if left in by_std and right in by_std:
                return by_std[left], by_std[right]
        return None


def harmonize_names(ch_names) -> Harmonization:
    """Map a file's channel names onto the 19 standard channels.

    Parameters
    ----------
    ch_names : sequence of str
        Channel names as stored in the file.

    Returns
    -------
    Harmonization
        Mapping, ear electrodes, dropped and missing channels.
    """
    h = Harmonization()
    taken: set[str] = set()
    for orig in ch_names:
        std = standard_name(orig)
        if std is not None and std not in taken:
            h.mapping[orig] = std
            taken.add(std)
            continue
        ear = ear_name(orig)
        if ear is not None and ear not in h.ears.values():
            h.ears[orig] = ear
            continue
        h.dropped.append(orig)
    h.missing = [c for c in STANDARD_CHANNELS if c not in taken]
    return h
