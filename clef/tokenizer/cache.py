"""`TokenCache`: one session's tokens on disk, keyed by session id and tokenizer config hash.

Layout: ``root/<config.hash()>/<quoted session_id>.safetensors`` (real tokens only, no padding;
tensors ``values``, ``time_idx``, ``region_idx``, ``band_idx``; metadata ``time_patch_s``,
``n_windows``, ``session_id``, ``config_hash``) plus ``root/<hash>/config.json`` for humans.
Writes are atomic (:mod:`clef.fileio`), so a killed job never leaves a half file.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from clef.fileio import atomic_write, atomic_write_text
from clef.session import Session
from clef.tokenizer.config import TokenizerConfig
from clef.tokens import Tokens


class TokenCache:
    """Tokens of single sessions stored on disk.

    Parameters
    ----------
    root : str or Path
        Cache folder (shared by all configs; each config hash gets a sub-folder).
    config : TokenizerConfig
        The tokenizer config the cached tokens belong to.
    """

    def __init__(self, root, config: TokenizerConfig):
        self.root = Path(root)
        self.config = config
        self.dir = self.root / config.hash()

    def __repr__(self) -> str:
        return f"TokenCache({str(self.dir)!r})"

    def path(self, session_id: str) -> Path:
        """File of ``session_id`` (percent-quoted, so any id is a safe single file name)."""
        sid = str(session_id)
        if sid in ("", ".", ".."):
            raise ValueError(f"TokenCache: session_id {sid!r} cannot name a file; use a non-empty id")
        return self.dir / f"{quote(sid, safe='')}.safetensors"

    def __contains__(self, session_id: str) -> bool:
        return self.path(session_id).is_file()

    def get(self, session_id: str) -> Tokens | None:
        """Cached tokens of one session (batch of 1, all real) or None on a miss."""
        path = self.path(session_id)
        if not path.is_file():
            return None
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            t = {k: f.get_tensor(k) for k in ("values", "time_idx", "region_idx", "band_idx")}
        n = t["values"].shape[0]
        return Tokens(t["values"][None], t["time_idx"][None], t["region_idx"][None],
                      t["band_idx"][None], torch.ones(1, n, dtype=torch.bool),
                      float(meta["time_patch_s"]))

    def n_windows(self, session_id: str) -> int | None:
        """Real spectrogram windows stored with the session (for ``untokenize(n_windows=)``)."""
        path = self.path(session_id)
        if not path.is_file():
            return None
        with safe_open(str(path), framework="pt") as f:
            value = (f.metadata() or {}).get("n_windows", "")
        return int(value) if value else None

    def put(self, session_id: str, tokens: Tokens, index: int = 0, *,
            n_windows: int | None = None) -> Path:
        """Store session ``index`` of ``tokens`` (its real tokens only), atomically.

        Returns
        -------
        Path
            The written file.
        """
        from clef.tokenizer.patching import PatchLayout

        dim = PatchLayout.from_config(self.config).patch_dim
        if tokens.values.shape[-1] != dim:
            raise ValueError(f"TokenCache.put: tokens have patch_dim {tokens.values.shape[-1]}, the "
                             f"cache config's is {dim}; use a TokenCache built with the tokenizer's config")
        m = tokens.mask[index].cpu()
        tensors = {
            "values": tokens.values[index].cpu()[m].contiguous(),
            "time_idx": tokens.time_idx[index].cpu()[m].contiguous(),
            "region_idx": tokens.region_idx[index].cpu()[m].contiguous(),
            "band_idx": tokens.band_idx[index].cpu()[m].contiguous(),
        }
        meta = {"session_id": str(session_id), "config_hash": self.config.hash(),
                "time_patch_s": repr(float(tokens.time_patch_s)),
                "n_windows": "" if n_windows is None else str(int(n_windows))}
        cfg = self.dir / "config.json"
        if not cfg.is_file():
            text = json.dumps(self.config.to_dict(), indent=1, sort_keys=True)
            atomic_write_text(cfg, text)
        path = self.path(session_id)
        atomic_write(path, lambda p: save_file(tensors, str(p), metadata=meta))
        return path

    def get_or_compute(self, session_id: str, fn: Callable[[], object]) -> Tokens:
        """Cached tokens, or ``fn()`` tokenized, stored and returned.

        Parameters
        ----------
        session_id : str
        fn : callable
            Returns ``Tokens`` (batch of 1), a ``Session`` or a (channels, samples) array; the
            latter two are tokenized with ``MultitaperTokenizer(config)``.
        """
        hit = self.get(session_id)
        if hit is not None:
            return hit
        from clef.tokenizer.tokenizer import MultitaperTokenizer

        made = fn()
        n_win = None
        if not isinstance(made, Tokens):
            tok = MultitaperTokenizer(self.config)
            n_samples = made.n_samples if isinstance(made, Session) else np.shape(made)[-1]
            n_win = tok.n_windows(n_samples)
            made = tok.tokenize(made)
        self.put(session_id, made, n_windows=n_win)
        return self.get(session_id)
