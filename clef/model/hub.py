"""Checkpoint folders: ``model.safetensors`` + ``config.json`` + ``MODEL_CARD.md``.

The config stores the sha256 of the weights file; loading verifies it (and the card's copy) and
every tensor's shape against the config, and refuses with ``CheckpointMismatch`` otherwise.

Weights above ``max_shard_mb`` are split into ``model-00001-of-0000N.safetensors`` shards plus
``model.safetensors.index.json`` (tensor -> shard, and each shard's sha256), the Hugging Face
layout, so no file exceeds the repository's 5 MB limit. The config's ``weights_sha256`` is then the
sha256 of the index file, which pins every shard.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import clef
from clef.errors import CheckpointMismatch, CheckpointNotFound
from clef.fileio import atomic_write, atomic_write_text, sha256_file
from clef.model.config import ModelConfig

WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"
MAX_SHARD_MB = 4.0  # keeps every shipped file under the repository's 5 MB limit
CONFIG = "config.json"
CARD = "MODEL_CARD.md"
REPO_ROOT = Path(__file__).resolve().parents[2]


def save_state(tensors: dict[str, torch.Tensor], path: str | os.PathLike,
               metadata: dict | None = None) -> None:
    """safetensors file written atomically (tensors made contiguous, on CPU)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {k: str(v) for k, v in (metadata or {"format": "pt"}).items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def _shard_name(i: int, n: int) -> str:
    return f"model-{i:05d}-of-{n:05d}.safetensors"


def save_weights(state: dict[str, torch.Tensor], folder: Path,
                 max_shard_mb: float = MAX_SHARD_MB) -> str:
    """Write ``state`` as one file or as shards + index; returns the ``weights_sha256``."""
    limit = int(max_shard_mb * 2**20)
    groups: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, t in state.items():
        nbytes = t.numel() * t.element_size()
        if groups[-1] and size + nbytes > limit:
            groups.append({})
            size = 0
        groups[-1][name] = t
        size += nbytes
    for old in [folder / WEIGHTS, folder / INDEX, *folder.glob("model-*-of-*.safetensors")]:
        old.unlink(missing_ok=True)  # never leave a stale layout beside the new one
    if len(groups) == 1:
        save_state(state, folder / WEIGHTS)
        return sha256_file(folder / WEIGHTS)
    index = {"metadata": {"total_size": sum(t.numel() * t.element_size()
                                            for t in state.values())},
             "weight_map": {}, "sha256": {}}
    for i, group in enumerate(groups, 1):
        name = _shard_name(i, len(groups))
        save_state(group, folder / name)
        index["sha256"][name] = sha256_file(folder / name)
        index["weight_map"].update({k: name for k in group})
    atomic_write_text(folder / INDEX, json.dumps(index, indent=1, sort_keys=True) + "\n")
    return sha256_file(folder / INDEX)


def weights_files(folder: Path) -> tuple[Path, list[Path]]:
    """(file whose sha256 the config pins, files holding tensors) of a checkpoint folder."""
    if (folder / INDEX).exists():
        index = json.loads((folder / INDEX).read_text("utf-8"))
        return folder / INDEX, [folder / n for n in sorted(index["sha256"])]
    return folder / WEIGHTS, [folder / WEIGHTS]


def _check_shards(folder: Path) -> None:
    """Each shard named in the index exists and has the sha256 the index records."""
    index = json.loads((folder / INDEX).read_text("utf-8"))
    for name, want in index["sha256"].items():
        if not (folder / name).exists():
            raise CheckpointMismatch(f"{folder / name} is missing (listed in {INDEX}). Fix: copy "
                                     "every model-*-of-*.safetensors shard with the checkpoint.")
        if sha256_file(folder / name) != want:
            raise CheckpointMismatch(f"{folder / name} does not match the sha256 in {INDEX}: the "
                                     "shard was modified or comes from another checkpoint. Fix: "
                                     "restore the checkpoint's own shards (retrain or re-copy).")


def save_pretrained(model, path: str | os.PathLike, card: dict | None = None,
                    max_shard_mb: float = MAX_SHARD_MB) -> str:
    """Write a checkpoint folder; returns the weights sha256 (of the file or shard index)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    sha = save_weights(model.state_dict(), path, max_shard_mb)
    card = dict(card or model.training_info or {})
    model.config.save_json(path / CONFIG, extra={"weights_sha256": sha,
                                                 "clef_version": clef.__version__,
                                                 "training": card})
    atomic_write_text(path / CARD, model_card(model, sha, card, weights_files(path)[0].name))
    return sha


DEFAULT_CHECKPOINT = REPO_ROOT / "data_samples" / "clef-tiny"  # the shipped teaching model


def default_checkpoint() -> Path:
    """The shipped checkpoint used wherever none is given (``data_samples/clef-tiny``).

    Returns
    -------
    Path
        The folder, when it holds a ``config.json``.

    Raises
    ------
    CheckpointNotFound
        When the shipped folder is missing or incomplete (e.g. an installed wheel without
        ``data_samples/``).
    """
    if not (DEFAULT_CHECKPOINT / CONFIG).is_file():
        raise CheckpointNotFound(
            f"no --checkpoint given and the shipped default {DEFAULT_CHECKPOINT} is missing. "
            "Fix: pass --checkpoint DIR (a folder written by `clef pretrain`), or restore "
            "data_samples/clef-tiny (`git checkout -- data_samples/clef-tiny`, or `make sample`).")
    return DEFAULT_CHECKPOINT


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
    pinned, shards = weights_files(folder)
    for name in (pinned.name, CONFIG):
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
    sha = sha256_file(pinned)
    want = raw.get("weights_sha256")
    if want is None:
        raise CheckpointMismatch(f"{folder / CONFIG} has no weights_sha256. Fix: re-save the "
                                 "checkpoint with CLEFModel.save_pretrained.")
    if want != sha:
        raise CheckpointMismatch(
            f"{pinned} has sha256 {sha[:16]}... but {CONFIG} expects {want[:16]}...: "
            "the weights were modified or come from another checkpoint. Fix: restore the matching "
            "model.safetensors/config.json pair (retrain or re-download).")
    card_path = folder / CARD
    if card_path.exists():
        m = re.search(r"weights sha256[^0-9a-f]*([0-9a-f]{64})", card_path.read_text("utf-8"))
        if m and m.group(1) != sha:
            raise CheckpointMismatch(f"{card_path} names weights sha256 {m.group(1)[:16]}... but "
                                     f"the weights are {sha[:16]}.... Fix: re-save the checkpoint "
                                     "so card, config and weights agree.")
    if pinned.name == INDEX:
        _check_shards(folder)
    _check_tokenizer(cfg, folder)
    model = cls(cfg)
    state = {}
    for f in shards:
        state.update(load_file(str(f), device=str(map_location)))
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


_POOL_TEXT = {"session": "one attention query over all tokens",
              "region": "one attention query per region, concatenated (keeps laterality)",
              "session+region": "one attention query over all tokens plus one per region, "
                                "concatenated (keeps laterality)"}


def model_card(model, sha: str, card: dict, weights_name: str = WEIGHTS) -> str:
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
             f"- pool: `{cfg.eeg_pool}`, {_POOL_TEXT[cfg.eeg_pool]}",
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
              f"- `{weights_name}` weights sha256: `{sha}`",
              (f"- `{CONFIG}` full config (tokenizer included); load with "
               "`CLEFModel.from_pretrained(folder)`"), ""]
    return "\n".join(lines)
