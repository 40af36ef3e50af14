"""`VQTokenizer`: whole sessions -> multitaper patches -> learned discrete codes (``Tokens``).

>>> tok = make_tokenizer(TokenizerConfig(**TokenizerConfig.tiny().to_dict(), kind="vq",
...                                      vq_path="vq-tiny"))
>>> tokens = tok.tokenize(session)        # Tokens: values (1, N, code_dim), codes (1, N)
>>> vol = tok.untokenize(tokens, 0)       # decoded (channels, windows, freqs)

The token grid (``time_idx``, ``region_idx``, ``band_idx``, ``mask``) is the linear tokenizer's,
so a 20-minute session has the same number of tokens (<= 2,048 at both presets); ``values`` are
the code vectors and ``codes`` the codebook indices. ``quantize`` turns linear tokens (e.g. from a
``TokenCache``) into VQ tokens without recomputing the spectrogram.
"""
from __future__ import annotations

from dataclasses import replace

import torch

from clef.tokenizer.config import TokenizerConfig
from clef.tokenizer.patching import PatchLayout
from clef.tokenizer.tokenizer import MultitaperTokenizer
from clef.tokenizer.vq import load_vq
from clef.tokens import Tokens


class VQTokenizer:
    """Learned (VQ) tokenizer behind the ``Tokens`` contract.

    Parameters
    ----------
    config : TokenizerConfig
        ``kind="vq"`` and ``vq_path`` naming a folder written by ``clef tokenizer train``.
    """

    def __init__(self, config: TokenizerConfig):
        if config.kind != "vq":
            raise ValueError(f"VQTokenizer needs TokenizerConfig(kind='vq'), got {config.kind!r}")
        self.config = config
        self.linear = MultitaperTokenizer(replace(config, kind="linear", vq_path=""))
        self.model, meta = load_vq(config.vq_path)
        trained = TokenizerConfig.from_dict(meta.get("tokenizer") or {})
        if trained.hash() != self.linear.config.hash():
            raise ValueError(f"{config.vq_path} was trained on tokens of another multitaper "
                             f"config ({trained}); use that config's fields with kind='vq'")
        self.valid = PatchLayout.from_config(self.linear.config).valid()  # (regions, bands, dim)

    def __repr__(self) -> str:
        c = self.model.config
        return (f"VQTokenizer({self.config.vq_path!r}, codebook={c.codebook_size}, "
                f"code_dim={c.code_dim}, grid={self.linear!r})")

    @property
    def patch_dim(self) -> int:
        """Size of ``Tokens.values`` (the code vectors)."""
        return int(self.model.config.code_dim)

    @property
    def time_patch_s(self) -> float:
        return self.linear.time_patch_s

    def n_tokens(self, duration_s: float) -> int:
        return self.linear.n_tokens(duration_s)

    @torch.no_grad()
    def quantize(self, tokens: Tokens) -> Tokens:
        """Linear tokens (B, N, patch_dim) -> VQ tokens (values (B, N, code_dim), codes (B, N))."""
        codes = self.model.codes(tokens.values, tokens.region_idx, tokens.band_idx)  # (B, N)
        codes = torch.where(tokens.mask, codes, torch.zeros_like(codes))
        values = self.model.quantizer.lookup(codes) * tokens.mask[..., None]  # (B, N, code_dim)
        return Tokens(values, tokens.time_idx, tokens.region_idx, tokens.band_idx, tokens.mask,
                      tokens.time_patch_s, codes)

    @torch.no_grad()
    def decode(self, tokens: Tokens) -> Tokens:
        """VQ tokens -> linear tokens with the decoded patch values (B, N, patch_dim)."""
        if tokens.codes is None:
            raise ValueError("decode needs Tokens.codes (tokens from VQTokenizer.tokenize/quantize)")
        values = self.model.decode_codes(tokens.codes, tokens.region_idx, tokens.band_idx)
        values = values * self.valid[tokens.region_idx, tokens.band_idx] * tokens.mask[..., None]
        return Tokens(values, tokens.time_idx, tokens.region_idx, tokens.band_idx, tokens.mask,
                      tokens.time_patch_s)

    def tokenize(self, x, **kwargs) -> Tokens:
        """As ``MultitaperTokenizer.tokenize``, then :meth:`quantize`."""
        return self.quantize(self.linear.tokenize(x, **kwargs))

    def untokenize(self, tokens: Tokens, session_index: int = 0, **kwargs) -> torch.Tensor:
        """Decoded (channels, windows, freqs) volume of one session."""
        return self.linear.untokenize(self.decode(tokens), session_index, **kwargs)


def make_tokenizer(config: TokenizerConfig | None = None):
    """The tokenizer ``config.kind`` selects: ``MultitaperTokenizer`` or ``VQTokenizer``."""
    config = config or TokenizerConfig.base()
    return VQTokenizer(config) if config.kind == "vq" else MultitaperTokenizer(config)
