"""`TokenizerConfig`: every choice that changes the tokens, hashed for the token cache."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

import numpy as np

# Bumped whenever the algorithm changes the tokens for the same config (invalidates token caches).
TOKENIZER_VERSION = 1

CHANNEL_GROUPS = ("regions", "channels")
KINDS = ("linear", "vq")  # linear: raw patch values; vq: learned codes (clef.tokenizer.vq)
# Fields added after v1 that are left out of to_dict()/hash() at their defaults, so every existing
# linear config keeps its JSON and its token-cache hash.
_OPTIONAL = {"kind": "linear", "vq_path": ""}


def from_fields(cls, d: dict):
    """``cls(**d)`` for a dataclass ``cls``; keys that are not its fields raise ``ValueError``
    naming them (the ``from_dict`` of the tokenizer's configs)."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}.from_dict: unknown keys {unknown}; known: {sorted(known)}")
    return cls(**d)


def drop_defaults(d: dict, defaults: dict) -> dict:
    """Leave out of a config's dict the optional fields that are at their defaults, so configs
    that do not use a field added later keep their JSON (and hashes).

    Parameters
    ----------
    d : dict
        The config's fields (``dataclasses.asdict``); changed in place.
    defaults : dict
        Optional field name -> its default value.

    Returns
    -------
    dict
        ``d``, without those fields.
    """
    for k, default in defaults.items():
        if d[k] == default:
            d.pop(k)
    return d


@dataclass(frozen=True)
class TokenizerConfig:
    """Multitaper spectrogram and 3-D patching parameters.

    Token values are ``clamp(10 log10(P / sfreq / db_ref), floor_db) / db_scale`` where ``P`` is
    MNE's ``normalization="length"`` multitaper power (``P / sfreq`` is the one-sided density in
    V^2/Hz). The normalization is fixed, not estimated per session: a token depends only on its own
    windows, so chunked, cached and cropped tokenization agree exactly, no statistics need storing,
    and absolute power (low voltage, diffuse slowing, beta excess: clinical findings) survives.
    Site gain differences are left to harmonization (``clef.io``) and the model.
    """

    sfreq: float = 200.0  # Hz; inputs must already be at this rate (clef.io.preprocess(..., sfreq=))
    window_s: float = 4.0  # multitaper window (s): 0.25 Hz bins at any sfreq
    step_s: float = 2.0  # hop between windows (s): 50 % overlap
    nw: float = 2.0  # time-half-bandwidth; MNE's low-bias rule keeps K = 2NW-1 = 3 tapers,
    #                  full bandwidth 2NW/window_s = 1 Hz
    fmin: float = 0.5  # Hz, inclusive (MNE's freq mask: fmin <= f <= fmax)
    fmax: float = 40.0  # Hz, inclusive
    freq_pool: int = 1  # adjacent bins averaged (in power) before the log; 4 -> 1 Hz = the taper bandwidth
    db_ref: float = 1e-12  # V^2/Hz at 0 dB (1 uV^2/Hz)
    db_scale: float = 10.0  # token value = dB / db_scale (10 dB -> 1.0; scalp EEG lands in about -3..3)
    floor_db: float = -60.0  # dB floor (flat / zero channels would give -inf)
    channel_groups: str = "regions"  # "regions": clef.channels.REGIONS (5, zero-padded to 5
    #                                  channels each); "channels": one token row per channel (19)
    windows_per_patch: int = 6  # windows per time patch: 6 x 2 s step = 12 s per token
    n_bands: int = 4  # equal-width frequency bands per time patch (last band zero-padded)
    kind: str = "linear"  # "linear": token values are the patch; "vq": a learned code per patch
    vq_path: str = ""  # kind="vq": folder of the trained VQ tokenizer (`clef tokenizer train`)

    def __post_init__(self) -> None:
        for f in fields(self):  # canonical types, so 200 and 200.0 hash alike
            value = getattr(self, f.name)
            if f.type == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
            elif f.type == "int" and isinstance(value, float) and value.is_integer():
                object.__setattr__(self, f.name, int(value))

        def bad(name, value, allowed):
            raise ValueError(f"TokenizerConfig.{name}={value!r} is invalid; use {allowed}")

        if not self.sfreq > 0:
            bad("sfreq", self.sfreq, "a positive rate in Hz")
        if not self.window_s > 0 or self.n_window < 2:
            bad("window_s", self.window_s, "a window of at least 2 samples")
        if not self.step_s > 0 or self.n_step < 1:
            bad("step_s", self.step_s, "a hop of at least 1 sample")
        if not self.nw >= 0.5:
            bad("nw", self.nw, "a time-half-bandwidth >= 0.5 (default 2)")
        if not 0 <= self.fmin <= self.fmax <= self.sfreq / 2:
            bad("fmin/fmax", (self.fmin, self.fmax), f"0 <= fmin <= fmax <= sfreq/2 = {self.sfreq / 2}")
        if self.n_freqs_full < 1:
            bad("fmin/fmax", (self.fmin, self.fmax), "a range holding at least one frequency bin")
        if int(self.freq_pool) != self.freq_pool or self.freq_pool < 1:
            bad("freq_pool", self.freq_pool, "a positive integer (1 = no pooling)")
        if self.channel_groups not in CHANNEL_GROUPS:
            bad("channel_groups", self.channel_groups, f"one of {CHANNEL_GROUPS}")
        if int(self.windows_per_patch) != self.windows_per_patch or self.windows_per_patch < 1:
            bad("windows_per_patch", self.windows_per_patch, "a positive integer")
        if int(self.n_bands) != self.n_bands or not 1 <= self.n_bands <= self.n_freqs:
            bad("n_bands", self.n_bands, f"an integer in 1..{self.n_freqs} (frequency bins)")
        if self.kind not in KINDS:
            bad("kind", self.kind, f"one of {KINDS}")
        if self.kind == "vq" and not self.vq_path:
            bad("vq_path", self.vq_path, "the folder of a trained VQ tokenizer (kind='vq')")
        if not self.db_ref > 0 or not self.db_scale > 0:
            bad("db_ref/db_scale", (self.db_ref, self.db_scale), "positive numbers")

    # ---- presets --------------------------------------------------------------------------
    @classmethod
    def base(cls) -> TokenizerConfig:
        """GPU preset: 12 s x region x 10 Hz tokens; 2,000 tokens for 20 min, patch_dim 1,200."""
        return cls()

    @classmethod
    def tiny(cls) -> TokenizerConfig:
        """CPU preset: 24 s x region x 20 Hz tokens; 500 tokens for 20 min, patch_dim 1,200.

        Bins are pooled to 1 Hz (the tapers' full bandwidth), so ``untokenize`` restores the
        1 Hz volume exactly, not the 0.25 Hz spectrogram.
        """
        return cls(windows_per_patch=12, n_bands=2, freq_pool=4)

    # ---- derived sizes --------------------------------------------------------------------
    @property
    def n_window(self) -> int:
        """Samples per window."""
        return round(self.window_s * self.sfreq)

    @property
    def n_step(self) -> int:
        """Samples per hop."""
        return round(self.step_s * self.sfreq)

    @property
    def freq_slice(self) -> slice:
        """The rfft bins kept (MNE's mask ``fmin <= f <= fmax`` on ``rfftfreq(n_window, 1/sfreq)``)."""
        freqs = np.fft.rfftfreq(self.n_window, 1.0 / self.sfreq)
        kept = np.flatnonzero((freqs >= self.fmin) & (freqs <= self.fmax))
        if kept.size == 0:
            return slice(0, 0)
        return slice(int(kept[0]), int(kept[-1]) + 1)

    @property
    def n_freqs_full(self) -> int:
        """Frequency bins of ``spectrogram`` (before pooling)."""
        s = self.freq_slice
        return max(0, s.stop - s.start)

    @property
    def n_freqs(self) -> int:
        """Frequency bins of the tokenized volume (after ``freq_pool``)."""
        return -(-self.n_freqs_full // int(self.freq_pool))

    @property
    def bins_per_band(self) -> int:
        return -(-self.n_freqs // int(self.n_bands))

    # ---- serialization --------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain-JSON dict of the fields (``kind``/``vq_path`` only when not the linear default)."""
        return drop_defaults(asdict(self), _OPTIONAL if self.kind == "linear" else {})

    @classmethod
    def from_dict(cls, d: dict) -> TokenizerConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        return from_fields(cls, d)

    def hash(self) -> str:
        """Stable 12-hex sha256 over the JSON fields and the algorithm version (token cache key)."""
        payload = {"tokenizer_version": TOKENIZER_VERSION, **self.to_dict()}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]
