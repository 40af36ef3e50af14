"""The EEG session encoder: spectrogram tokens -> per-token states -> one session embedding.

Token embedding = linear projection of the patch + learned region and band embeddings; time enters
as rotary positions on ``time_idx`` (relative, so any session length works). Pre-norm Transformer
blocks use ``scaled_dot_product_attention`` with the padding mask, then attention pooling.

Context. Attention runs inside *groups* of tokens:

- ``session`` arch: one group per session while it fits ``max_tokens``; a longer session is cut
  into the fewest equal chunks of consecutive time that fit (each chunk attends within itself) and
  the attention pool still spans all of the session's tokens. A 20-minute session at the tokenizer
  presets fits in one group.
- ``short-window`` arch (baseline): one group per ``window_s`` seconds; each window is pooled alone
  and the session embedding is the mean of its window embeddings.

Groups depend only on a session's own tokens, so padding never changes an embedding.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from clef.model.config import DecoderConfig, EncoderConfig
from clef.tokens import Tokens


# ------------------------------------------------------------------------------------ rotary
def rope_angles(time_idx: torch.Tensor, head_dim: int, base: float):
    """cos/sin tables for rotary positions. time_idx (B, N) -> two (B, 1, N, head_dim/2)."""
    inv = base ** (-torch.arange(0, head_dim, 2, device=time_idx.device, dtype=torch.float32)
                   / head_dim)  # (head_dim/2,)
    ang = time_idx.to(torch.float32)[..., None] * inv  # (B, N, head_dim/2)
    return ang.cos()[:, None], ang.sin()[:, None]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of features. x (B, H, N, head_dim)."""
    x1, x2 = x[..., 0::2].float(), x[..., 1::2].float()  # (B, H, N, head_dim/2)
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)  # (B, H, N, hd/2, 2)
    return out.flatten(-2).to(x.dtype)  # (B, H, N, head_dim)


# ------------------------------------------------------------------------------------ blocks
class Block(nn.Module):
    """Pre-norm Transformer block: x + attn(norm(x)); x + mlp(norm(x))."""

    def __init__(self, d: int, n_heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        hidden = round(mlp_ratio * d)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, cos, sin, attn_mask):
        """x (B, N, d); cos/sin (B, 1, N, hd/2); attn_mask bool (B, 1, 1, N), True = attend."""
        B, N, d = x.shape
        h = self.n_heads
        qkv = self.qkv(self.norm1(x)).view(B, N, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, H, N, head_dim)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        a = a.transpose(1, 2).reshape(B, N, d)  # (B, N, d)
        x = x + self.drop(self.proj(a))
        return x + self.drop(self.mlp(self.norm2(x)))


class Stack(nn.Module):
    """Blocks + final norm over packed groups. x (G, L, d), time (G, L), mask (G, L)."""

    def __init__(self, d: int, n_layers: int, n_heads: int, mlp_ratio: float, dropout: float,
                 rope_base: float):
        super().__init__()
        self.blocks = nn.ModuleList(Block(d, n_heads, mlp_ratio, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d)
        self.head_dim = d // n_heads
        self.rope_base = rope_base

    def forward(self, x, time_idx, mask):
        # Rows with no real token (never produced by `pack`) would give NaN: let them attend all.
        key = mask | ~mask.any(-1, keepdim=True)  # (G, L)
        attn_mask = key[:, None, None, :]  # (G, 1, 1, L)
        # Relative time only: shift each group to start at 0 (keeps angles small for long sessions).
        t = time_idx - torch.where(mask, time_idx, time_idx.max() + 1).amin(-1, keepdim=True)
        t = t.clamp_min(0)
        cos, sin = rope_angles(t, self.head_dim, self.rope_base)
        for blk in self.blocks:
            x = blk(x, cos, sin, attn_mask)
        return self.norm(x)


# ------------------------------------------------------------------------------------ groups
class Packing:
    """Scatter tokens of (B, N) into dense groups (G, L) and back.

    ``group`` (B, N) int64 gives each real token its group within its session; padding is ignored.
    """

    def __init__(self, group: torch.Tensor, mask: torch.Tensor):
        B, N = group.shape
        n_per = int(group[mask].max().item()) + 1 if bool(mask.any()) else 1
        key = torch.arange(B, device=group.device)[:, None] * n_per + group  # (B, N)
        key = torch.where(mask, key, torch.full_like(key, B * n_per)).flatten()  # (B*N,)
        order = torch.argsort(key, stable=True)
        ks = key[order]
        real = ks < B * n_per
        ks, self.flat_idx = ks[real], order[real]  # (R,) sorted keys; source index into B*N
        uniq, counts = torch.unique_consecutive(ks, return_counts=True)  # G non-empty groups
        starts = torch.cumsum(counts, 0) - counts
        self.gid = torch.repeat_interleave(torch.arange(len(uniq), device=group.device), counts)
        self.pos = torch.arange(len(ks), device=group.device) - starts[self.gid]  # (R,)
        self.session_of_group = uniq // n_per  # (G,)
        self.shape = (B, N)
        self.n_groups = len(uniq)
        self.length = int(counts.max().item()) if len(counts) else 1

    def pack(self, x: torch.Tensor, fill=0) -> torch.Tensor:
        """(B, N, ...) -> (G, L, ...)."""
        flat = x.reshape(self.shape[0] * self.shape[1], *x.shape[2:])  # (B*N, ...)
        out = flat.new_full((self.n_groups, self.length, *x.shape[2:]), fill)
        out[self.gid, self.pos] = flat[self.flat_idx]
        return out

    def mask(self) -> torch.Tensor:
        m = torch.zeros(self.n_groups, self.length, dtype=torch.bool, device=self.gid.device)
        m[self.gid, self.pos] = True
        return m  # (G, L)

    def unpack(self, y: torch.Tensor) -> torch.Tensor:
        """(G, L, ...) -> (B, N, ...), zeros at padding."""
        B, N = self.shape
        out = y.new_zeros((B * N, *y.shape[2:]))
        out[self.flat_idx] = y[self.gid, self.pos]
        return out.view(B, N, *y.shape[2:])


def chunk_groups(time_idx: torch.Tensor, mask: torch.Tensor, max_tokens: int) -> torch.Tensor:
    """Equal chunks of consecutive time, at most ``max_tokens`` each. -> group (B, N) int64."""
    n = mask.sum(-1, keepdim=True)  # (B, 1)
    n_chunks = torch.clamp((n + max_tokens - 1) // max_tokens, min=1)  # (B, 1)
    big = torch.iinfo(torch.int64).max // 4
    key = torch.where(mask, time_idx, torch.full_like(time_idx, big))
    order = torch.argsort(key, dim=-1, stable=True)
    rank = torch.argsort(order, dim=-1)  # (B, N) position of each token in time order
    return torch.div(rank * n_chunks, n.clamp_min(1), rounding_mode="floor")


def window_groups(time_idx: torch.Tensor, time_patch_s: float, window_s: float) -> torch.Tensor:
    """Index of the ``window_s``-second window each token's time patch starts in. -> (B, N)."""
    per = max(1, round(window_s / time_patch_s))  # time patches per window
    return torch.div(time_idx, per, rounding_mode="floor")


# ------------------------------------------------------------------------------------ pooling
class AttentionPool(nn.Module):
    """Learned queries attend over the states. x (G, L, d), mask (G, L) -> (G, n_queries * d).

    ``whole``: one query over all tokens (the session pool). ``n_regions`` > 0: one more query per
    region that pools only its own region's tokens (``region_idx``), so the output keeps which side
    and region a finding is in (a pool over all regions mixes left and right). A region with no
    token under ``mask`` gives zeros.
    """

    def __init__(self, d: int, n_heads: int, n_regions: int = 0, whole: bool = True):
        super().__init__()
        self.n_heads = n_heads
        self.n_regions = n_regions
        self.whole = whole
        self.n_queries = int(whole) + n_regions
        self.query = nn.Parameter(torch.randn(1, self.n_queries, d) * 0.02)
        self.kv = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x, mask, region_idx=None):
        if self.n_regions == 0:
            return self.attend(x, mask[:, None, :], torch.zeros(1, dtype=torch.long))[:, 0]
        masks = self.query_masks(mask, region_idx)  # (G, Q, L)
        out = self.attend(x, masks, torch.arange(self.n_queries))  # (G, Q, d)
        return (out * masks.any(-1, keepdim=True)).flatten(1)  # (G, Q * d)

    def query_masks(self, mask, region_idx):
        """The tokens each query pools: mask (G, L), region_idx (G, L) -> (G, Q, L) bool
        (the whole-session query first, then one per region)."""
        regions = torch.arange(self.n_regions, device=mask.device)
        m = mask[:, None, :] & (region_idx[:, None, :] == regions[None, :, None])  # (G, R, L)
        return torch.cat([mask[:, None, :], m], 1) if self.whole else m

    def attend(self, x, masks, query_idx):
        """Pool ``x`` (G, L, d) once per mask: masks (G, M, L) bool, ``query_idx`` (M,) the query
        each mask uses. -> (G, M, d). A mask with no token attends to every position."""
        G, L, d = x.shape
        h, M = self.n_heads, masks.shape[1]
        kv = self.kv(x).view(G, L, 2, h, d // h).permute(2, 0, 3, 1, 4)  # (2, G, H, L, hd)
        k, v = kv.unbind(0)
        q = self.query[0, query_idx.to(x.device)]  # (M, d)
        q = q.view(1, M, h, d // h).transpose(1, 2).expand(G, h, M, d // h)  # (G, H, M, hd)
        key = masks | ~masks.any(-1, keepdim=True)  # (G, M, L)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=key[:, None])  # (G, H, M, hd)
        return self.norm(self.proj(a.transpose(1, 2).reshape(G, M, d)))  # (G, M, d)


# ------------------------------------------------------------------------------------ encoder
class TokenEmbedding(nn.Module):
    """Patch projection (or code embedding) + region + band embeddings. -> (B, N, d).

    ``vq`` (a ``clef.tokenizer.vq.VQConfig``) adds a frozen VQ tokenizer (``self.vq``, weights from
    :meth:`load_vq` or a checkpoint) that maps each patch to its code (:meth:`token_codes`). With
    ``code_input`` a token's content embedding is a learned embedding of its code (``self.code``)
    instead of the linear projection of its patch values (``self.proj``).
    """

    def __init__(self, patch_dim: int, n_regions: int, n_bands: int, d: int, vq=None,
                 code_input: bool = False):
        super().__init__()
        if code_input and vq is None:
            raise ValueError("code input needs a VQ tokenizer config (ModelConfig.vq_tokenizer)")
        self.code_input = code_input
        if not code_input:
            self.proj = nn.Linear(patch_dim, d)
        self.region = nn.Embedding(n_regions, d)
        self.band = nn.Embedding(n_bands, d)
        nn.init.normal_(self.region.weight, std=0.02)
        nn.init.normal_(self.band.weight, std=0.02)
        self.vq = None
        if vq is not None:
            from clef.tokenizer.vq import VQTokenizerModel

            self.vq = VQTokenizerModel(vq).requires_grad_(False)
        if code_input:
            self.code = nn.Embedding(vq.codebook_size, d)
            nn.init.normal_(self.code.weight, std=0.02)

    @property
    def n_codes(self) -> int:
        return 0 if self.vq is None else int(self.vq.config.codebook_size)

    @torch.no_grad()
    def token_codes(self, values, region_idx, band_idx, mask=None) -> torch.Tensor:
        """Code of each patch from the frozen VQ tokenizer: (B, N, patch_dim) -> (B, N) int64
        (0 where ``mask`` is False)."""
        if self.vq is None:
            raise ValueError("this model has no VQ tokenizer. Fix: set ModelConfig.vq_tokenizer "
                             "(`clef pretrain --vq-tokenizer DIR`).")
        if not bool(self.vq.quantizer.initialised):
            raise RuntimeError("the model's VQ tokenizer weights were never loaded. Fix: keep the "
                               "ModelConfig.vq_tokenizer folder, or load a saved checkpoint.")
        codes = self.vq.codes(values.float(), region_idx, band_idx)
        return codes if mask is None else codes.masked_fill(~mask, 0)

    @torch.no_grad()
    def load_vq(self, folder, code_init: str = "codebook") -> None:
        """Copy the trained VQ tokenizer in ``folder``; ``code_init="codebook"`` starts the code
        embedding from its codebook (standardized, rotated into d dimensions, entry std 0.5)."""
        from clef.tokenizer.vq import load_vq

        trained, _ = load_vq(folder)
        if trained.config != self.vq.config:
            raise ValueError(f"{folder}: VQ config {trained.config} differs from the model's "
                             f"{self.vq.config}")
        self.vq.load_state_dict(trained.state_dict())
        if self.code_input and code_init == "codebook":
            cb = self.vq.quantizer.codebook  # (K, D)
            cb = (cb - cb.mean(0)) / cb.std().clamp_min(1e-8)
            d = self.code.weight.shape[1]
            q, _ = torch.linalg.qr(torch.randn(d, cb.shape[1]))  # (d, D) orthonormal columns
            w = cb @ q.T if cb.shape[1] <= d else cb[:, :d]
            self.code.weight.copy_(0.5 * w / w.std().clamp_min(1e-8))

    def forward(self, values, region_idx, band_idx, codes=None):
        if self.code_input:
            if codes is None:
                codes = self.token_codes(values, region_idx, band_idx)
            x = self.code(codes)
        else:
            x = self.proj(values)
        return x + self.region(region_idx) + self.band(band_idx)


class SessionEncoder(nn.Module):
    """Tokens -> (session states (B, N, d), pooled (B, d)).

    Parameters
    ----------
    cfg : EncoderConfig
    arch : {"session", "short-window"}
    window_s : float
        Window length of the short-window arch.
    pool : {"session", "region", "session+region"}
        One attention pool over all tokens (pooled (B, d)), one per region (pooled
        (B, n_regions * d)), or both, concatenated (pooled (B, (1 + n_regions) * d)).
    vq, code_input :
        A VQ tokenizer config and whether tokens enter as codes (see :class:`TokenEmbedding`).
    """

    def __init__(self, cfg: EncoderConfig, arch: str = "session", window_s: float = 10.0,
                 pool: str = "session", vq=None, code_input: bool = False):
        super().__init__()
        self.cfg = cfg
        self.arch = arch
        self.window_s = window_s
        d = cfg.d_model
        self.embed = TokenEmbedding(cfg.patch_dim, cfg.n_regions, cfg.n_bands, d, vq, code_input)
        self.stack = Stack(d, cfg.n_layers, cfg.n_heads, cfg.mlp_ratio, cfg.dropout, cfg.rope_base)
        self.pool = AttentionPool(d, cfg.n_heads, 0 if pool == "session" else cfg.n_regions,
                                  whole=pool != "region")
        self.apply(_init_linear)

    def groups(self, tokens: Tokens) -> torch.Tensor | None:
        """Attention groups (B, N), or None when every session is one group."""
        if self.arch == "short-window":
            return window_groups(tokens.time_idx, tokens.time_patch_s, self.window_s)
        if tokens.n_tokens <= self.cfg.max_tokens:
            return None
        return chunk_groups(tokens.time_idx, tokens.mask, self.cfg.max_tokens)

    def contextualize(self, x, tokens: Tokens, group: torch.Tensor | None) -> torch.Tensor:
        """Run the Transformer within groups. x (B, N, d) -> states (B, N, d), 0 at padding."""
        if group is None:
            y = self.stack(x, tokens.time_idx, tokens.mask)
            return y * tokens.mask[..., None]
        pk = Packing(group, tokens.mask)
        y = self.stack(pk.pack(x), pk.pack(tokens.time_idx), pk.mask())  # (G, L, d)
        return pk.unpack(y)

    def pool_states(self, states, tokens: Tokens, group: torch.Tensor | None,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, d) -> (B, pool_dim): attention pool over the session (short-window: mean of
        windows). ``pool_dim`` is d, or n_regions * d for the region pool.

        ``mask`` (B, N) bool, default ``tokens.mask``: the tokens the pool may attend to.
        """
        mask = tokens.mask if mask is None else mask
        if self.arch != "short-window":
            return self.pool(states, mask, tokens.region_idx)
        pk = Packing(group, mask)
        win = self.pool(pk.pack(states), pk.mask(), pk.pack(tokens.region_idx))  # (G, pool_dim)
        B = tokens.batch_size
        out = win.new_zeros(B, win.shape[-1]).index_add_(0, pk.session_of_group, win)
        cnt = torch.bincount(pk.session_of_group, minlength=B).clamp_min(1)
        return out / cnt[:, None].to(out.dtype)

    @property
    def pool_dim(self) -> int:
        """Size of :meth:`pool_states` output."""
        return self.cfg.d_model * self.pool.n_queries

    def forward(self, tokens: Tokens, pool: bool = True):
        """Returns (pooled (B, d), states (B, N, d)), or only states when ``pool`` is False."""
        _check_tokens(tokens, self.cfg, self.embed.n_codes if self.embed.code_input else 0)
        group = self.groups(tokens)
        x = self.embed(tokens.values, tokens.region_idx, tokens.band_idx, tokens.codes)  # (B, N, d)
        states = self.contextualize(x, tokens, group)
        if not pool:
            return states
        return self.pool_states(states, tokens, group), states


class ReconDecoder(nn.Module):
    """MAE decoder: encoder states of visible tokens + mask tokens -> predicted patches."""

    def __init__(self, cfg: DecoderConfig, enc: EncoderConfig, n_codes: int = 0):
        super().__init__()
        d = cfg.d_model
        self.inp = nn.Linear(enc.d_model, d)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        self.region = nn.Embedding(enc.n_regions, d)
        self.band = nn.Embedding(enc.n_bands, d)
        self.stack = Stack(d, cfg.n_layers, cfg.n_heads, 4.0, 0.0, enc.rope_base)
        self.head = nn.Linear(d, enc.patch_dim)
        if n_codes:  # masked-code prediction (stage 1 with --recon-target codes)
            self.code_head = nn.Linear(d, n_codes)
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.normal_(self.region.weight, std=0.02)
        nn.init.normal_(self.band.weight, std=0.02)
        self.apply(_init_linear)

    def forward(self, full: Tokens, visible_states, keep_idx, keep_mask, group, codes=False):
        """full: all tokens (B, N); visible_states (B, K, d_enc) at positions keep_idx (B, K).

        Returns predicted patch values (B, N, patch_dim), or with ``codes`` code logits
        (B, N, n_codes).
        """
        B, N = full.time_idx.shape
        vis = self.inp(visible_states)  # (B, K, d)
        x = self.mask_token.expand(B, N, -1).clone()  # (B, N, d)
        src = torch.where(keep_mask[..., None], vis, x.gather(1, keep_idx[..., None].expand_as(vis)))
        x = x.scatter(1, keep_idx[..., None].expand_as(vis), src)
        x = x + self.region(full.region_idx) + self.band(full.band_idx)
        if group is None:
            y = self.stack(x, full.time_idx, full.mask)
        else:
            pk = Packing(group, full.mask)
            y = pk.unpack(self.stack(pk.pack(x), pk.pack(full.time_idx), pk.mask()))
        return self.code_head(y) if codes else self.head(y)  # (B, N, patch_dim | n_codes)


def select_visible(tokens: Tokens, noise: torch.Tensor, mask_ratio: float):
    """Keep the ``1 - mask_ratio`` lowest-noise real tokens of each session (at least one).

    Parameters
    ----------
    noise : (B, N) float in [0, 1), one value per token.

    Returns
    -------
    visible : Tokens (B, K), keep_idx (B, K) int64 positions in ``tokens``, keep_mask (B, K) bool,
    masked (B, N) bool: real tokens hidden from the encoder (where the loss is computed).
    """
    n = tokens.mask.sum(-1)  # (B,)
    n_keep = torch.clamp(torch.round(n.float() * (1.0 - mask_ratio)).long(), min=1)
    n_keep = torch.minimum(n_keep, n.clamp_min(1))
    score = torch.where(tokens.mask, noise, torch.full_like(noise, 2.0))  # padding sorts last
    order = torch.argsort(score, dim=-1, stable=True)  # (B, N)
    K = int(n_keep.max().item())
    keep_idx = order[:, :K]  # (B, K)
    keep_mask = torch.arange(K, device=n.device)[None] < n_keep[:, None]  # (B, K)
    keep_mask &= tokens.mask.gather(1, keep_idx)
    rank = torch.argsort(order, dim=-1)  # (B, N)
    masked = tokens.mask & (rank >= n_keep[:, None])

    def g(t):
        return t.gather(1, keep_idx) if t.dim() == 2 else t.gather(
            1, keep_idx[..., None].expand(-1, -1, t.shape[-1]))

    visible = Tokens(g(tokens.values), g(tokens.time_idx), g(tokens.region_idx),
                     g(tokens.band_idx), keep_mask, tokens.time_patch_s,
                     None if tokens.codes is None else g(tokens.codes))
    return visible, keep_idx, keep_mask, masked


def token_times(tokens: Tokens) -> torch.Tensor:
    """Start time in seconds of every token: ``time_idx * time_patch_s``. -> (B, N) float32."""
    return tokens.time_idx.to(torch.float32) * float(tokens.time_patch_s)


def _check_tokens(tokens: Tokens, cfg: EncoderConfig, n_codes: int = 0) -> None:
    """``n_codes`` > 0 (code input): tokens that carry ``codes`` need no patch values."""
    if not isinstance(tokens, Tokens):
        raise TypeError(f"expected clef.tokens.Tokens, got {type(tokens).__name__}. Fix: tokenize "
                        "first with model.tokenizer.tokenize(...).")
    if n_codes and tokens.codes is not None:
        if tokens.n_tokens and int(tokens.codes.max()) >= n_codes:
            raise ValueError(f"tokens carry codes up to {int(tokens.codes.max())} but the model's "
                             f"codebook has {n_codes}. Fix: tokenize with the model's tokenizer.")
    elif tokens.values.shape[-1] != cfg.patch_dim:
        raise ValueError(f"tokens have patch_dim={tokens.values.shape[-1]} but the model expects "
                         f"{cfg.patch_dim}. Fix: tokenize with this model's tokenizer "
                         "(model.tokenizer).")
    if tokens.n_tokens and not bool(tokens.mask.any(-1).all()):
        raise ValueError("a session in the batch has no real tokens (mask all False). Fix: drop "
                         "empty sessions before encoding.")


def _init_linear(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


__all__ = [
    "Packing",
    "ReconDecoder",
    "SessionEncoder",
    "chunk_groups",
    "select_visible",
    "token_times",
    "window_groups",
]
