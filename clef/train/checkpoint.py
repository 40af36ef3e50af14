"""Training checkpoints without pickle: weights, optimizer and RNG state as safetensors + JSON.

Layout: ``<work>/checkpoints/ckpt-<global step>/`` with ``model.safetensors`` (model state dict),
``optimizer.safetensors`` (AdamW tensors + RNG states), ``state.json`` (stage, step, optimizer
hyper-parameters, train and model config, log position). A checkpoint folder is written under a
temporary name and renamed, so a killed job never leaves a half checkpoint.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file

from clef.fileio import atomic_dir, atomic_write_text
from clef.model.hub import save_state


def save_checkpoint(ckdir: Path, global_step: int, model, optimizer, state: dict,
                    keep: int = 2) -> Path:
    """Write ``ckpt-<global_step>`` and prune all but the ``keep`` newest."""
    final = ckdir / f"ckpt-{global_step:08d}"
    with atomic_dir(final) as tmp:  # published as `final` only when complete
        save_state(model.state_dict(), tmp / "model.safetensors")
        tensors, meta = optimizer_to_tensors(optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{i}"] = s
        save_state(tensors, tmp / "optimizer.safetensors")
        atomic_write_text(tmp / "state.json", json.dumps({**state, "optimizer": meta,
                                                          "global_step": global_step}, indent=1))
    for old in list_checkpoints(ckdir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(ckdir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not ckdir.is_dir():
        return []
    return sorted(p for p in ckdir.glob("ckpt-*") if (p / "state.json").is_file())


def load_checkpoint(path: Path) -> tuple[dict, dict, dict]:
    """-> (model state dict, optimizer+rng tensors, state.json)."""
    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    return (load_file(str(path / "model.safetensors")),
            load_file(str(path / "optimizer.safetensors")), state)


def optimizer_to_tensors(optimizer) -> tuple[dict, dict]:
    """Optimizer state dict -> ({"opt.<param>.<key>": tensor}, JSON-able rest)."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{pid}.{k}"] = v
            else:
                scalars[f"{pid}.{k}"] = v
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
              for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_from_tensors(optimizer, tensors: dict, meta: dict) -> None:
    """Inverse of :func:`optimizer_to_tensors` into an optimizer built over the same params."""
    state: dict = {}
    for key, v in tensors.items():
        if not key.startswith("opt."):
            continue
        _, pid, k = key.split(".", 2)
        state.setdefault(int(pid), {})[k] = v
    for key, v in meta.get("scalars", {}).items():
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def restore_rng(tensors: dict) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"].to(torch.uint8))
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in states])


def init_from_checkpoint(model, path) -> dict:
    """Copy the encoder and decoder weights of a saved checkpoint into ``model``.

    Parameters
    ----------
    model : clef.model.CLEFModel
        The model about to be trained (its config decides the shapes).
    path : path
        A ``save_pretrained`` folder, e.g. a ``clef pretrain --stage recon`` output.

    Returns
    -------
    dict
        ``{"path", "weights_sha256", "tensors"}`` for the model card.

    Raises
    ------
    clef.errors.CheckpointMismatch
        When the tokenizer, architecture or encoder sizes differ.
    """
    from clef.errors import CheckpointMismatch
    from clef.model import CLEFModel
    from clef.model.hub import resolve_checkpoint
    from clef.train.objective import RECON_PARAMS

    folder = resolve_checkpoint(path)
    src = CLEFModel.from_pretrained(folder)
    a, b = src.config, model.config
    diffs = [k for k, x, y in (("tokenizer", a.tokenizer, b.tokenizer), ("arch", a.arch, b.arch),
                               ("encoder", a.encoder, b.encoder), ("decoder", a.decoder, b.decoder))
             if x != y]
    if diffs:
        raise CheckpointMismatch(f"{folder}: cannot start from this checkpoint, its "
                                 f"{', '.join(diffs)} differ from config {b.name!r}. Fix: pass "
                                 "the --config it was trained with.")
    state = {k: v for k, v in src.state_dict().items() if k.startswith(RECON_PARAMS)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k.startswith(RECON_PARAMS)]
    if unexpected or missing:
        raise CheckpointMismatch(f"{folder}: tensors do not match the model (unexpected "
                                 f"{unexpected[:3]}, missing {missing[:3]}). Fix: pass the "
                                 "checkpoint of a clef pretrain run with the same --config.")
    raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    info = {"path": str(folder), "weights_sha256": raw.get("weights_sha256", ""),
            "tensors": len(state)}
    metrics = folder / "metrics.json"  # written by clef pretrain: the source run's own wall time
    if metrics.is_file():
        wall = json.loads(metrics.read_text(encoding="utf-8")).get("wall_s")
        if wall is not None:
            info["wall_s"] = float(wall)
    return info
