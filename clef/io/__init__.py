"""Read EEG recordings into harmonized :class:`clef.session.Session` objects.

``read_session(path)`` reads EDF/EDF+, BDF, FIF, BrainVision, EEGLAB and BIDS recordings, maps
their channels to the 19 standard 10-20 names, interpolates up to ``max_missing`` missing
channels, checks signal quality, re-references, filters and resamples (polyphase) to ``sfreq``.
``preprocess(session)`` applies the same pipeline to an in-memory session, and
``apply_montage(session, montage)`` re-references or derives the bipolar montage.
"""
from __future__ import annotations

from clef.io.config import PreprocessConfig, interpolation_matrix
from clef.io.formats import FORMATS, detect_format, open_raw, read_edf_header
from clef.io.harmonize import Harmonization, harmonize_names, normalize_name, standard_name
from clef.io.montage import BIPOLAR_NAMES, MONTAGES, apply_montage
from clef.io.read import preprocess, read_session
from clef.io.summary import summarize
from clef.session import Session

__all__ = [
    "BIPOLAR_NAMES", "FORMATS", "MONTAGES", "Harmonization", "PreprocessConfig", "Session",
    "apply_montage", "detect_format", "harmonize_names", "interpolation_matrix", "normalize_name",
    "open_raw", "preprocess", "read_edf_header", "read_session", "standard_name", "summarize",
]
