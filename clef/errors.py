"""Typed errors. Every message names the thing (file, column, parameter), the problem and the fix."""
from __future__ import annotations


class ClefError(Exception):
    """Base class for errors raised by clef."""


class InvalidRecording(ClefError):
    """A recording cannot be used. Subclasses say why."""

    def __init__(self, path, problem: str, fix: str):
        self.path = str(path) if path is not None else "<array>"
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. Fix: {fix}")


class UnreadableRecording(InvalidRecording):
    """The file exists but its bytes cannot be parsed (corrupt, truncated, wrong header)."""


class UnsupportedFormat(InvalidRecording):
    """The file's format (by extension or content) is not one clef reads."""


class TooFewChannels(InvalidRecording):
    """Too many of the 19 standard 10-20 channels are missing to interpolate the rest."""


class TooShort(InvalidRecording):
    """The recording is shorter than the minimum duration for the requested processing."""


class BadSignal(InvalidRecording):
    """NaN/Inf, flat or saturated channels."""


class SamplingRateTooLow(InvalidRecording):
    """The recorded rate is below twice the tokenizer's top frequency: the band clef reads
    (0.5-40 Hz) was never captured, and resampling up cannot bring it back."""


class ImplausibleAmplitude(InvalidRecording):
    """The signal's typical amplitude is far outside the physiological EEG range (about 1-100 uV),
    almost always a units mistake in the file header (uV stored as V or mV, or the reverse)."""


class InvalidCohort(ClefError):
    """A cohort folder does not follow the contract (missing file, column or malformed values)."""


class CheckpointMismatch(ClefError):
    """A checkpoint, store or index does not match the model or config it is used with."""


class CheckpointNotFound(ClefError):
    """No checkpoint was given and the shipped default (``data_samples/clef-tiny``) is missing."""


class InvalidQuery(ClefError):
    """A search or concept query is empty or malformed."""


class InvalidConcept(ClefError):
    """A few-shot concept cannot be fitted, saved or loaded (too few examples, unknown name,
    embeddings of another model)."""


class InvalidStore(ClefError):
    """A store (or index/map) folder is missing files, or its files do not match their checksums."""


class BundleNotFound(ClefError):
    """The dashboard's data (store, index, checkpoint) cannot be found."""


class SignalsUnavailable(ClefError):
    """A session's signals cannot be shown (the bundle has no cohort folder to read them from)."""

    def __init__(self, session_id: str):
        super().__init__(f"no signals for session {session_id!r}: this bundle has no cohort "
                         "folder. Fix: pass --cohort COHORT (or keep cohort/ next to the store).")


def error_message(exc: BaseException) -> str:
    """A user-facing message for an exception: clef errors verbatim, others with their type.

    Parameters
    ----------
    exc : BaseException
        The exception to report.

    Returns
    -------
    str
        ``str(exc)`` for a :class:`ClefError` (its text already says what to do), else
        ``"TypeName: text"``.
    """
    if isinstance(exc, ClefError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class NotUnitNorm(ClefError):
    """Embeddings that must have unit L2 norm (see ``clef.embedding``) do not."""
