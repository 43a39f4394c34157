"""Atomic writes: a reader sees the old file (or folder) or the new one, never half of either.

Every writer of the project goes through here: the index publisher (index/store.py), the ONNX export
(ingest/onnx_export.py), the question editor and importer (ingest/edit.py, ingest/importer.py) and the app's
own files. The pattern is the one SQLite and Lucene use: write
beside the target under a temporary name, fsync, switch with one rename, fsync the parent folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """fsync a folder, so a rename inside it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """fsync every file of a folder, then every folder bottom-up, the folder itself last."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        fsync_dir(path)
    fsync_dir(folder)


def _temporary_copy(path: Path, data: bytes, mode: int | None) -> str:
    """Write `data` to a new fsynced temporary file beside `path`; returns its name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically (a temporary file beside it, fsync, os.replace, fsync the folder).

    Args:
        path: the file to write; its folder must exist.
        data: the new contents.
        mode: permission bits for the new file (default: the temporary file's, 0o600 masked by umask rules).
    """
    path = Path(path)
    tmp = _temporary_copy(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def create_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a new file atomically, never replacing one: like `write_bytes`, but the switch is a hard link,
    which fails when `path` already exists (even one created an instant earlier by another writer).

    Raises:
        FileExistsError: `path` exists; nothing was changed.
    """
    path = Path(path)
    tmp = _temporary_copy(path, data, mode)
    try:
        os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fsync_dir(path.parent)


def write_text(path: Path, text: str, mode: int | None = None) -> None:
    """`write_bytes` for UTF-8 text."""
    write_bytes(path, text.encode("utf-8"), mode)


def publish_dir(tmp: Path, final: Path) -> None:
    """Move a fully written, fsynced folder `tmp` to `final` atomically.

    When `final` already exists (a damaged earlier copy), it is first renamed aside and removed only after
    the new folder is in place, so at no moment is a half-removed folder visible under `final`'s name.
    """
    tmp, final = Path(tmp), Path(final)
    aside = None
    if final.exists():
        aside = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        os.rename(final, aside)
    try:
        os.rename(tmp, final)
    except BaseException:
        if aside is not None:
            os.rename(aside, final)
        raise
    fsync_dir(final.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
