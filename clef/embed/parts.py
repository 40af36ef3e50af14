"""Shards on disk and the final store of a ``clef embed`` run.

``OUT/parts/`` of a run (:class:`Parts`), and :func:`consolidate`, which merges a previous store
and the committed shards into the store. A shard is ``part-XXXXX.npy`` (+ ``.states.npy``,
``.thumbs.npz``) then ``part-XXXXX.parquet``, each written atomically; the parquet file is the
commit mark, so a killed run leaves only whole shards.
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from clef.errors import ClefError
from clef.fileio import atomic_save_npy, atomic_write_bytes, atomic_write_parquet, relative_path
from clef.store import FAILURE_COLUMNS, EmbeddingStore
from clef.thumbnails import Thumbnail


class Parts:
    """The ``OUT/parts/`` folder of a run: committed shards and the run description."""

    def __init__(self, out: Path):
        self.dir = out / "parts"

    def committed(self) -> list[int]:
        if not self.dir.is_dir():
            return []
        nums = []
        for p in self.dir.glob("part-*.parquet"):
            try:
                nums.append(int(p.stem.split("-")[1]))
            except (IndexError, ValueError):
                continue
        return sorted(n for n in nums if (self.dir / f"part-{n:05d}.npy").is_file())

    def read(self, num: int):
        """(table, vectors, states or None, thumbnails: one Thumbnail or None per ok row)."""
        table = pd.read_parquet(self.dir / f"part-{num:05d}.parquet")
        vectors = np.load(self.dir / f"part-{num:05d}.npy", allow_pickle=False)
        spath = self.dir / f"part-{num:05d}.states.npy"
        states = np.load(spath, allow_pickle=False) if spath.is_file() else None
        return table, vectors, states, self._read_thumbnails(num, len(vectors))

    def _read_thumbnails(self, num: int, n_ok: int) -> list[Thumbnail | None]:
        path = self.dir / f"part-{num:05d}.thumbs.npz"
        if not path.is_file():  # a shard of an older run, or no thumbnail in it
            return [None] * n_ok
        with np.load(path, allow_pickle=False) as z:
            images, info, freqs = z["images"], z["info"], z["freqs"]
        return [Thumbnail(images[i], freqs, *(float(v) for v in info[i]))
                if np.isfinite(info[i, 0]) else None for i in range(n_ok)]

    def _write_thumbnails(self, num: int, thumbs: list[Thumbnail | None]) -> None:
        given = [t for t in thumbs if t is not None]
        if not given:
            return
        images = np.zeros((len(thumbs), *given[0].image.shape), np.uint8)  # (n_ok, F, T)
        info = np.full((len(thumbs), 3), np.nan, np.float32)  # span_s, db_lo, db_hi
        for i, t in enumerate(thumbs):
            if t is not None:
                images[i], info[i] = t.image, (t.span_s, t.db_lo, t.db_hi)
        buf = io.BytesIO()
        np.savez(buf, images=images, info=info, freqs=given[0].freqs)
        atomic_write_bytes(self.dir / f"part-{num:05d}.thumbs.npz", buf.getvalue())

    def write(self, num: int, result: dict) -> None:
        """Commit one shard: arrays first, then the parquet table (the commit mark)."""
        ok, fail = result["ok_ids"], result["failures"]
        vectors = np.asarray(result["vectors"], np.float32)  # (n_ok, D)
        n_states = [0] * len(ok)
        if result.get("states") is not None:
            n_states = [len(s) for s in result["states"]]
            stacked = (np.concatenate(result["states"]) if ok else
                       np.zeros((0, vectors.shape[1]), np.float16))  # (sum W, D)
            atomic_save_npy(self.dir / f"part-{num:05d}.states.npy", stacked)
        self._write_thumbnails(num, result.get("thumbnails") or [])
        atomic_save_npy(self.dir / f"part-{num:05d}.npy", vectors)
        table = pd.DataFrame({
            "session_id": list(ok) + [f["session_id"] for f in fail],
            "ok": [True] * len(ok) + [False] * len(fail),
            "n_states": n_states + [0] * len(fail),
            "path": [None] * len(ok) + [f["path"] for f in fail],
            "error_type": [None] * len(ok) + [f["error_type"] for f in fail],
            "message": [None] * len(ok) + [f["message"] for f in fail],
        })
        atomic_write_parquet(self.dir / f"part-{num:05d}.parquet", table)

    def clean_uncommitted(self) -> None:
        """Remove arrays of shards whose commit mark never landed, and stray temporary files."""
        if not self.dir.is_dir():
            return
        done = set(self.committed())
        for p in self.dir.iterdir():
            if p.name.startswith("."):
                p.unlink(missing_ok=True)  # temporary file of an interrupted atomic write
            elif p.name.startswith("part-") and p.suffix in (".npy", ".npz"):
                try:
                    num = int(p.name.split("-")[1].split(".")[0])
                except (IndexError, ValueError):
                    continue
                if num not in done:
                    p.unlink(missing_ok=True)


def _file_sha(ckpt: str) -> str | None:
    """The weights-file sha256 recorded in the checkpoint's config.json (provenance only)."""
    try:
        return json.loads((Path(ckpt) / "config.json").read_text()).get("weights_sha256")
    except (OSError, ValueError):
        return None


def consolidate(cohort, out: Path, parts: Parts, fp, ckpt, previous, run_info, created_by):
    """Merge the previous store and committed shards into the final store (cohort order)."""
    vec: dict[str, np.ndarray] = {}
    states: dict[str, np.ndarray] = {}
    thumbs: dict[str, Thumbnail] = {}
    failures: dict[str, dict] = {}
    has_states = False
    if previous is not None:
        emb = np.asarray(previous.embeddings)
        prev_states = None
        if (previous.path / "states.npy").is_file():
            prev_states = np.load(previous.path / "states.npy", allow_pickle=False)
            prev_off = np.load(previous.path / "state_offsets.npy", allow_pickle=False)
            has_states = True
        for i, sid in enumerate(previous.session_ids):
            vec[sid] = emb[i]
            if prev_states is not None:
                states[sid] = prev_states[prev_off[i]:prev_off[i + 1]]
            if (t := previous.thumbnail(sid)) is not None:
                thumbs[sid] = t
        for rec in previous.failures.to_dict("records"):
            failures[str(rec["session_id"])] = rec
    for num in parts.committed():
        table, vectors, st, part_thumbs = parts.read(num)
        offsets = np.concatenate([[0], np.cumsum(table.loc[table["ok"], "n_states"])])
        for j, sid in enumerate(table.loc[table["ok"], "session_id"].astype(str)):
            vec.setdefault(sid, vectors[j])  # first commit wins: never a duplicate row
            if st is not None:
                states.setdefault(sid, st[offsets[j]:offsets[j + 1]])
                has_states = True
            if part_thumbs[j] is not None:
                thumbs.setdefault(sid, part_thumbs[j])
        for rec in table.loc[~table["ok"], FAILURE_COLUMNS].to_dict("records"):
            failures.setdefault(str(rec["session_id"]), rec)

    sessions = cohort.sessions.copy()
    sessions["session_id"] = sessions["session_id"].astype(str)
    ok_mask = sessions["session_id"].isin(vec.keys()).to_numpy()
    meta = sessions[ok_mask].reset_index(drop=True)
    ids = meta["session_id"].tolist()
    failed = [failures[s] for s in sessions["session_id"] if s in failures and s not in vec]
    if not ids:
        first = failed[0] if failed else {"error_type": "?", "message": "no sessions"}
        raise ClefError(f"no session of {cohort.root} could be embedded ({len(failed)} failed; "
                        f"first: {first['error_type']}: {first['message']}). Fix: check the "
                        "recordings with `clef info PATH`, and the checkpoint.")
    embeddings = np.stack([vec[s] for s in ids])  # (N, D)
    labels = None
    if len(cohort.tasks):
        labels = cohort.labels().reindex(ids).reset_index()
        labels["session_id"] = labels["session_id"].astype(str)
    st_arr = st_off = None
    if has_states:
        lens = [len(states.get(s, ())) for s in ids]
        st_off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)  # (N + 1,)
        st_arr = (np.concatenate([states[s] for s in ids if s in states])
                  if st_off[-1] else np.zeros((0, embeddings.shape[1]), np.float16))
    # paths relative to the store folder, so a copied or cloned bundle points at its own parts
    extra = {"checkpoint": relative_path(ckpt, out), "checkpoint_sha256": _file_sha(ckpt),
             "cohort": relative_path(cohort.root, out),
             "cohort_kind": cohort.meta.get("kind"), "run": run_info,
             "states": bool(has_states),
             "updated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    store = EmbeddingStore.write(out, embeddings, meta, model_info=fp,
                                 failures=pd.DataFrame(failed, columns=FAILURE_COLUMNS),
                                 labels=labels, states=st_arr, state_offsets=st_off,
                                 thumbnails=[thumbs.get(s) for s in ids] if thumbs else None,
                                 created_by=created_by, extra=extra,
                                 normalize=False)  # unit rows from clef.embedding: checked, kept
    shutil.rmtree(parts.dir, ignore_errors=True)  # everything is in the store now
    return store
