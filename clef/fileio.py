"""Atomic file writes and folder manifests: the one place clef writes files safely.

Every file clef writes for later reading (stores, indexes, maps, checkpoints, caches, probe
results, cohort tables) goes through :func:`atomic_write`: the bytes land in a temporary file in
the same folder (``.<name>.<random>.tmp[<suffix>]``, mode 0644) which is then renamed over the
target with ``os.replace``, so a reader or a killed job never sees half a file. Temporary names
start with a dot so folder scans (``glob("part-*")``) skip them.

A *manifest* is the JSON file written last into a folder of artifacts (``manifest.json`` of a store
or an index, ``map.json`` of a map): it names the folder's format and holds each file's sha256.
:func:`write_manifest`, :func:`load_manifest` and :func:`verify_files` are the one implementation
of writing, reading and checking it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from clef.errors import InvalidStore

__all__ = [
    "atomic_dir", "atomic_save_npy", "atomic_write", "atomic_write_bytes", "atomic_write_json",
    "atomic_write_parquet", "atomic_write_text", "load_manifest", "read_parquet_metadata",
    "sha256_file", "verify_files", "write_manifest",
]


# ----------------------------------------------------------------------------------------------
# atomic writes


def atomic_write(path, write: Callable[[Path], object], *, keep_suffix: bool = False) -> Path:
    """Create ``path`` atomically with ``write(tmp)``, which writes the whole file at ``tmp``.

    Parameters
    ----------
    path : str or Path
        The target file; its folder is created if needed.
    write : callable
        Called once with the temporary path (same folder as ``path``).
    keep_suffix : bool
        End the temporary name with ``path``'s suffix, for writers that pick a format or append
        an extension from it (``np.save``, ``savefig``, EDF writers).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".tmp" + (path.suffix if keep_suffix else "")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; clef's files are shared data
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (flushed and fsynced before the rename)."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    return atomic_write(path, write)


def atomic_write_text(path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (``default=str``, trailing newline when indented) atomically."""
    text = json.dumps(obj, indent=indent, default=str)
    return atomic_write_text(path, text + ("\n" if indent is not None else ""))


def atomic_save_npy(path, array: np.ndarray) -> Path:
    """``np.save`` atomically. Never pickles: object arrays are refused with ``TypeError``."""
    array = np.asarray(array)
    if array.dtype == object:
        raise TypeError(f"{path}: refusing to save an object array (it would need pickle)")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())

    return atomic_write(path, write)


def atomic_write_parquet(path, df, metadata: dict | None = None, *,
                         preserve_index: bool = False) -> Path:
    """Write a DataFrame to parquet atomically; ``metadata`` (JSON-able) goes in the schema
    under the key ``clef`` (read back with :func:`read_parquet_metadata`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=preserve_index)
    if metadata is not None:
        meta = dict(table.schema.metadata or {})
        meta[b"clef"] = json.dumps(metadata, default=str).encode()
        table = table.replace_schema_metadata(meta)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def read_parquet_metadata(path) -> dict:
    """The JSON stored by :func:`atomic_write_parquet` under ``metadata`` ({} when absent)."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(b"clef")
    return json.loads(raw) if raw else {}


@contextlib.contextmanager
def atomic_dir(path) -> Iterator[Path]:
    """Build a folder under a temporary name and publish it as ``path`` when the block ends.

    Yields the temporary folder (a dot-name beside ``path``). On success the old ``path`` (if
    any) is removed and the new folder renamed into place; on error the temporary folder is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, 0o755)
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ----------------------------------------------------------------------------------------------
# hashing and manifests


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder, manifest: dict, files: Iterable[str], *,
                   name: str = "manifest.json") -> dict:
    """Write ``folder/name`` (atomically, so last) with the sha256 of each of ``files``.

    Parameters
    ----------
    folder : path
    manifest : dict
        Everything but the checksums (``format`` first by convention).
    files : iterable of str
        Names, relative to ``folder``, of the files the manifest pins.
    name : str
        The manifest's file name.

    Returns
    -------
    dict
        The manifest as written (``files`` added last).
    """
    folder = Path(folder)
    out = {**manifest, "files": {f: sha256_file(folder / f) for f in files}}
    atomic_write_json(folder / name, out)
    return out


def load_manifest(folder, fmt: str, *, name: str = "manifest.json", what: str,
                  fix: str, hint: str = "") -> dict:
    """Read ``folder/name`` and check its ``format``.

    Parameters
    ----------
    folder : path
    fmt : str
        The expected ``format`` value (``"clef-store"``, ``"clef-index"``, ``"clef-map"``).
    name : str
        The manifest's file name.
    what : str
        What the folder should be, for messages ("an embedding store").
    fix : str
        The command or step that makes one, for messages.
    hint : str
        Extra sentence for the missing-manifest message.

    Raises
    ------
    clef.errors.InvalidStore
        No manifest, unreadable JSON, or another format.
    """
    mpath = Path(folder) / name
    if not mpath.is_file():
        raise InvalidStore(f"{folder}: not {what} (no {name}).{hint} Fix: {fix}")
    try:
        manifest = json.loads(mpath.read_text())
    except ValueError as e:
        raise InvalidStore(f"{mpath}: not valid JSON ({e}). Fix: {fix}") from e
    if manifest.get("format") != fmt:
        raise InvalidStore(f"{mpath}: format is {manifest.get('format')!r}, expected {fmt!r}. "
                           f"Fix: {fix}")
    return manifest


def verify_files(folder, manifest: dict, *, checksums: bool = True, fix: str) -> None:
    """Check that every file the manifest lists exists and (``checksums``) has its sha256.

    Raises
    ------
    clef.errors.InvalidStore
        A listed file is missing, or its bytes changed after the manifest was written.
    """
    folder = Path(folder)
    for name, want in manifest.get("files", {}).items():
        if not (folder / name).is_file():
            raise InvalidStore(f"{folder / name}: listed in the manifest but missing. Fix: {fix}")
        if checksums:
            got = sha256_file(folder / name)
            if got != want:
                raise InvalidStore(f"{folder / name}: sha256 {got} does not match the manifest "
                                   f"({want}): checksum mismatch, the file changed after it was "
                                   f"written. Fix: {fix}")


def relative_path(path, base) -> str:
    """``path`` relative to the folder ``base`` (both resolved), for manifests that travel."""
    return os.path.relpath(Path(path).resolve(), Path(base).resolve())
