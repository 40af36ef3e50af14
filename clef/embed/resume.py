"""What a ``clef embed`` run resumes from and records: the committed shards in ``OUT/parts/``, a
store already in ``OUT`` (kept only with the same model), the cohort's key and the checkpoint
file's sha256 (:mod:`clef.embed.job` writes the shards and the store)."""
from __future__ import annotations

import json
from pathlib import Path

from clef.errors import CheckpointMismatch, InvalidStore
from clef.store import EmbeddingStore


def cohort_key(cohort) -> str:
    """The cohort folder's resolved path (what a run description records)."""
    return str(Path(cohort.root).resolve())


def previous_store(out: Path, fp: dict) -> EmbeddingStore | None:
    """The complete store in ``out``, if any; ``CheckpointMismatch`` if another model made it."""
    if not (out / "manifest.json").is_file():
        return None
    try:
        store = EmbeddingStore.open(out)
    except InvalidStore:
        return None
    if store.manifest.get("model_sha256") != fp["model_sha256"]:
        raise CheckpointMismatch(
            f"{out} already holds a store from model {store.manifest.get('model_name')} (sha256 "
            f"{store.manifest.get('model_sha256')}); the checkpoint has sha256 "
            f"{fp['model_sha256']}. Fix: use a new --out folder, or pass --overwrite.")
    return store


def checkpoint_file_sha(ckpt: str) -> str | None:
    """The weights-file sha256 recorded in the checkpoint's config.json (provenance only)."""
    try:
        return json.loads((Path(ckpt) / "config.json").read_text()).get("weights_sha256")
    except (OSError, ValueError):
        return None


def committed_shards(parts_dir: Path) -> list[int]:
    """Numbers of the shards whose commit mark (their parquet table) landed."""
    if not parts_dir.is_dir():
        return []
    nums = []
    for p in parts_dir.glob("part-*.parquet"):
        try:
            nums.append(int(p.stem.split("-")[1]))
        except (IndexError, ValueError):
            continue
    return sorted(n for n in nums if (parts_dir / f"part-{n:05d}.npy").is_file())


def clean_uncommitted(parts_dir: Path) -> None:
    """Remove arrays of shards whose commit mark never landed, and stray temporary files."""
    if not parts_dir.is_dir():
        return
    done = set(committed_shards(parts_dir))
    for p in parts_dir.iterdir():
        if p.name.startswith("."):
            p.unlink(missing_ok=True)  # temporary file of an interrupted atomic write
        elif p.name.startswith("part-") and p.suffix in (".npy", ".npz"):
            try:
                num = int(p.name.split("-")[1].split(".")[0])
            except (IndexError, ValueError):
                continue
            if num not in done:
                p.unlink(missing_ok=True)
