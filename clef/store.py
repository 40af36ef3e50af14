"""Embedding store: session embeddings + metadata on disk, with a manifest that pins the model.

Layout of a store folder::

    embeddings.npy     (N, D) float32, L2-normalised session embeddings, row i <-> sessions row i
    sessions.parquet   session_id + cohort metadata (site, age, sex, setting, diagnoses, ...)
    labels.parquet     optional wide task labels: session_id + one Int8 column per task (NA allowed)
    states.npy         optional, (total_windows, D) float16 per-time-patch token states
    state_offsets.npy  optional, (N + 1,) int64: rows of session i are offsets[i]:offsets[i+1]
    thumbnails.npy     optional, (N, F, T) uint8 spectrogram thumbnails (clef.thumbnails)
    thumbnail_info.npy optional, (N, 3) float32: span_s, db_lo, db_hi (span NaN: none stored)
    failures.parquet   session_id, path, error_type, message (sessions that could not be embedded)
    manifest.json      model hash/name, tokenizer hash, dim, count, checksums, created_by, version

``model_sha256`` is :func:`state_dict_hash` of the model (the same however the weights were
loaded), the key every store/index/map compares; ``checkpoint_sha256`` (when embedded from a
checkpoint folder) is the weights file's sha256 from its config.json, for provenance.

Every file is written atomically (:mod:`clef.fileio`); ``manifest.json`` is written last, so a
store with a manifest is complete. Embeddings have unit L2 norm (the invariant of
:mod:`clef.embedding`, ``"normalized": true`` in the manifest); :meth:`EmbeddingStore.write`
checks it rather than normalising rows that already are.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clef import __version__
from clef.embedding import check_unit_norm, unit_normalize
from clef.errors import CheckpointMismatch, InvalidStore
from clef.fileio import (  # noqa: F401 (atomic writers re-exported for older imports)
    atomic_save_npy,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
    load_manifest,
    read_parquet_metadata,
    sha256_file,
    verify_files,
    write_manifest,
)
from clef.thumbnails import Thumbnail
from clef.thumbnails import pack as pack_thumbnails

STORE_FORMAT = "clef-store"
_REEMBED = "re-run `clef embed` into a fresh --out folder."
STORE_FORMAT_VERSION = 1
FAILURE_COLUMNS = ["session_id", "path", "error_type", "message"]


# ----------------------------------------------------------------------------------------------
# hashing and model fingerprints


def _config_dict(config) -> dict:
    if config is None:
        return {}
    if is_dataclass(config):
        return asdict(config)
    if isinstance(config, dict):
        return dict(config)
    if hasattr(config, "to_dict"):
        return config.to_dict()
    return dict(vars(config))


def config_hash(config) -> str:
    """sha256 of a config (dataclass or dict) as canonical JSON."""
    blob = json.dumps(_config_dict(config), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def state_dict_hash(module) -> str:
    """sha256 over a torch module's ``state_dict`` (names, dtypes, shapes, bytes; sorted by name).

    Identical weights give the same hash however they were loaded; any changed value changes it.
    """
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(-1).view(dtype=_byte_dtype()).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _byte_dtype():
    import torch

    return torch.uint8


def model_embed_dim(model) -> int:
    """The session embedding dimension of a CLEF model (``eeg_dim`` when it has one)."""
    dim = getattr(model, "eeg_dim", None)
    if isinstance(dim, int | np.integer) and dim > 0:
        return int(dim)
    for owner in (model, getattr(model, "config", None)):
        if owner is None:
            continue
        for name in ("embed_dim", "embedding_dim", "proj_dim", "dim", "d_embed"):
            value = getattr(owner, name, None)
            if isinstance(value, int | np.integer) and value > 0:
                return int(value)
    vec = model.encode_text(["dimension probe"], normalize=True)
    return int(np.asarray(_to_numpy(vec)).shape[-1])


def model_fingerprint(model) -> dict:
    """What pins a store/index to a model: weights hash, name, tokenizer config hash, dimension.

    The weights hash is cached on the model object (``_clef_sha256``); a model whose weights are
    changed in place after the first call must not be reused with the old fingerprint.
    """
    cached = getattr(model, "_clef_fingerprint", None)
    if cached is not None:
        return dict(cached)
    config = getattr(model, "config", None)
    name = getattr(config, "name", None) or getattr(model, "name", None) or type(model).__name__
    tok = getattr(model, "tokenizer", None)
    fp = {
        "model_sha256": state_dict_hash(model),
        "model_name": str(name),
        "tokenizer_sha256": config_hash(getattr(tok, "config", None)) if tok is not None else None,
        "dim": model_embed_dim(model),
    }
    try:
        model._clef_fingerprint = dict(fp)
    except AttributeError:  # pragma: no cover - objects without __dict__
        pass
    return fp


def check_model(manifest: dict, model, what: str, rebuild: str) -> None:
    """Raise ``CheckpointMismatch`` unless ``model`` is the model ``manifest`` was built with.

    Parameters
    ----------
    manifest : dict
        A store or index manifest (``model_sha256``, ``dim``, ``model_name``).
    model : CLEFModel
        The model about to be used with it.
    what : str
        Name of the thing being loaded, for the message (e.g. ``"index /data/idx"``).
    rebuild : str
        The command that rebuilds it with this model.
    """
    fp = model_fingerprint(model)
    want_hash, want_dim = manifest.get("model_sha256"), manifest.get("dim")
    if want_dim is not None and int(want_dim) != fp["dim"]:
        raise CheckpointMismatch(
            f"{what} holds {want_dim}-dimensional embeddings from model "
            f"{manifest.get('model_name')} "
            f"(sha256 {str(want_hash)[:16]}...), but the given model {fp['model_name']} "
            f"(sha256 {fp['model_sha256'][:16]}...) makes {fp['dim']}-dimensional ones. "
            f"Fix: use the checkpoint it was built with, or rebuild it: {rebuild}")
    if want_hash is not None and want_hash != fp["model_sha256"]:
        raise CheckpointMismatch(
            f"{what} was built with model {manifest.get('model_name')} (weights sha256 "
            f"{want_hash}) but the given model {fp['model_name']} has weights sha256 "
            f"{fp['model_sha256']}; its scores would be meaningless. "
            f"Fix: use the checkpoint it was built with, or rebuild it: {rebuild}")


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x)


l2_normalize = unit_normalize  # the one normaliser lives in clef.embedding


# ----------------------------------------------------------------------------------------------
# the store


class EmbeddingStore:
    """Session embeddings with their metadata, as written by ``clef embed``.

    Attributes
    ----------
    path : Path
    embeddings : np.ndarray
        (N, D) float32, L2-normalised; memory-mapped read-only when opened from disk.
    sessions : pd.DataFrame
        N rows, aligned with ``embeddings``; ``session_id`` plus cohort metadata.
    labels : pd.DataFrame or None
        Wide task labels aligned with ``sessions`` (``session_id`` + one column per task).
    failures : pd.DataFrame
        Sessions that could not be embedded: session_id, path, error_type, message.
    manifest : dict
    """

    FILES = ("embeddings.npy", "sessions.parquet", "labels.parquet", "states.npy",
             "state_offsets.npy", "thumbnails.npy", "thumbnail_info.npy", "failures.parquet")

    def __init__(self, path, embeddings, sessions, manifest, failures=None, labels=None):
        self.path = Path(path)
        self.embeddings = embeddings
        self.sessions = sessions
        self.manifest = manifest
        self.failures = failures if failures is not None else pd.DataFrame(columns=FAILURE_COLUMNS)
        self.labels = labels
        self._row = None
        self._thumbs = None  # (images, info), read on first use

    # -- reading ------------------------------------------------------------------------------
    @classmethod
    def open(cls, path, *, verify: bool = False, mmap: bool = True) -> EmbeddingStore:
        """Open a store folder.

        Parameters
        ----------
        path : str or Path
            Folder written by ``clef embed`` / :meth:`write`.
        verify : bool
            Check every file against the manifest's sha256 checksums (reads all bytes).
        mmap : bool
            Memory-map ``embeddings.npy`` read-only instead of reading it.
        """
        path = Path(path)
        hint = (" A `parts/` folder is present: the `clef embed` run that writes it did not "
                "finish; run the same command again to resume it."
                if (path / "parts").is_dir() else "")
        manifest = load_manifest(path, STORE_FORMAT, what="an embedding store", hint=hint,
                                 fix="point at a folder written by `clef embed --out`.")
        verify_files(path, manifest, checksums=False, fix=_REEMBED)
        emb = np.load(path / "embeddings.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
        sessions = pd.read_parquet(path / "sessions.parquet")
        failures = (pd.read_parquet(path / "failures.parquet")
                    if (path / "failures.parquet").is_file() else None)
        labels = (pd.read_parquet(path / "labels.parquet")
                  if (path / "labels.parquet").is_file() else None)
        store = cls(path, emb, sessions, manifest, failures, labels)
        store._check_shapes()
        if verify:
            store.verify()
        return store

    def _check_shapes(self) -> None:
        n, dim = self.manifest.get("count"), self.manifest.get("dim")
        if self.embeddings.ndim != 2:
            raise InvalidStore(f"{self.path}/embeddings.npy: expected (N, D), got shape "
                               f"{self.embeddings.shape}. Fix: re-run `clef embed`.")
        if len(self.sessions) != self.embeddings.shape[0] or (n is not None and n != len(self)):
            raise InvalidStore(
                f"{self.path}: {self.embeddings.shape[0]} embeddings but {len(self.sessions)} "
                f"session rows (manifest count {n}). Fix: re-run `clef embed` into a fresh folder.")
        if dim is not None and dim != self.embeddings.shape[1]:
            raise InvalidStore(f"{self.path}: embeddings have dim {self.embeddings.shape[1]}, "
                               f"manifest says {dim}. Fix: re-run `clef embed`.")
        if self.labels is not None and not self.labels["session_id"].equals(
                self.sessions["session_id"]):
            raise InvalidStore(f"{self.path}/labels.parquet: rows are not aligned with "
                               "sessions.parquet. Fix: re-run `clef embed`.")

    def verify(self) -> None:
        """Check every file listed in the manifest against its sha256; raise ``InvalidStore``."""
        files = self.manifest.get("files", {})
        if "embeddings.npy" not in files or "sessions.parquet" not in files:
            raise InvalidStore(f"{self.path}/manifest.json lists no checksums for the embeddings "
                               "or sessions. Fix: re-run `clef embed`.")
        verify_files(self.path, self.manifest, fix=_REEMBED)
        self._check_shapes()

    # -- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def session_ids(self) -> np.ndarray:
        return self.sessions["session_id"].astype(str).to_numpy()

    def row_of(self, session_id: str) -> int:
        """Row index of ``session_id``; ``KeyError`` naming it when absent."""
        if self._row is None:
            self._row = {sid: i for i, sid in enumerate(self.session_ids)}
        try:
            return self._row[str(session_id)]
        except KeyError:
            raise KeyError(f"session {session_id!r} is not in store {self.path}") from None

    def vector(self, session_id: str) -> np.ndarray:
        """The (D,) embedding of one session."""
        return np.asarray(self.embeddings[self.row_of(session_id)], dtype=np.float32)

    def states(self, session_id: str) -> np.ndarray | None:
        """Per-time-patch token states (W, D) float32 of a session, or None if not stored."""
        if not (self.path / "states.npy").is_file():
            return None
        offsets = np.load(self.path / "state_offsets.npy", allow_pickle=False)
        states = np.load(self.path / "states.npy", mmap_mode="r", allow_pickle=False)
        i = self.row_of(session_id)
        return np.asarray(states[offsets[i]:offsets[i + 1]], dtype=np.float32)

    def thumbnail(self, session_id: str) -> Thumbnail | None:
        """The session's spectrogram thumbnail (:mod:`clef.thumbnails`), or None if not stored."""
        freqs = self.manifest.get("thumbnail_freqs")
        if not freqs or not (self.path / "thumbnails.npy").is_file():
            return None
        if self._thumbs is None:
            self._thumbs = (np.load(self.path / "thumbnails.npy", mmap_mode="r", allow_pickle=False),
                            np.load(self.path / "thumbnail_info.npy", allow_pickle=False))
        i = self.row_of(session_id)
        span, lo, hi = (float(v) for v in self._thumbs[1][i])
        if not np.isfinite(span):
            return None
        return Thumbnail(np.array(self._thumbs[0][i]), np.asarray(freqs, np.float32), span, lo, hi)

    def check_model(self, model) -> None:
        """Raise ``CheckpointMismatch`` unless ``model`` made these embeddings."""
        check_model(self.manifest, model, f"store {self.path}",
                    f"clef embed --cohort COHORT --checkpoint CHECKPOINT --out {self.path}")

    def __repr__(self) -> str:
        return (f"EmbeddingStore({self.path}, {len(self)} sessions x {self.dim}, "
                f"model={self.manifest.get('model_name')}, {len(self.failures)} failures)")

    # -- writing ------------------------------------------------------------------------------
    @classmethod
    def write(cls, path, embeddings: np.ndarray, sessions: pd.DataFrame, *, model_info: dict,
              failures: pd.DataFrame | None = None, labels: pd.DataFrame | None = None,
              states: np.ndarray | None = None, state_offsets: np.ndarray | None = None,
              thumbnails: list[Thumbnail | None] | None = None, created_by: str = "clef.store.EmbeddingStore.write", extra: dict | None = None,
              normalize: bool = True) -> EmbeddingStore:
        """Write a complete store atomically (manifest last) and return it opened.

        Parameters
        ----------
        path : str or Path
            Store folder (created if needed; files in it are replaced).
        embeddings : np.ndarray
            (N, D) session embeddings.
        sessions : pd.DataFrame
            N rows with a unique ``session_id`` column, aligned with ``embeddings``.
        model_info : dict
            ``model_sha256``, ``model_name``, ``tokenizer_sha256`` (see :func:`model_fingerprint`).
        failures, labels : pd.DataFrame, optional
        states, state_offsets : np.ndarray, optional
            (total_windows, D) states and (N + 1,) offsets.
        thumbnails : list of Thumbnail or None, optional
            One per session (None: none for that one), all of one shape and frequency rows.
        created_by : str
            The command that made it.
        extra : dict, optional
            More manifest keys (cohort path, checkpoint path, ...).
        normalize : bool
            Scale arbitrary rows to unit norm here (:func:`clef.embedding.unit_normalize`). Pass
            False for embeddings from :mod:`clef.embedding`: their unit norm is then checked
            (``NotUnitNorm`` otherwise), not recomputed, so stored rows equal the given ones.
        """
        path = Path(path)
        emb = np.ascontiguousarray(embeddings, dtype=np.float32)
        if emb.ndim != 2:
            raise ValueError(f"embeddings must be (N, D), got shape {emb.shape}")
        emb = unit_normalize(emb) if normalize else check_unit_norm(emb, f"store {path}")
        sessions = sessions.reset_index(drop=True).copy()
        if "session_id" not in sessions.columns:
            raise ValueError("sessions needs a session_id column")
        sessions["session_id"] = sessions["session_id"].astype(str)
        if len(sessions) != len(emb):
            raise ValueError(f"{len(emb)} embeddings but {len(sessions)} session rows")
        dup = sessions["session_id"][sessions["session_id"].duplicated()]
        if len(dup):
            raise ValueError(f"duplicate session ids: {list(dup[:5])}")
        if model_info.get("dim") is not None and model_info["dim"] != emb.shape[1]:
            raise ValueError(f"model dim {model_info['dim']} != embeddings dim {emb.shape[1]}")
        failures = (pd.DataFrame(columns=FAILURE_COLUMNS) if failures is None
                    else failures.reset_index(drop=True))
        for col in FAILURE_COLUMNS:
            if col not in failures.columns:
                failures[col] = None
        failures = failures[FAILURE_COLUMNS].astype(object)

        path.mkdir(parents=True, exist_ok=True)
        (path / "manifest.json").unlink(missing_ok=True)  # incomplete until the new one lands
        atomic_save_npy(path / "embeddings.npy", emb)
        atomic_write_parquet(path / "sessions.parquet", sessions)
        atomic_write_parquet(path / "failures.parquet", failures)
        names = ["embeddings.npy", "sessions.parquet", "failures.parquet"]
        if labels is not None:
            labels = labels.reset_index(drop=True)
            if not labels["session_id"].astype(str).equals(sessions["session_id"]):
                raise ValueError("labels rows must be aligned with sessions rows")
            atomic_write_parquet(path / "labels.parquet", labels)
            names.append("labels.parquet")
        else:
            (path / "labels.parquet").unlink(missing_ok=True)
        if _write_states(path, states, state_offsets, len(emb)):
            names += ["states.npy", "state_offsets.npy"]

        thumb_freqs = _write_thumbnails(path, thumbnails, len(emb))
        if thumb_freqs is not None:
            names += ["thumbnails.npy", "thumbnail_info.npy"]
            extra = {**(extra or {}), "thumbnail_freqs": thumb_freqs}

        manifest = {
            "format": STORE_FORMAT,
            "format_version": STORE_FORMAT_VERSION,
            "clef_version": __version__,
            "created_by": created_by,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "model_name": model_info.get("model_name"),
            "model_sha256": model_info.get("model_sha256"),
            "tokenizer_sha256": model_info.get("tokenizer_sha256"),
            "dim": int(emb.shape[1]),
            "count": len(emb),
            "n_failures": len(failures),
            "normalized": True,  # the unit-norm invariant of clef.embedding, checked above
            **(extra or {}),
        }
        write_manifest(path, manifest, names)
        return cls.open(path)


def _write_states(path: Path, states: np.ndarray | None, state_offsets: np.ndarray | None,
                  n: int) -> bool:
    """Write states.npy and state_offsets.npy (or remove them when there are none)."""
    if states is None:
        (path / "states.npy").unlink(missing_ok=True)
        (path / "state_offsets.npy").unlink(missing_ok=True)
        return False
    offsets = np.asarray(state_offsets, dtype=np.int64)
    if offsets.shape != (n + 1,) or offsets[-1] != len(states):
        raise ValueError("state_offsets must be (N + 1,) ending at len(states)")
    atomic_save_npy(path / "states.npy", np.asarray(states, dtype=np.float16))
    atomic_save_npy(path / "state_offsets.npy", offsets)
    return True


def _write_thumbnails(path: Path, thumbnails: list[Thumbnail | None] | None,
                      n: int) -> list[float] | None:
    """Write thumbnails.npy and thumbnail_info.npy (or remove them when there are none); return
    the rows' frequencies for the manifest."""
    packed = pack_thumbnails(thumbnails or [])
    if packed is None:
        (path / "thumbnails.npy").unlink(missing_ok=True)
        (path / "thumbnail_info.npy").unlink(missing_ok=True)
        return None
    if len(thumbnails) != n:
        raise ValueError(f"{len(thumbnails)} thumbnails for {n} sessions")
    images, info, freqs = packed
    atomic_save_npy(path / "thumbnails.npy", images)
    atomic_save_npy(path / "thumbnail_info.npy", info)
    return [round(float(f), 4) for f in freqs]
