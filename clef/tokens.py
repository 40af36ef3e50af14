"""`Tokens`: the contract between the tokenizer and the model.

A batch of sessions, each a variable number of 3-D spectrogram patches
(channel region x time patch x frequency band), padded to the longest session.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Tokens:
    """A padded batch of spectrogram tokens.

    Attributes
    ----------
    values : torch.Tensor
        float32, (batch, n_tokens, patch_dim): the flattened patch of normalized log power.
    time_idx : torch.Tensor
        int64, (batch, n_tokens): time-patch index from the session start (0, 1, 2, ...).
    region_idx : torch.Tensor
        int64, (batch, n_tokens): channel-region index (tokenizer's region order).
    band_idx : torch.Tensor
        int64, (batch, n_tokens): frequency-band index.
    mask : torch.Tensor
        bool, (batch, n_tokens): True for real tokens, False for padding.
    time_patch_s : float
        Seconds spanned by one time patch step (token time index -> seconds: ``time_idx * time_patch_s``).
    codes : torch.Tensor or None
        int64, (batch, n_tokens): codebook index of each token for a learned (VQ) tokenizer,
        whose ``values`` are then the code vectors; None for the linear tokenizer. A VQ-input
        ``CLEFModel`` (``ModelConfig.token_input == "vq"``) embeds these codes when present and
        otherwise computes them from the linear patch values with its own frozen VQ tokenizer.
    """

    values: torch.Tensor  # (B, N, patch_dim)
    time_idx: torch.Tensor  # (B, N)
    region_idx: torch.Tensor  # (B, N)
    band_idx: torch.Tensor  # (B, N)
    mask: torch.Tensor  # (B, N) True = real token
    time_patch_s: float
    codes: torch.Tensor | None = None  # (B, N) int64, VQ tokenizer only

    @property
    def batch_size(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_tokens(self) -> int:
        return int(self.values.shape[1])

    def to(self, device) -> Tokens:
        return Tokens(self.values.to(device), self.time_idx.to(device), self.region_idx.to(device),
                      self.band_idx.to(device), self.mask.to(device), self.time_patch_s,
                      None if self.codes is None else self.codes.to(device))

    def __getitem__(self, i) -> Tokens:
        """Select sessions by index or slice, keeping the batch dimension."""
        if isinstance(i, int):
            i = slice(i, i + 1)
        return Tokens(self.values[i], self.time_idx[i], self.region_idx[i], self.band_idx[i],
                      self.mask[i], self.time_patch_s, None if self.codes is None else self.codes[i])
