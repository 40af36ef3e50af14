"""A VQ-VAE over 3-D multitaper patches: encoder -> vector quantiser (codebook) -> decoder.

The learned tokenizer of issue 15 (the paper's "VQ-GAN" tokenizer, without the adversarial term:
see ``VQConfig``). Each multitaper patch (channel group x ``windows_per_patch`` windows x band
bins, the linear tokenizer's ``patch_dim`` values) becomes one discrete code; the decoder maps a
code (plus its region and band) back to the patch. A 20-minute session keeps the linear layout's
token count (500 at ``TokenizerConfig.tiny()``, 2,000 at ``.base()``), under the paper's 2,048.

Codebook safeguards: exponential-moving-average codebook updates (no codebook gradient, as in
VQ-VAE-2) and dead-code restarts (a code unused for ``restart_after`` updates is moved onto a
random encoder output of the current batch). The encoder gets the commitment loss
``beta * ||z - sg(q)||^2``; gradients pass the quantiser straight through (``z + sg(q - z)``).

Weights are saved as safetensors with a JSON config (:func:`save_vq`, :func:`load_vq`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from clef.fileio import atomic_write, atomic_write_text
from clef.tokenizer.config import from_fields

WEIGHTS, CONFIG = "vq_tokenizer.safetensors", "vq_tokenizer.json"


@dataclass(frozen=True)
class VQConfig:
    """Sizes and loss weights of the VQ tokenizer.

    No adversarial (GAN) or perceptual term: on smooth log-power patches the L2 reconstruction
    already gives sharp spectra, and a discriminator would double the CPU cost (not tried).
    """

    patch_dim: int = 1200  # input values per patch (the linear layout's patch_dim)
    n_regions: int = 5
    n_bands: int = 2
    hidden: int = 256  # MLP width of encoder and decoder
    code_dim: int = 32  # latent size per token (what the quantiser sees)
    codebook_size: int = 512
    beta: float = 0.25  # commitment weight
    ema_decay: float = 0.9  # codebook EMA; 0 would copy the batch means (0.99 lagged the encoder)
    restart_after: int = 50  # updates without use before a code is restarted (0: never)
    eps: float = 1e-5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> VQConfig:
        return from_fields(cls, d)


class VectorQuantizer(nn.Module):
    """Nearest-code quantiser with EMA codebook, dead-code restarts and a straight-through gradient.

    Parameters
    ----------
    n_codes, dim : int
    decay : float
        EMA decay of the codebook statistics.
    restart_after : int
        Training updates a code may stay unused before it is restarted (0: never).
    """

    def __init__(self, n_codes: int, dim: int, decay: float = 0.99, restart_after: int = 50,
                 eps: float = 1e-5):
        super().__init__()
        self.decay, self.restart_after, self.eps = decay, restart_after, eps
        self.register_buffer("codebook", torch.randn(n_codes, dim) * 0.1)  # (K, D)
        self.register_buffer("ema_count", torch.ones(n_codes))  # (K,)
        self.register_buffer("ema_sum", self.codebook.clone())  # (K, D)
        self.register_buffer("idle", torch.zeros(n_codes, dtype=torch.int64))  # updates unused
        self.register_buffer("initialised", torch.tensor(False))

    @property
    def n_codes(self) -> int:
        return int(self.codebook.shape[0])

    def codes(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code. z (..., D) -> (...) int64."""
        flat = z.reshape(-1, z.shape[-1])  # (M, D)
        d = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.T
             + self.codebook.pow(2).sum(1)[None])  # (M, K)
        return d.argmin(1).view(z.shape[:-1])

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Code vectors. codes (...) -> (..., D)."""
        return F.embedding(codes, self.codebook)

    def forward(self, z: torch.Tensor):
        """z (M, D) -> (quantised with straight-through gradient (M, D), codes (M,), commit loss)."""
        if self.training and not bool(self.initialised):
            self._init_from(z.detach())
        codes = self.codes(z)  # (M,)
        q = self.lookup(codes)  # (M, D)
        commit = F.mse_loss(z, q.detach())
        if self.training:
            self._ema_update(z.detach(), codes)
        return z + (q - z).detach(), codes, commit

    @torch.no_grad()
    def _init_from(self, z: torch.Tensor) -> None:
        """Codebook from random encoder outputs of the first batch (k-means++-free init)."""
        idx = torch.randint(0, z.shape[0], (self.n_codes,), device=z.device)
        self.codebook.copy_(z[idx] + 1e-3 * torch.randn_like(z[idx]))
        self.ema_sum.copy_(self.codebook)
        self.ema_count.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _ema_update(self, z: torch.Tensor, codes: torch.Tensor) -> None:
        onehot = F.one_hot(codes, self.n_codes).to(z.dtype)  # (M, K)
        count = onehot.sum(0)  # (K,)
        self.ema_count.mul_(self.decay).add_(count, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(onehot.T @ z, alpha=1 - self.decay)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + self.eps) / (n + self.n_codes * self.eps) * n  # Laplace
        self.codebook.copy_(self.ema_sum / smoothed[:, None])
        self.idle.add_(1).mul_((count == 0).long())
        if self.restart_after > 0:
            dead = torch.nonzero(self.idle >= self.restart_after).flatten()
            if dead.numel():
                pick = torch.randint(0, z.shape[0], (dead.numel(),), device=z.device)
                self.codebook[dead] = z[pick]
                self.ema_sum[dead] = z[pick]
                self.ema_count[dead] = 1.0
                self.idle[dead] = 0


class VQTokenizerModel(nn.Module):
    """Patch values (+ region, band) -> code -> reconstructed patch values.

    Parameters
    ----------
    config : VQConfig
    """

    def __init__(self, config: VQConfig):
        super().__init__()
        c = self.config = config
        self.region = nn.Embedding(c.n_regions, c.hidden)
        self.band = nn.Embedding(c.n_bands, c.hidden)
        self.enc_in = nn.Linear(c.patch_dim, c.hidden)
        self.enc = nn.Sequential(nn.GELU(), nn.LayerNorm(c.hidden), nn.Linear(c.hidden, c.hidden),
                                 nn.GELU(), nn.Linear(c.hidden, c.code_dim))
        self.quantizer = VectorQuantizer(c.codebook_size, c.code_dim, c.ema_decay,
                                         c.restart_after, c.eps)
        self.dec_in = nn.Linear(c.code_dim, c.hidden)
        self.dec = nn.Sequential(nn.GELU(), nn.LayerNorm(c.hidden), nn.Linear(c.hidden, c.hidden),
                                 nn.GELU(), nn.Linear(c.hidden, c.patch_dim))

    def encode(self, values, region_idx, band_idx) -> torch.Tensor:
        """Continuous latents. values (..., patch_dim) -> (..., code_dim)."""
        h = self.enc_in(values) + self.region(region_idx) + self.band(band_idx)
        return self.enc(h)

    def decode(self, q, region_idx, band_idx) -> torch.Tensor:
        """Latents or code vectors (..., code_dim) -> patch values (..., patch_dim)."""
        return self.dec(self.dec_in(q) + self.region(region_idx) + self.band(band_idx))

    def codes(self, values, region_idx, band_idx) -> torch.Tensor:
        """Discrete codes of patches. (..., patch_dim) -> (...) int64."""
        return self.quantizer.codes(self.encode(values, region_idx, band_idx))

    def decode_codes(self, codes, region_idx, band_idx) -> torch.Tensor:
        """Codes (...) -> reconstructed patch values (..., patch_dim)."""
        return self.decode(self.quantizer.lookup(codes), region_idx, band_idx)

    def forward(self, values, region_idx, band_idx, valid=None):
        """Training pass on real tokens. values (M, patch_dim); region_idx, band_idx (M,).

        ``valid`` (M, patch_dim) bool limits the reconstruction loss to real channels and bins.

        Returns
        -------
        dict with ``loss``, ``recon`` (masked MSE), ``commit``, ``codes`` (M,), ``pred``.
        """
        z = self.encode(values, region_idx, band_idx)  # (M, code_dim)
        q, codes, commit = self.quantizer(z)
        pred = self.decode(q, region_idx, band_idx)  # (M, patch_dim)
        err = (pred - values).pow(2)
        if valid is not None:
            recon = (err * valid).sum() / valid.sum().clamp_min(1)
        else:
            recon = err.mean()
        loss = recon + self.config.beta * commit
        return {"loss": loss, "recon": recon, "commit": commit, "codes": codes, "pred": pred}


def save_vq(model: VQTokenizerModel, folder, tokenizer_config: dict | None = None,
            info: dict | None = None) -> Path:
    """Write ``vq_tokenizer.safetensors`` + ``vq_tokenizer.json`` (VQ and multitaper configs)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(folder / WEIGHTS, lambda p: save_file(state, str(p)))
    meta = {"vq": model.config.to_dict(), "tokenizer": tokenizer_config or {}, "info": info or {}}
    atomic_write_text(folder / CONFIG, json.dumps(meta, indent=1, sort_keys=True))
    return folder


def load_vq(folder) -> tuple[VQTokenizerModel, dict]:
    """Inverse of :func:`save_vq`: (model in eval mode, the JSON dict)."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise FileNotFoundError(f"{folder} holds no {CONFIG}; train one with `clef tokenizer train`")
    meta = json.loads((folder / CONFIG).read_text())
    model = VQTokenizerModel(VQConfig.from_dict(meta["vq"]))
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    return model.eval(), meta
