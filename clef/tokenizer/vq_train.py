"""Training and inspection of the VQ tokenizer on linear tokens (a ``TokenCache`` or ``Tokens``).

>>> patches = sample_patches(cache, session_ids, per_session=48)       # PatchSet
>>> model, log = train_vq(patches, VQTrainConfig(steps=2000))         # tqdm progress bar
>>> stats = evaluate_vq(model, patches)                               # usage, perplexity, MSE

``code_findings`` lists which codes are over-represented in sessions with a finding (teaching).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from clef.tokenizer.patching import PatchLayout
from clef.tokenizer.vq import VQConfig, VQTokenizerModel
from clef.tokens import Tokens


@dataclass
class PatchSet:
    """Real tokens of many sessions, flattened: values (M, patch_dim), region/band/session (M,)."""

    values: torch.Tensor
    region_idx: torch.Tensor
    band_idx: torch.Tensor
    session: torch.Tensor  # (M,) int64 index into ``session_ids``
    session_ids: list
    valid: torch.Tensor  # (regions, bands, patch_dim) bool: real channels and bins

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def mask(self, idx: torch.Tensor) -> torch.Tensor:
        """Valid-value mask (len(idx), patch_dim) of the patches ``idx``."""
        return self.valid[self.region_idx[idx], self.band_idx[idx]]


def patches_of(tokens_list: list[Tokens], session_ids: list, layout: PatchLayout,
               per_session: int | None = None, seed: int = 0) -> PatchSet:
    """Flatten the real tokens of single-session ``Tokens``; ``per_session`` samples that many."""
    g = torch.Generator().manual_seed(seed)
    vals, reg, band, sess = [], [], [], []
    for i, tok in enumerate(tokens_list):
        m = tok.mask[0]
        v, r, b = tok.values[0][m], tok.region_idx[0][m], tok.band_idx[0][m]
        if per_session is not None and v.shape[0] > per_session:
            pick = torch.randperm(v.shape[0], generator=g)[:per_session]
            v, r, b = v[pick], r[pick], b[pick]
        vals.append(v)
        reg.append(r)
        band.append(b)
        sess.append(torch.full((v.shape[0],), i, dtype=torch.int64))
    return PatchSet(torch.cat(vals).float(), torch.cat(reg), torch.cat(band), torch.cat(sess),
                    list(session_ids), layout.valid())


def sample_patches(cache, session_ids, per_session: int | None = 48, seed: int = 0,
                   progress: bool = False) -> PatchSet:
    """Patches of ``session_ids`` from a ``TokenCache`` (missing sessions raise ``KeyError``)."""
    from tqdm.auto import tqdm

    toks = []
    for sid in tqdm(list(session_ids), desc="read tokens", disable=not progress, mininterval=2):
        t = cache.get(sid)
        if t is None:
            raise KeyError(f"{cache} has no tokens for session {sid!r}; fill the cache first "
                           "(clef embed --cache-dir or clef pretrain --cache-dir)")
        toks.append(t)
    return patches_of(toks, list(session_ids), PatchLayout.from_config(cache.config), per_session,
                      seed)


@dataclass
class VQTrainConfig:
    """Settings of ``train_vq``."""

    steps: int = 2000
    batch_size: int = 1024  # patches per step
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    vq: VQConfig = field(default_factory=VQConfig)


def perplexity(codes: torch.Tensor, n_codes: int) -> float:
    """exp(entropy) of the code histogram: 1 = one code used, n_codes = all used equally."""
    p = torch.bincount(codes.flatten(), minlength=n_codes).double()
    p = p / p.sum().clamp_min(1)
    nz = p[p > 0]
    return float(torch.exp(-(nz * nz.log()).sum()))


def train_vq(patches: PatchSet, config: VQTrainConfig | None = None, progress: bool = True,
             model: VQTokenizerModel | None = None) -> tuple[VQTokenizerModel, list[dict]]:
    """Train a VQ tokenizer on random minibatches of ``patches``.

    Returns
    -------
    (model in eval mode, log: one dict per step with loss, recon, commit, perplexity, seconds)
    """
    from tqdm.auto import tqdm

    cfg = config or VQTrainConfig()
    torch.manual_seed(cfg.seed)
    vq = cfg.vq
    if vq.patch_dim != patches.values.shape[1]:
        vq = VQConfig(**{**vq.to_dict(), "patch_dim": int(patches.values.shape[1])})
    model = model or VQTokenizerModel(vq)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=max(cfg.steps, 1),
                                                pct_start=0.05)
    g = torch.Generator().manual_seed(cfg.seed)
    log, t0 = [], time.process_time()
    bar = tqdm(range(cfg.steps), desc="vq tokenizer", disable=not progress, mininterval=1)
    for step in bar:
        idx = torch.randint(0, len(patches), (min(cfg.batch_size, len(patches)),), generator=g)
        out = model(patches.values[idx], patches.region_idx[idx], patches.band_idx[idx],
                    patches.mask(idx))
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        sched.step()
        rec = {"step": step + 1, "loss": out["loss"].item(), "recon": out["recon"].item(),
               "commit": out["commit"].item(),
               "perplexity": perplexity(out["codes"], model.quantizer.n_codes),
               "cpu_s": time.process_time() - t0}
        log.append(rec)
        if step % 20 == 0 or step == cfg.steps - 1:
            bar.set_postfix(recon=f"{rec['recon']:.4f}", ppl=f"{rec['perplexity']:.0f}")
    return model.eval(), log


@torch.no_grad()
def evaluate_vq(model: VQTokenizerModel, patches: PatchSet, batch: int = 8192) -> dict:
    """Reconstruction error and codebook use on ``patches``.

    Returns
    -------
    dict: ``recon_mse`` (valid values), ``baseline_mse`` (predicting each value's mean: the
    variance to explain), ``r2``, ``usage`` (share of codes used), ``perplexity``, ``codes`` (M,).
    """
    model.eval()
    sq, n, codes = 0.0, 0.0, []
    for s in range(0, len(patches), batch):
        idx = torch.arange(s, min(s + batch, len(patches)))
        v, r, b, m = patches.values[idx], patches.region_idx[idx], patches.band_idx[idx], \
            patches.mask(idx)
        c = model.codes(v, r, b)
        pred = model.decode_codes(c, r, b)
        sq += float(((pred - v).pow(2) * m).sum())
        n += float(m.sum())
        codes.append(c)
    codes = torch.cat(codes)
    m_all = patches.mask(torch.arange(len(patches))).float()  # (M, D)
    mean = (patches.values * m_all).sum(0) / m_all.sum(0).clamp_min(1)
    base = float((((patches.values - mean) ** 2) * m_all).sum() / m_all.sum())
    k = model.quantizer.n_codes
    mse = sq / max(n, 1.0)
    return {"recon_mse": mse, "baseline_mse": base, "r2": 1 - mse / base,
            "usage": float((torch.bincount(codes, minlength=k) > 0).float().mean()),
            "perplexity": perplexity(codes, k), "codes": codes}


def code_histograms(codes: torch.Tensor, session: torch.Tensor, n_sessions: int,
                    n_codes: int) -> np.ndarray:
    """Per-session code frequencies (n_sessions, n_codes), rows summing to 1 (bag of codes)."""
    h = torch.zeros(n_sessions, n_codes, dtype=torch.float64)
    h.index_put_((session, codes), torch.ones(len(codes), dtype=torch.float64), accumulate=True)
    return (h / h.sum(1, keepdim=True).clamp_min(1)).numpy()


def code_findings(hist: np.ndarray, session_ids, labels: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """Codes most over-represented in sessions with each finding.

    Parameters
    ----------
    hist : (n_sessions, n_codes) code frequencies (``code_histograms``)
    labels : DataFrame, index session_id, 0/1 columns (findings)

    Returns
    -------
    DataFrame: finding, code, share_pos (mean frequency in positives), share_neg, ratio.
    """
    lab = labels.reindex([str(s) for s in session_ids])
    rows = []
    for task in lab.columns:
        y = pd.to_numeric(lab[task], errors="coerce").to_numpy()
        pos, neg = y == 1, y == 0
        if pos.sum() < 3 or neg.sum() < 3:
            continue
        p, q = hist[pos].mean(0), hist[neg].mean(0)
        ratio = (p + 1e-4) / (q + 1e-4)
        for c in np.argsort(-ratio)[:top]:
            rows.append({"finding": task, "code": int(c), "share_pos": float(p[c]),
                         "share_neg": float(q[c]), "ratio": float(ratio[c])})
    return pd.DataFrame(rows)
