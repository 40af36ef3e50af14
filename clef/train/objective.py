"""The two pretraining objectives as one module (what DDP wraps), and per-stage trainable sets.

Stage 1 is masked reconstruction of the hidden tokens: their patch values (MSE,
``recon_target="patches"``) or their VQ codes (cross-entropy over the codebook,
``recon_target="codes"``, as BEiT; the model needs ``ModelConfig.vq_tokenizer``). With
``summary_weight`` > 0 it also predicts the whole session's summary (each region/band's mean
spectrum and its variability over time) from the pooled, projected visible tokens.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from clef.model.clef_model import CLEFModel
from clef.model.losses import (
    ClipLoss,
    MaskedReconLoss,
    MultiPositiveClipLoss,
    similarity_keep_loss,
)
from clef.train.config import TrainConfig
from clef.train.data import Batch, unit_noise

# Parameters trained in each stage (prefixes of CLEFModel parameter names).
RECON_PARAMS = ("eeg.embed.", "eeg.stack.", "decoder.")  # stage 1 (also what init_from copies)
# Also trained in stage 1 by the session-summary term; the head is used in stage 1 only. Stage 2
# (init_from) starts pool and projection afresh: carrying them over measured worse
# (benchmarks/results/stage1_summary.md, (a) vs (b)).
SUMMARY_PARAMS = ("eeg.pool.", "eeg_proj.", "summary_head.")
ALIGN_FROZEN_WITHOUT_RECON = ("decoder.",)
NEVER_TRAINED = ("eeg.embed.vq.",)  # the frozen VQ tokenizer inside a VQ model
# The decoder head the other stage-1 target uses (unused parameters would break DDP).
UNUSED_HEAD = {"patches": ("decoder.code_head.",), "codes": ("decoder.head.",)}


def set_trainable(model: CLEFModel, stage: str, cfg: TrainConfig) -> list[str]:
    """Freeze what a stage does not use (DDP needs every trainable parameter used). -> names."""
    names = []
    for name, p in model.named_parameters():
        if stage == "recon":
            on = name.startswith(RECON_PARAMS) or (cfg.summary_weight > 0
                                                   and name.startswith(SUMMARY_PARAMS))
        elif cfg.freeze_encoder:  # stage 2 with the stage-1 encoder locked: pool + towers
            on = not name.startswith(RECON_PARAMS)
        else:
            on = not (cfg.align_recon_weight <= 0 and name.startswith(ALIGN_FROZEN_WITHOUT_RECON))
        if stage == "align" and cfg.freeze_text and name.startswith("text."):
            on = False  # locked text tower: only the EEG/EHR side moves towards it
        if name.startswith(NEVER_TRAINED + UNUSED_HEAD[cfg.recon_target]):
            on = False
        if stage != "recon" and name.startswith("summary_head."):
            on = False
        p.requires_grad_(on)
        if on:
            names.append(name)
    return names


class PretrainObjective(nn.Module):
    """``forward(batch, stage) -> (loss, logs)`` for ``stage`` in {"recon", "align"}.

    Under DDP the losses use global-batch normalization (see ``clef.model.losses``), so any
    number of ranks gives the single-process gradient of the same global batch.
    """

    def __init__(self, model: CLEFModel, cfg: TrainConfig):
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.clip = ClipLoss()
        self.multi = MultiPositiveClipLoss()
        self.recon = MaskedReconLoss()
        self.code_loss = MaskedCodeLoss()
        self.summary_loss = SessionSummaryLoss(model) if cfg.summary_weight > 0 else None
        if cfg.recon_target == "codes" and not model.eeg.embed.n_codes:
            raise ValueError("recon_target='codes' predicts VQ codes but the model has no VQ "
                             "tokenizer. Fix: pass --vq-tokenizer DIR (a `clef tokenizer train` "
                             "folder), or --recon-target patches.")

    def recon_loss(self, batch: Batch, return_pooled: bool = False):
        """Stage-1 loss on the hidden tokens: patch MSE, or code cross-entropy [, pooled
        visible states (B, d_model) of the pass]."""
        loss, pooled, _ = self._stage1_pass(batch, self._noise(batch), summary=False)
        return (loss, pooled) if return_pooled else loss

    def _noise(self, batch: Batch) -> torch.Tensor:
        """The batch's masking noise, shared within each ``mask_unit``. -> (B, N)"""
        return unit_noise(batch.noise, batch.tokens, self.cfg.mask_unit)

    def _stage1_pass(self, batch: Batch, noise: torch.Tensor, summary: bool):
        """One masked pass -> (reconstruction loss, pooled visible states (B, d_model), summary
        head prediction (B, summary_dim) or None)."""
        if self.cfg.recon_target == "codes":
            logits, codes, masked, pooled = self.model.predict_codes(
                batch.tokens, noise, self.cfg.mask_ratio, return_pooled=True)
            return self.code_loss(logits, codes, masked), pooled, None
        pred, masked, valid, pooled, *head = self.model.reconstruct(
            batch.tokens, noise, self.cfg.mask_ratio, return_pooled=True,
            return_summary=summary)
        target = batch.tokens.values.to(pred.device)
        loss = self.recon(pred, target, masked.to(pred.device), valid)
        return loss, pooled, (head[0] if summary else None)

    def session_contrast(self, batch: Batch, noise: torch.Tensor,
                         pooled: torch.Tensor) -> torch.Tensor:
        """InfoNCE between a masked view's pooled states and the complementary view's.

        The second view keeps the highest-noise tokens (``1 - noise``): with ``mask_ratio``
        >= 0.5 the two views share no token, so matching them needs what is stable across the
        session, which is what a mean-pooled session embedding should carry.
        """
        other = self.model.visible_mean(batch.tokens, 1.0 - noise, self.cfg.mask_ratio)
        a = F.normalize(pooled.float(), dim=-1)  # (B, d)
        b = F.normalize(other.float(), dim=-1)  # (B, d)
        scale = torch.tensor(1.0 / self.cfg.contrast_temperature, device=a.device)
        return self.clip(a, b, scale)

    def stage1_loss(self, batch: Batch, logs: dict) -> torch.Tensor:
        """Reconstruction (+ session summary, + session contrast when their weights are > 0),
        from one masked pass; fills ``logs``."""
        cfg = self.cfg
        noise = self._noise(batch)
        loss, pooled, head = self._stage1_pass(batch, noise, summary=self.summary_loss is not None)
        logs["recon"] = loss.detach()
        if head is not None:
            summary = self.summary_loss(head, batch.tokens.to(head.device))
            logs["summary"] = summary.detach()
            loss = loss + cfg.summary_weight * summary
        if cfg.session_contrast_weight > 0:
            contrast = self.session_contrast(batch, noise, pooled)
            logs["contrast"] = contrast.detach()
            loss = loss + cfg.session_contrast_weight * contrast
        return loss

    def forward(self, batch: Batch, stage: str):
        m, cfg = self.model, self.cfg
        logs: dict[str, torch.Tensor] = {}
        if stage == "recon":
            loss = self.stage1_loss(batch, logs)
            return loss, logs
        dev = m.device
        tokens = batch.tokens.to(dev)
        states = batch.states.to(dev) if batch.states is not None else m.eeg(tokens, pool=False)
        mask = tokens.mask
        if cfg.pool_token_drop > 0 and m.training:  # hide a share of tokens from the pool
            keep = batch.noise.to(dev) >= cfg.pool_token_drop  # (b, N)
            mask = mask & (keep | ~(mask & keep).any(-1, keepdim=True))  # never an empty session
        z_eeg = F.normalize(m.pool_project(states, tokens, mask), dim=-1)  # (b, embed)
        z_ehr = F.normalize(m.ehr(batch.ehr), dim=-1)
        if batch.text_pool is not None:  # findings-level: several statements per session
            feats = batch.text_pool.to(dev)  # (M, feat_dim)
            z_txt = F.normalize(m.text(feats), dim=-1)  # (M, embed)
            l_txt = self.multi(z_eeg.float(), z_txt.float(), m.logit_scale.exp(),
                               batch.text_pos.to(dev))
        else:  # whole report, one per session
            feats = batch.text.to(dev)  # (b, feat_dim)
            z_txt = F.normalize(m.text(feats), dim=-1)
            l_txt = self.clip(z_eeg.float(), z_txt.float(), m.logit_scale.exp(),
                              batch.text_group.to(dev))
        l_ehr = self.clip(z_eeg.float(), z_ehr.float(), m.logit_scale_ehr.exp(),
                          batch.ehr_group.to(dev))
        loss = cfg.text_weight * l_txt + cfg.ehr_weight * l_ehr
        logs.update(clip_text=l_txt.detach(), clip_ehr=l_ehr.detach())
        if cfg.text_keep_weight > 0 and not cfg.freeze_text:  # keep the backbone geometry
            keep = similarity_keep_loss(z_txt, feats)
            loss = loss + cfg.text_keep_weight * keep
            logs["text_keep"] = keep.detach()
        if cfg.align_recon_weight > 0 and not cfg.freeze_encoder:
            stage1 = self.stage1_loss(batch, logs)
            loss = loss + cfg.align_recon_weight * stage1
        return loss, logs


class MaskedCodeLoss(nn.Module):
    """Cross-entropy of the true VQ code over the masked real tokens only.

    ``forward(logits, codes, masked)``: logits (B, N, K), codes (B, N) int64, masked (B, N) bool.
    Normalized like ``MaskedReconLoss`` (global count of masked tokens, scaled by the world size),
    so DDP's gradient averaging yields the global mean's gradient.
    """

    def forward(self, logits, codes, masked):
        ce = F.cross_entropy(logits.float().flatten(0, 1), codes.flatten(), reduction="none")
        total = (ce.view(codes.shape) * masked).sum()
        count = masked.sum().to(torch.float32).detach()
        w = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        if w > 1:
            count = count.clone()
            dist.all_reduce(count)
        return total / count.clamp_min(1.0) * w


class SessionSummaryLoss(nn.Module):
    """MSE between the summary head's prediction and the session's summary (all its tokens).

    The summary of a session is, for each (region, band) slot, the mean over its tokens of the
    window-averaged patch (channels x bins) and the standard deviation of that over the
    session's time patches: (B, regions * bands * 2 * channels * bins), in
    :func:`clef.model.clef_model.summary_dim` order. Padding channels/bins and slots a session
    has no token in are left out. ``forward(pred (B, S), tokens) -> scalar``.
    """

    def __init__(self, model: CLEFModel):
        super().__init__()
        from clef.tokenizer import PatchLayout

        lay = PatchLayout.from_config(model.config.tokenizer_config())
        self.shape = (lay.group_size, lay.windows_per_patch, lay.bins_per_band)
        self.n_bands = lay.n_bands
        valid = model.patch_valid.view(-1, *self.shape).any(2)  # (slots, gsize, bins)
        self.register_buffer("slot_valid", valid.flatten(1), persistent=False)  # (S, F)
        self.register_buffer("center", None, persistent=False)  # (S * 2 * F,) after fit_scale
        self.register_buffer("scale", None, persistent=False)

    @torch.no_grad()
    def fit_scale(self, data, batch_size: int = 64, floor: float = 0.01) -> None:
        """Standardize each summary number by its mean and standard deviation over ``data``.

        Without it the MSE is dominated by the numbers that vary most between sessions (broad
        spectral level); with it a rare, small change (a frontal delta burst, a photic response)
        weighs as much. Deterministic in ``data``, so a resumed run refits the same scale.

        Parameters
        ----------
        data : clef.train.data.PretrainData
            The training sessions (every row is read once).
        batch_size : int
            Sessions per read.
        floor : float
            Smallest scale, as a fraction of the mean scale (near-constant numbers are not blown up).
        """
        self.center = self.scale = None  # fit the raw numbers, also when fitting again
        total = total_sq = count = 0.0
        for start in range(0, len(data), batch_size):
            rows = range(start, min(start + batch_size, len(data)))
            target, valid = self.target(data.tokens(rows).to(self.slot_valid.device))
            v = valid.double()
            total = total + (target.double() * v).sum(0)
            total_sq = total_sq + (target.double() ** 2 * v).sum(0)
            count = count + v.sum(0)
        n = count.clamp_min(1.0)
        center = total / n
        std = (total_sq / n - center ** 2).clamp_min(0.0).sqrt()
        seen = count > 1
        floor_value = floor * (std[seen].mean() if seen.any() else torch.tensor(1.0))
        self.center = center.float()
        self.scale = torch.where(seen, std.clamp_min(floor_value), torch.ones_like(std)).float()

    def target(self, tokens) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (summary (B, S * 2 * F), valid (B, S * 2 * F) bool)."""
        B, N, _ = tokens.values.shape
        x = tokens.values.float().view(B, N, *self.shape).mean(3).flatten(2)  # (B, N, F)
        slot = tokens.region_idx * self.n_bands + tokens.band_idx  # (B, N)
        S = self.slot_valid.shape[0]
        w = F.one_hot(slot, S).float() * tokens.mask[..., None]  # (B, N, S)
        count = w.sum(1)  # (B, S)
        mean = torch.einsum("bns,bnf->bsf", w, x) / count.clamp_min(1.0)[..., None]
        sq = torch.einsum("bns,bnf->bsf", w, x * x) / count.clamp_min(1.0)[..., None]
        std = (sq - mean * mean).clamp_min(0.0).add(1e-6).sqrt()  # (B, S, F)
        valid = self.slot_valid[None] & (count > 0)[..., None]  # (B, S, F)
        summary = torch.stack([mean, std], 2).flatten(1)  # (B, S * 2 * F)
        if self.scale is not None:
            summary = (summary - self.center) / self.scale
        return summary, torch.stack([valid, valid], 2).flatten(1)

    def forward(self, pred: torch.Tensor, tokens) -> torch.Tensor:
        with torch.no_grad():
            target, valid = self.target(tokens)
        err = (pred.float() - target) ** 2 * valid
        return err.sum() / valid.sum().clamp_min(1)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: no decay for biases, norms, embeddings, pooling queries, temperatures."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = (p.ndim < 2 or "logit_scale" in name or "norm" in name or "embed.region" in name
                or "embed.band" in name or "embed.code" in name or ".region." in name or ".band." in name
                or "mask_token" in name or "query" in name or name.startswith(("ehr.dx.",
                                                                              "ehr.med.")))
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
