"""Checkpoint folders: ``model.safetensors`` + ``config.json`` + ``MODEL_CARD.md``.

The config stores the sha256 of the weights file; loading verifies it (and the card's copy) and
every tensor's shape against the config, and refuses with ``CheckpointMismatch`` otherwise.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import clef
from clef.errors import CheckpointMismatch
from clef.model.config import ModelConfig, atomic_write_text

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CARD = "MODEL_CARD.md"
REPO_ROOT = Path(__file__).resolve().parents[2]


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_state(tensors: dict[str, torch.Tensor], path: str | os.PathLike,
               metadata: dict | None = None) -> None:
    """safetensors file written atomically (tensors made contiguous, on CPU)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp),
              metadata={k: str(v) for k, v in (metadata or {"format": "pt"}).items()})
    os.replace(tmp, path)


def save_pretrained(model, path: str | os.PathLike, card: dict | None = None) -> str:
    """Write a checkpoint folder; returns the weights sha256."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_state(model.state_dict(), path / WEIGHTS)
    sha = sha256_file(path / WEIGHTS)
    card = dict(card or model.training_info or {})
    model.config.save_json(path / CONFIG, extra={"weights_sha256": sha,
                                                 "clef_version": clef.__version__,
                                                 "training": card})
    atomic_write_text(path / CARD, model_card(model, sha, card))
    return sha


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint folder, or the name of a shipped one (``data_samples/<name>``)."""
    p = Path(path)
    if p.is_dir():
        return p
    shipped = REPO_ROOT / "data_samples" / str(path)
    if shipped.is_dir():
        return shipped
    raise FileNotFoundError(f"checkpoint {str(path)!r} not found. Fix: pass a folder written by "
                            "save_pretrained / `clef pretrain`, or a shipped name such as "
                            "'clef-tiny'.")


def load_pretrained(cls, path, map_location="cpu"):
    """Inverse of :func:`save_pretrained`, with hash and shape checks."""
    folder = resolve_checkpoint(path)
    for name in (WEIGHTS, CONFIG):
        if not (folder / name).exists():
            raise CheckpointMismatch(f"{folder}: {name} is missing. Fix: point to a folder written "
                                     "by CLEFModel.save_pretrained.")
    with open(folder / CONFIG, encoding="utf-8") as fh:
        raw = json.load(fh)
    try:
        cfg = ModelConfig.from_dict(raw)
    except (TypeError, ValueError) as e:
        raise CheckpointMismatch(f"{folder / CONFIG}: invalid model config ({e}). Fix: use the "
                                 "config.json saved with these weights.") from e
    if not cfg.is_resolved:
        raise CheckpointMismatch(f"{folder / CONFIG}: input sizes (patch_dim, n_regions, n_bands) "
                                 "are not set. Fix: use the config.json saved with these weights.")
    sha = sha256_file(folder / WEIGHTS)
    want = raw.get("weights_sha256")
    if want is None:
        raise CheckpointMismatch(f"{folder / CONFIG} has no weights_sha256. Fix: re-save the "
                                 "checkpoint with CLEFModel.save_pretrained.")
    if want != sha:
        raise CheckpointMismatch(
            f"{folder / WEIGHTS} has sha256 {sha[:16]}... but {CONFIG} expects {want[:16]}...: "
            "the weights were modified or come from another checkpoint. Fix: restore the matching "
            "model.safetensors/config.json pair (retrain or re-download).")
    card_path = folder / CARD
    if card_path.exists():
        m = re.search(r"weights sha256[^0-9a-f]*([0-9a-f]{64})", card_path.read_text("utf-8"))
        if m and m.group(1) != sha:
            raise CheckpointMismatch(f"{card_path} names weights sha256 {m.group(1)[:16]}... but "
                                     f"the weights are {sha[:16]}.... Fix: re-save the checkpoint "
                                     "so card, config and weights agree.")
    _check_tokenizer(cfg, folder)
    model = cls(cfg)
    state = load_file(str(folder / WEIGHTS), device=str(map_location))
    _check_state(model.state_dict(), state, folder)
    model.load_state_dict(state, strict=True)
    model.training_info = raw.get("training") or {}
    return model.to(map_location)


def _check_tokenizer(cfg: ModelConfig, folder: Path) -> None:
    try:
        from clef.tokenizer import MultitaperTokenizer
    except ImportError:  # the tokenizer module is optional for loading weights
        return
    try:
        tok = MultitaperTokenizer(cfg.tokenizer_config())
    except (TypeError, ValueError) as e:
        raise CheckpointMismatch(f"{folder / CONFIG}: tokenizer config cannot be built ({e}). "
                                 "Fix: use a clef version matching the checkpoint.") from e
    e = cfg.encoder
    got = (int(tok.patch_dim), int(tok.n_regions), int(tok.n_bands))
    if got != (e.patch_dim, e.n_regions, e.n_bands):
        raise CheckpointMismatch(f"{folder / CONFIG}: the tokenizer gives (patch_dim, n_regions, "
                                 f"n_bands)={got} but the encoder was built for "
                                 f"{(e.patch_dim, e.n_regions, e.n_bands)}. Fix: use the "
                                 "tokenizer config saved with the weights.")


def _check_state(expected: dict, got: dict, folder: Path) -> None:
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = [(k, tuple(got[k].shape), tuple(v.shape)) for k, v in expected.items()
             if k in got and tuple(got[k].shape) != tuple(v.shape)]
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}")
        if extra:
            parts.append(f"unexpected tensors {extra[:5]}")
        if wrong:
            parts.append("shape mismatch " + ", ".join(f"{k}: file {a} vs config {b}"
                                                       for k, a, b in wrong[:5]))
        raise CheckpointMismatch(f"{folder}: weights do not match config.json ({'; '.join(parts)})."
                                 " Fix: load the weights with the config they were saved with.")


def model_card(model, sha: str, card: dict) -> str:
    """Markdown model card: what the model is, its data, command, metrics and weights hash."""
    cfg = model.config
    e = cfg.encoder
    n = model.num_parameters()
    lines = [f"# {cfg.name}", "",
             "CLEF session-scale EEG encoder aligned to report text and EHR (clef suite).", "",
             "## Model", "",
             f"- arch: `{cfg.arch}`; parameters: {n:,} (EEG encoder {model.num_parameters('eeg'):,})",
             (f"- encoder: d_model={e.d_model}, layers={e.n_layers}, heads={e.n_heads}, context "
              f"{e.max_tokens} tokens (longer sessions: equal time chunks, one attention pool)"),
             f"- tokens: patch_dim={e.patch_dim}, regions={e.n_regions}, bands={e.n_bands}",
             (f"- shared space: {cfg.embed_dim}-d; text backbone `{cfg.text.backbone}` (frozen, "
              "not in these weights); EHR vocab "
              f"{len(cfg.ehr.dx_vocab)} diagnosis / {len(cfg.ehr.med_vocab)} medication tokens"),
             "", "## Training data", ""]
    data = card.get("training_data")
    if isinstance(data, dict):
        lines += [f"- {k}: {v}" for k, v in data.items()]
    else:
        lines.append(str(data) if data else "- not trained (random initialisation)")
    lines += ["", "## Command", "", "```", str(card.get("command") or "(none)"), "```",
              "", "## Metrics", ""]
    metrics = card.get("metrics") or {}
    if metrics:
        lines += ["| metric | value |", "|---|---|"]
        for k, v in metrics.items():
            lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    else:
        lines.append("(none recorded)")
    if card.get("notes"):
        lines += ["", "## Notes", "", str(card["notes"])]
    lines += ["", "## Files", "",
              f"- `{WEIGHTS}` weights sha256: `{sha}`",
              (f"- `{CONFIG}` full config (tokenizer included); load with "
               "`CLEFModel.from_pretrained(folder)`"), ""]
    return "\n".join(lines)
