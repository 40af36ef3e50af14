"""`CLEFModel`: the EEG session encoder with its text and EHR towers in one shared space."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from clef.model.config import ModelConfig
from clef.model.ehr import EHRTower
from clef.model.encoder import ReconDecoder, SessionEncoder, select_visible
from clef.model.text import TextTower
from clef.tokens import Tokens


class _Visible(NamedTuple):
    """What a masked pass's encoder saw: states (B, K, d) of the kept tokens at keep_idx (B, K)
    (keep_mask (B, K) False at padding), masked (B, N) the hidden tokens, pooled (B, d) the mean
    kept state, tokens the kept tokens (B, K)."""

    states: torch.Tensor
    keep_idx: torch.Tensor
    keep_mask: torch.Tensor
    masked: torch.Tensor
    pooled: torch.Tensor
    tokens: Tokens


class CLEFModel(nn.Module):
    """CLEF: session-scale EEG embeddings aligned to report text and EHR.

    Parameters
    ----------
    config : ModelConfig or str
        A config, or the name/path of one (``"clef-tiny"``, ``"clef-base"``, a JSON file).

    Attributes
    ----------
    eeg : SessionEncoder
        Tokens -> states (B, N, d_model) and pooled (B, pool_dim) (``config.eeg_pool``).
    eeg_proj, text, ehr :
        Projections into the shared ``embed_dim`` space.
    decoder : ReconDecoder
        Masked-reconstruction head (stage 1).
    logit_scale, logit_scale_ehr : nn.Parameter
        Learnable inverse temperatures (log scale) of the EEG-text and EEG-EHR contrastive losses.
    """

    def __init__(self, config: ModelConfig | str):
        super().__init__()
        if not isinstance(config, ModelConfig):
            config = ModelConfig.load(config)
        if not config.is_resolved:
            config = config.resolve()
        config.validate()
        self.config = config
        vq = _vq_config(config)
        self.eeg = SessionEncoder(config.encoder, config.arch, config.short_window.window_s,
                                  config.eeg_pool, vq, config.token_input == "vq")
        d, h = self.eeg.pool_dim, config.eeg_proj_hidden
        if h > 0:  # (B, pool_dim) -> (B, h) -> (B, embed_dim)
            self.eeg_proj = nn.Sequential(nn.Linear(d, h), nn.GELU(),
                                          nn.Linear(h, config.embed_dim))
        else:
            self.eeg_proj = nn.Linear(d, config.embed_dim, bias=False)
            nn.init.trunc_normal_(self.eeg_proj.weight, std=d ** -0.5)
        self.decoder = ReconDecoder(config.decoder, config.encoder, self.eeg.embed.n_codes)
        if config.summary_head:  # (B, embed_dim) -> (B, summary_dim): clef.train.objective.SessionSummaryLoss
            self.summary_head = nn.Linear(config.embed_dim, summary_dim(config))
        self.text = TextTower(config.text, config.embed_dim)
        self.ehr = EHRTower(config.ehr, config.embed_dim)
        init = math.log(1.0 / config.init_temperature)
        self.logit_scale = nn.Parameter(torch.tensor(init))
        self.logit_scale_ehr = nn.Parameter(torch.tensor(init))
        self._tokenizer = None
        self.training_info: dict = {}  # filled by from_pretrained (the model card's data)
        # (regions, bands, patch_dim): patch values from real channels/bins (not saved: derived)
        self.register_buffer("patch_valid", _patch_valid(config), persistent=False)
        if vq is not None and config.vq_tokenizer and Path(config.vq_tokenizer).is_dir():
            self.eeg.embed.load_vq(config.vq_tokenizer, config.code_init)  # a checkpoint overrides

    # ------------------------------------------------------------------ construction / hub
    @classmethod
    def from_config(cls, config: ModelConfig | str) -> CLEFModel:
        """A randomly initialised model from a config, name or path."""
        return cls(config)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, map_location="cpu") -> CLEFModel:
        """Load a checkpoint folder (``model.safetensors`` + ``config.json`` + ``MODEL_CARD.md``).

        Raises ``clef.errors.CheckpointMismatch`` when the weights hash or tensor shapes do not match
        the config.
        """
        from clef.model.hub import load_pretrained

        return load_pretrained(cls, path, map_location)

    def save_pretrained(self, path: str | os.PathLike, card: dict | None = None) -> str:
        """Write weights, config and model card to the folder ``path``; returns the weights sha256.

        ``card`` (optional) holds ``training_data``, ``command``, ``metrics`` and ``notes``.
        """
        from clef.model.hub import save_pretrained

        return save_pretrained(self, path, card)

    @property
    def device(self) -> torch.device:
        return self.logit_scale.device

    @property
    def tokenizer(self):
        """The `clef.tokenizer.MultitaperTokenizer` this model was trained with."""
        if self._tokenizer is None:
            from clef.tokenizer import MultitaperTokenizer

            self._tokenizer = MultitaperTokenizer(self.config.tokenizer_config())
        return self._tokenizer

    # ------------------------------------------------------------------ encoders
    def encode_eeg(self, tokens: Tokens, normalize: bool = True, return_states: bool = False):
        """Session embeddings.

        Parameters
        ----------
        tokens : Tokens
            (B, N) batch from ``model.tokenizer``.
        normalize : bool
            L2-normalize the embeddings.
        return_states : bool
            Also return per-token states (B, N, d_model) (zeros at padding); map a token to
            seconds with :func:`clef.model.token_times`. Sessions (recordings, arrays) are
            embedded end to end by :mod:`clef.embedding`, which calls this.

        Returns
        -------
        (B, eeg_dim) tensor, or (embeddings, states). ``eeg_dim`` is ``embed_dim``, or
        ``d_model`` for reconstruction-only models (``config.eeg_output == "mean"``).
        """
        tokens = tokens.to(self.device)
        if self.config.eeg_output == "mean":
            states = self.eeg(tokens, pool=False)
            m = tokens.mask[..., None].to(states.dtype)  # (B, N, 1)
            z = (states * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, d_model)
        else:
            states = self.eeg(tokens, pool=False)
            z = self.pool_project(states, tokens)  # (B, embed_dim)
        if normalize:
            z = F.normalize(z, dim=-1)
        return (z, states) if return_states else z

    def pool_project(self, states: torch.Tensor, tokens: Tokens,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
        """Token states (B, N, d_model) -> shared-space session embeddings (B, embed_dim), not
        normalized. ``mask`` (B, N) limits the tokens pooled (default ``tokens.mask``)."""
        group = self.eeg.groups(tokens)
        return self.eeg_proj(self.eeg.pool_states(states, tokens, group, mask))

    def encode_text_features(self, feats: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Backbone features (n, feat_dim) (e.g. cached) -> (n, embed_dim)."""
        z = self.text(feats.to(self.device, torch.float32))
        return F.normalize(z, dim=-1) if normalize else z

    def encode_text(self, texts, normalize: bool = True, preprocess: bool = True) -> torch.Tensor:
        """Report texts or free-text queries -> (n, embed_dim).

        Reports keep their DESCRIPTION and IMPRESSION sections (``preprocess``); text without
        section headers is used whole.
        """
        if isinstance(texts, str):
            texts = [texts]
        return self.encode_text_features(self.text.features(list(texts), preprocess), normalize)

    def encode_ehr(self, records, normalize: bool = True) -> torch.Tensor:
        """EHR records (list of dicts or DataFrame with diagnoses, medications, age, sex,
        setting) -> (n, embed_dim). Unknown codes use the unknown bucket."""
        z = self.ehr(self.ehr.featurize(records))
        return F.normalize(z, dim=-1) if normalize else z

    # ------------------------------------------------------------------ reconstruction
    def reconstruct(self, tokens: Tokens, noise: torch.Tensor, mask_ratio: float,
                    return_pooled: bool = False, return_summary: bool = False):
        """MAE pass: hide ``mask_ratio`` of each session's tokens (lowest ``noise`` kept).

        Returns (pred (B, N, patch_dim), masked (B, N) bool, valid (B, N, patch_dim) bool), and
        with ``return_pooled`` also the mean of the visible tokens' states (B, d_model), with
        ``return_summary`` also the summary head's prediction (B, summary_dim) from the pooled,
        projected visible tokens (needs ``config.summary_head``).
        """
        tokens = tokens.to(self.device)
        if self.config.token_input == "vq" and tokens.codes is None:  # quantize once, not per part
            tokens = self.with_codes(tokens)
        pred, vis = self._masked_pass(tokens, noise, mask_ratio, codes=False)
        valid = self.patch_valid[tokens.region_idx, tokens.band_idx]  # (B, N, patch_dim)
        out = (pred, vis.masked, valid) + ((vis.pooled,) if return_pooled else ())
        if return_summary:
            z = self.pool_project(vis.states, vis.tokens, vis.keep_mask)  # (B, embed_dim)
            out += (self.summary_head(z),)
        return out

    def predict_codes(self, tokens: Tokens, noise: torch.Tensor, mask_ratio: float,
                      return_pooled: bool = False):
        """Masked-code pass (BEiT-style stage 1): hide tokens as :meth:`reconstruct` does and
        predict each token's VQ code. Returns (logits (B, N, n_codes), target codes (B, N) int64,
        masked (B, N) bool) [, pooled visible states (B, d_model)]. Needs ``config.vq_tokenizer``."""
        tokens = self.with_codes(tokens.to(self.device))
        logits, vis = self._masked_pass(tokens, noise, mask_ratio, codes=True)
        return (logits, tokens.codes, vis.masked, vis.pooled) if return_pooled else (
            logits, tokens.codes, vis.masked)

    def visible_mean(self, tokens: Tokens, noise: torch.Tensor, mask_ratio: float) -> torch.Tensor:
        """Encoder only: the mean state (B, d_model) of the tokens a masked pass would keep."""
        tokens = tokens.to(self.device)
        if self.config.token_input == "vq" and tokens.codes is None:
            tokens = self.with_codes(tokens)
        return self._encode_visible(tokens, noise, mask_ratio).pooled

    def with_codes(self, tokens: Tokens) -> Tokens:
        """``tokens`` with ``codes`` from the model's VQ tokenizer (0 at padding)."""
        if tokens.codes is not None:
            return tokens
        codes = self.eeg.embed.token_codes(tokens.values, tokens.region_idx, tokens.band_idx,
                                           tokens.mask)
        return Tokens(tokens.values, tokens.time_idx, tokens.region_idx, tokens.band_idx,
                      tokens.mask, tokens.time_patch_s, codes)

    def _encode_visible(self, tokens: Tokens, noise: torch.Tensor, mask_ratio: float) -> _Visible:
        """Encode the tokens a masked pass keeps (see :class:`_Visible`)."""
        visible, keep_idx, keep_mask, masked = select_visible(tokens, noise.to(self.device),
                                                              mask_ratio)
        enc = self.eeg
        x = enc.embed(visible.values, visible.region_idx, visible.band_idx,
                      visible.codes)  # (B, K, d)
        vstates = enc.contextualize(x, visible, enc.groups(visible))  # (B, K, d)
        m = keep_mask[..., None].to(vstates.dtype)  # (B, K, 1)
        pooled = (vstates * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, d)
        return _Visible(vstates, keep_idx, keep_mask, masked, pooled, visible)

    def _masked_pass(self, tokens: Tokens, noise: torch.Tensor, mask_ratio: float, codes: bool):
        """Encode the visible tokens, decode all: (patch values or code logits, the _Visible)."""
        vis = self._encode_visible(tokens, noise, mask_ratio)
        out = self.decoder(tokens, vis.states, vis.keep_idx, vis.keep_mask,
                           self.eeg.groups(tokens), codes)
        return out, vis

    # ------------------------------------------------------------------ sizes
    @property
    def eeg_dim(self) -> int:
        """Size of ``encode_eeg`` output."""
        if self.config.eeg_output == "mean":
            return self.config.encoder.d_model
        return self.config.embed_dim

    def num_parameters(self, part: str | None = None) -> int:
        """Number of parameters of the model, or of one part (``"eeg"``, ``"text"``, ...)."""
        mod = self if part is None else getattr(self, part)
        return sum(p.numel() for p in mod.parameters())


def _vq_config(config: ModelConfig):
    """The VQConfig of the model's VQ tokenizer, or None."""
    if not config.vq:
        return None
    from clef.tokenizer.vq import VQConfig

    return VQConfig.from_dict(config.vq)


def summary_dim(config: ModelConfig) -> int:
    """Size of the session summary: (regions x bands) x (mean, std) x (channels x bins)."""
    e = config.encoder
    windows = config.tokenizer_config().windows_per_patch
    return e.n_regions * e.n_bands * 2 * (e.patch_dim // windows)


def _patch_valid(config: ModelConfig) -> torch.Tensor:
    e = config.encoder
    try:
        from clef.tokenizer import PatchLayout

        valid = PatchLayout.from_config(config.tokenizer_config()).valid()
        if tuple(valid.shape) == (e.n_regions, e.n_bands, e.patch_dim):
            return valid
    except (ImportError, TypeError, ValueError):
        pass
    return torch.ones(e.n_regions, e.n_bands, e.patch_dim, dtype=torch.bool)
