"""Pretraining losses as modules: symmetric InfoNCE (after open_clip's ``ClipLoss``) and masked
spectrogram reconstruction. Both give the exact full-batch gradient under DDP (see ``forward``).
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _AllGather(torch.autograd.Function):
    """All-gather whose backward sums every rank's gradient of the gathered tensor and returns
    this rank's slice (a reduce-scatter). Ranks must hold equal-sized ``x``."""

    @staticmethod
    def forward(ctx, x):
        out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(out, x.contiguous())
        return torch.cat(out, dim=0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # sum over ranks
        n = grad.shape[0] // dist.get_world_size()
        r = dist.get_rank()
        return grad[r * n:(r + 1) * n]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (n, ...) from every rank in rank order, keeping the autograd graph."""
    if _world() == 1:
        return x
    return _AllGather.apply(x)


def gather_plain(x: torch.Tensor) -> torch.Tensor:
    """All-gather without gradient (labels, ids)."""
    if _world() == 1:
        return x
    out = [torch.empty_like(x) for _ in range(_world())]
    dist.all_gather(out, x.contiguous())
    return torch.cat(out, dim=0)


class ClipLoss(nn.Module):
    """Symmetric cross-entropy over cosine similarities of paired embeddings.

    ``forward(a, b, logit_scale, group_ids=None)``: ``a``, ``b`` (n, d) L2-normalized, row i of
    ``a`` paired with row i of ``b``. Items sharing a ``group_id`` (e.g. the same report text) are
    all counted as positives (uniform soft targets) instead of as false negatives.

    Under DDP every rank gathers the global batch with gradient and computes the full loss; the
    gather's backward sums the ranks' gradients and DDP averages them, which reproduces the
    single-process gradient of the global batch.
    """

    def forward(self, a, b, logit_scale, group_ids=None):
        a_all, b_all = gather_with_grad(a), gather_with_grad(b)  # (N, d)
        logits = logit_scale * a_all @ b_all.t()  # (N, N)
        n = logits.shape[0]
        if group_ids is None:
            target = torch.arange(n, device=logits.device)
            return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))
        g = gather_plain(group_ids.to(logits.device))
        same = (g[:, None] == g[None, :]).to(logits.dtype)  # (N, N)
        target = same / same.sum(1, keepdim=True)
        lp_ab = F.log_softmax(logits, dim=1)
        lp_ba = F.log_softmax(logits.t(), dim=1)
        return 0.5 * (-(target * lp_ab).sum(1).mean() - (target * lp_ba).sum(1).mean())


class MaskedReconLoss(nn.Module):
    """Mean squared error over the masked real tokens only (mean over patch values).

    ``forward(pred, target, masked, valid=None)``: pred/target (B, N, P), masked (B, N) bool,
    valid (B, N, P) bool marks patch values from real channels/bins (the tokenizer's zero padding
    is not scored). Normalized by the global count of masked tokens, scaled by the world size, so
    DDP's gradient averaging yields the global mean's gradient.
    """

    def forward(self, pred, target, masked, valid=None):
        sq = (pred.float() - target.float()) ** 2  # (B, N, P)
        if valid is None:
            err = sq.mean(-1)  # (B, N)
        else:
            v = valid.to(sq.dtype)
            err = (sq * v).sum(-1) / v.sum(-1).clamp_min(1.0)  # (B, N)
        total = (err * masked).sum()
        count = masked.sum().to(torch.float32).detach()
        w = _world()
        if w > 1:
            count = count.clone()
            dist.all_reduce(count)
        return total / count.clamp_min(1.0) * w


class MultiPositiveClipLoss(nn.Module):
    """Symmetric InfoNCE where a session has several positive texts (its affirmed statements and
    its findings summary) and a text may belong to several sessions (identical statements).

    ``forward(a, b, logit_scale, pos)``: ``a`` (B, d) session embeddings, ``b`` (M, d) texts,
    both L2-normalized; ``pos`` (B, M) bool marks the positive pairs. Each direction is a soft
    cross-entropy with uniform targets over a row's (column's) positives; texts with no positive
    session (e.g. a negated statement added as an explicit negative) only act as negatives in the
    session -> text direction. With ``pos`` the identity it equals :class:`ClipLoss`.

    Single process only: under DDP the pools of the ranks differ in size.
    """

    def forward(self, a, b, logit_scale, pos):
        if _world() > 1:
            raise RuntimeError("MultiPositiveClipLoss does not support DDP yet. Fix: train the "
                               "findings-level alignment in one process, or use --text-target "
                               "report.")
        pos = pos.to(a.device, torch.float32)  # (B, M)
        logits = logit_scale * a @ b.t()  # (B, M)
        row_n = pos.sum(1)  # (B,)
        col_n = pos.sum(0)  # (M,)
        rows, cols = row_n > 0, col_n > 0
        lp_ab = F.log_softmax(logits[rows], dim=1)  # sessions -> texts
        l_ab = -((pos[rows] / row_n[rows, None]) * lp_ab).sum(1).mean()
        lp_ba = F.log_softmax(logits.t()[cols], dim=1)  # texts -> sessions
        l_ba = -((pos.t()[cols] / col_n[cols, None]) * lp_ba).sum(1).mean()
        return 0.5 * (l_ab + l_ba)


def similarity_keep_loss(z: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the cosine similarities of texts in the shared space
    (``z`` (M, d), unit norm) and in the frozen backbone (``feats`` (M, f)): keeps the text tower
    from erasing what the backbone knows. Under DDP the texts of every rank are gathered (as in
    :class:`ClipLoss`), so the gradient is the single-process one of the global batch."""
    z = gather_with_grad(z.float())
    f = F.normalize(gather_plain(feats.float().contiguous()), dim=-1)
    return ((z @ z.t() - f @ f.t()) ** 2).mean()
