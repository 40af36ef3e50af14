"""STAND-INS for two published short-window EEG foundation models, for speed comparisons only.

Written from the papers' published shapes (random weights; braindecode, which packages the
originals, pulls in torchaudio and an older torch, so it is not a dependency):

- BIOT (Yang et al., NeurIPS 2023, "BIOT: Cross-data Biosignal Learning in the Wild"): per channel,
  an STFT with n_fft=200 and hop 100 at 200 Hz (101 bins per 1-s frame) -> linear patch embedding
  to d=256, + channel-token embedding + sinusoidal positions; all channels' frames form one
  sequence through a 4-layer linear-attention Transformer (8 heads, FF x4); mean pooling.
- LaBraM-Base (Jiang et al., ICLR 2024, "Large Brain Model"): 1-s (200-sample) per-channel
  patches -> temporal convolution (3 conv layers, 8 channels, GroupNorm, GELU) -> 200-d tokens,
  + temporal and spatial (channel) embeddings and a CLS token; 12 Transformer layers, d=200,
  10 heads, MLP x4, qk-norm, layer scale; mean pooling; ~5.8M parameters.

These match the published layer counts, widths and token layouts, not the trained weights or every
regularization detail (dropout, drop-path), which do not change inference cost.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


# ------------------------------------------------------------------------------------ BIOT
class _LinearSelfAttention(nn.Module):
    """Linear (efficient) attention as in ``linear_attention_transformer``: softmax(q) over
    features, softmax(k) over the sequence, context = k^T v. O(N d^2) instead of O(N^2 d)."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d)

    def forward(self, x):
        B, N, d = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        q = q.softmax(dim=-1) * (d // self.h) ** -0.5  # (B, H, N, hd)
        k = k.softmax(dim=-2)
        ctx = k.transpose(-2, -1) @ v  # (B, H, hd, hd)
        return self.out((q @ ctx).transpose(1, 2).reshape(B, N, d))


class _BIOTLayer(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.n1, self.attn = nn.LayerNorm(d), _LinearSelfAttention(d, heads)
        self.n2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        return x + self.ff(self.n2(x))


class BIOTStandIn(nn.Module):
    """BIOT encoder stand-in. Input (batch, channels, samples) at 200 Hz -> (batch, 256)."""

    def __init__(self, n_channels: int = 19, d: int = 256, heads: int = 8, depth: int = 4,
                 n_fft: int = 200, hop: int = 100):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.patch = nn.Linear(n_fft // 2 + 1, d)  # PatchFrequencyEmbedding
        self.channel_tokens = nn.Embedding(n_channels, d)
        self.layers = nn.ModuleList(_BIOTLayer(d, heads) for _ in range(depth))
        self.d = d
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def _positions(self, n: int, device) -> torch.Tensor:
        pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
        div = torch.exp(torch.arange(0, self.d, 2, device=device) * (-math.log(10000.0) / self.d))
        pe = torch.zeros(n, self.d, device=device)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        return pe

    def forward(self, x):
        B, C, S = x.shape
        spec = torch.stft(x.reshape(B * C, S), self.n_fft, self.hop, window=self.window,
                          return_complex=True).abs()  # (B*C, 101, frames)
        tok = self.patch(spec.transpose(1, 2))  # (B*C, frames, d)
        T = tok.shape[1]
        tok = tok + self._positions(T, x.device)
        tok = tok.view(B, C, T, self.d) + self.channel_tokens.weight[None, :C, None, :]
        h = tok.reshape(B, C * T, self.d)  # (B, channels x frames, d)
        for layer in self.layers:
            h = layer(h)
        return h.mean(1)


# ------------------------------------------------------------------------------------ LaBraM
class _TemporalConv(nn.Module):
    """LaBraM's temporal encoder: (B, C, P, 200) patches -> (B, C, P, 200) embeddings."""

    def __init__(self, out_chans: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(1, out_chans, (1, 15), (1, 8), (0, 7))
        self.norm1 = nn.GroupNorm(4, out_chans)
        self.conv2 = nn.Conv2d(out_chans, out_chans, (1, 3), padding=(0, 1))
        self.norm2 = nn.GroupNorm(4, out_chans)
        self.conv3 = nn.Conv2d(out_chans, out_chans, (1, 3), padding=(0, 1))
        self.norm3 = nn.GroupNorm(4, out_chans)

    def forward(self, x):
        B, C, P, L = x.shape
        x = x.reshape(B, 1, C * P, L)  # (B, 1, patches, samples)
        x = F.gelu(self.norm1(self.conv1(x)))  # (B, 8, patches, 25)
        x = F.gelu(self.norm2(self.conv2(x)))
        x = F.gelu(self.norm3(self.conv3(x)))
        return x.permute(0, 2, 1, 3).reshape(B, C * P, -1)  # (B, patches, 8 * 25 = 200)


class _LaBraMBlock(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.h = heads
        self.n1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=True)
        self.q_norm, self.k_norm = nn.LayerNorm(d // heads), nn.LayerNorm(d // heads)
        self.proj = nn.Linear(d, d)
        self.n2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.g1 = nn.Parameter(torch.full((d,), 0.1))
        self.g2 = nn.Parameter(torch.full((d,), 0.1))

    def forward(self, x):
        B, N, d = x.shape
        q, k, v = self.qkv(self.n1(x)).view(B, N, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(self.q_norm(q), self.k_norm(k), v)
        x = x + self.g1 * self.proj(a.transpose(1, 2).reshape(B, N, d))
        return x + self.g2 * self.mlp(self.n2(x))


class LaBraMStandIn(nn.Module):
    """LaBraM-Base stand-in. Input (batch, channels, samples) at 200 Hz, samples a multiple of
    200 -> (batch, 200)."""

    def __init__(self, n_channels: int = 19, d: int = 200, depth: int = 12, heads: int = 10,
                 patch: int = 200, max_patches: int = 16):
        super().__init__()
        self.patch = patch
        self.temporal = _TemporalConv()
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, n_channels + 1, d) + 0.02)  # spatial (+cls)
        self.time = nn.Parameter(torch.zeros(1, max_patches, d) + 0.02)  # temporal
        self.blocks = nn.ModuleList(_LaBraMBlock(d, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(d)

    def forward(self, x):
        B, C, S = x.shape
        P = S // self.patch
        x = x[..., : P * self.patch].reshape(B, C, P, self.patch)  # (B, C, P, 200)
        h = self.temporal(x)  # (B, C*P, 200)
        d = h.shape[-1]
        h = h.view(B, C, P, d) + self.pos[:, 1:C + 1, None, :] + self.time[:, None, :P, :]
        h = torch.cat([self.cls.expand(B, 1, d) + self.pos[:, :1], h.reshape(B, C * P, d)], 1)
        for blk in self.blocks:
            h = blk(h)
        return self.norm(h[:, 1:].mean(1))


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
