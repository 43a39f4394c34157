"""The index folder: its layout, its manifest, atomic publishing and verified loading.

    <index>/CURRENT            name of the live version (one line), switched with one os.replace
    <index>/v-<stamp>/         one complete version: its manifest + the files it lists with their SHA-256 (format.py)
    <index>/models/<sha>/      ONNX export of the embedding weights (shared by versions, hash in the manifest)
    <index>/.lock              held by a writer while it builds

A writer builds a new version in `.tmp-*` beside the live one, fsyncs it, renames it into place and
then replaces CURRENT, so a reader sees the old version or the new one, never a mix. A version is
only ever read after its manifest and file hashes check out.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Callable

from .atomic import fsync_dir as _fsync_dir, fsync_tree as _fsync_tree
from .errors import IndexDamaged, IndexMissing, IndexStale, SearchToolError
from .format import CURRENT, FORMAT_VERSION, MANIFEST

_VERSION_NAME = re.compile(r"^v-[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$")
# Content files larger than this are rejected by ingest (a question is a few kilobytes).
MAX_CONTENT_BYTES = 256 * 1024


def _checkpoint(step: str) -> None:
    """A named point in the write path; tests replace this to inject a failure at each step."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def content_files(content_dir: Path) -> list[Path]:
    """The question files under a content folder: `*.md`, recursively, except names starting with `.` or `_`."""
    content_dir = Path(content_dir)
    out = []
    for path in sorted(content_dir.rglob("*.md")):
        rel = path.relative_to(content_dir)
        if any(part.startswith((".", "_")) for part in rel.parts):
            continue
        out.append(path)
    return out


def content_fingerprint(content_dir: Path) -> dict[str, str]:
    """{relative path: sha256 of its bytes} for every question file (unreadable files hash as 'unreadable')."""
    content_dir = Path(content_dir)
    out = {}
    for path in content_files(content_dir):
        try:
            out[path.relative_to(content_dir).as_posix()] = sha256_file(path)
        except OSError:
            out[path.relative_to(content_dir).as_posix()] = "unreadable"
    return out


@contextlib.contextmanager
def writer_lock(index_dir: Path):
    """Hold the index folder's writer lock; a second concurrent ingest fails at once with a clear message."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SearchToolError(f"another ingest is writing {index_dir}; wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def current_version(index_dir: Path) -> Path:
    """The live version folder. Raises IndexMissing or IndexDamaged."""
    index_dir = Path(index_dir)
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexMissing(index_dir)
    try:
        name = pointer.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexDamaged(index_dir, f"unreadable {CURRENT}: {exc}") from None
    if not _VERSION_NAME.match(name):
        raise IndexDamaged(index_dir, f"{CURRENT} names {name[:40]!r}, which is not a version folder")
    version = index_dir / name
    if version.is_symlink():
        raise IndexDamaged(index_dir, f"{CURRENT} names {name}, which is a link; an index is read only from its own "
                                      "folder")
    if not version.is_dir():
        raise IndexDamaged(index_dir, f"{CURRENT} names {name}, which does not exist")
    return version


def read_manifest(version: Path, index_dir: Path | None = None, any_format: bool = False) -> dict:
    """A version's manifest, checked; `any_format` accepts other format versions (ingest reuses their vectors)."""
    where = index_dir or version.parent
    try:
        manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexDamaged(where, f"{version.name}/{MANIFEST} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexDamaged(where, f"{version.name}/{MANIFEST} is unreadable: {exc}") from None
    if not isinstance(manifest, dict):
        raise IndexDamaged(where, f"{MANIFEST} is not a JSON object")
    if manifest.get("format_version") != FORMAT_VERSION and not any_format:
        raise IndexDamaged(where, f"format version {manifest.get('format_version')!r}, this code reads "
                                  f"{FORMAT_VERSION}")
    model = manifest.get("model")
    onnx = model.get("onnx") if isinstance(model, dict) else None
    if onnx is not None and isinstance(onnx, dict) and "cache" in onnx:  # the query model, in the model cache
        from .embed import valid_onnx_entry

        if not valid_onnx_entry(onnx):
            raise IndexDamaged(where, f"the manifest's query model entry is malformed: {str(onnx)[:200]}")
    elif onnx is not None:  # older indexes keep the query model in this index's models/ folder, and only there
        folder = onnx.get("folder") if isinstance(onnx, dict) else None
        models = (Path(where) / "models").resolve()
        if not isinstance(folder, str) or not (Path(where) / folder).resolve().is_relative_to(models):
            raise IndexDamaged(where, f"the manifest names a query model folder outside {Path(where) / 'models'}: "
                                      f"{folder!r}")
    return manifest


def verify_files(version: Path, manifest: dict, index_dir: Path | None = None, last: tuple[str, ...] = ()) -> None:
    """Check every file the manifest lists against its SHA-256; raise IndexDamaged naming the first bad one.

    The files named in `last` are hashed after the others: hashing reads every file once, and when the folder is
    larger than the page cache the files read last are the ones it still holds."""
    where = index_dir or version.parent
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise IndexDamaged(where, "the manifest lists no files")
    root = version.resolve()
    for rel, digest in sorted(files.items(), key=lambda item: (item[0] in last, item[0])):
        path = (version / rel).resolve()
        if root not in path.parents:
            raise IndexDamaged(where, f"the manifest names a file outside the version folder: {rel!r}")
        if not path.is_file():
            raise IndexDamaged(where, f"{version.name}/{rel} is missing")
        if sha256_file(path) != digest:
            raise IndexDamaged(where, f"{version.name}/{rel} does not match its hash in the manifest")


def staleness(index_dir: Path, manifest: dict, content_dir: Path | None = None) -> IndexStale | None:
    """What changed in the content folder since the index was built, as the IndexStale to raise or warn with;
    None when nothing did, or when there is no content folder to compare with.

    `content_dir` defaults to the folder recorded at build. Every question file is hashed: an added draft, an
    edited, removed, half-written or broken file all count.
    """
    if content_dir is None:
        recorded = manifest.get("content_dir")
        content_dir = Path(recorded) if recorded else None
    if content_dir is None or not Path(content_dir).is_dir():
        return None
    built = manifest.get("sources", {})
    now = content_fingerprint(Path(content_dir))
    changed = sorted({p for p in built.keys() | now.keys() if built.get(p) != now.get(p)})
    return IndexStale(index_dir, changed, content_dir) if changed else None


def check_fresh(index_dir: Path, manifest: dict, content_dir: Path | None) -> None:
    """Raise IndexStale when the content folder differs from what the index was built from."""
    if (stale := staleness(index_dir, manifest, content_dir)) is not None:
        raise stale


def is_fresh(index_dir: Path, content_dir: Path) -> bool:
    """True when a readable index exists and matches the content folder."""
    try:
        version = current_version(index_dir)
        manifest = read_manifest(version, index_dir)
        check_fresh(index_dir, manifest, content_dir)
    except SearchToolError:
        return False
    return True


def publish(index_dir: Path, write: Callable[[Path], dict]) -> Path:
    """Build a new version with `write(folder) -> manifest` and make it the live one, atomically.

    `write` fills the folder and returns the manifest without its "files" entry; this function
    hashes every file into the manifest, fsyncs, renames the folder into place and switches CURRENT.
    The caller holds `writer_lock`. Returns the new version folder.
    """
    index_dir = Path(index_dir)
    clean(index_dir)  # an interrupted write's leftovers go while the live version is still the newest kept one
    # The suffix is the time's nanoseconds in hex, so names sort in the order they were made even within one
    # second: clean() keeps the newest by name, and must not mistake the version just replaced for an old one.
    now = time.time_ns()
    name = f"v-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now // 10**9))}-{now % 10**9:08x}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    try:
        manifest = write(tmp)
        _checkpoint("files-written")
        manifest["format_version"] = FORMAT_VERSION
        manifest["files"] = {p.relative_to(tmp).as_posix(): sha256_file(p)
                             for p in sorted(tmp.rglob("*")) if p.is_file()}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        _checkpoint("manifest-written")
        _fsync_tree(tmp)
        _checkpoint("synced")
        final = index_dir / name
        os.rename(tmp, final)
        _fsync_dir(index_dir)
        _checkpoint("version-renamed")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pointer_tmp = index_dir / f".{CURRENT}.{name}"
    pointer_tmp.write_text(name + "\n", encoding="ascii")
    with open(pointer_tmp, "rb") as f:
        os.fsync(f.fileno())
    _checkpoint("pointer-written")
    os.replace(pointer_tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)
    _checkpoint("switched")
    return final


def clean(index_dir: Path, keep: int = 2) -> list[str]:
    """Remove leftovers of interrupted writes and all but the `keep` newest versions (the live one always stays).

    The previous version is kept by default so that a reader that resolved CURRENT just before a
    switch can finish loading it. The caller holds `writer_lock`. Returns the names removed.
    """
    index_dir = Path(index_dir)
    removed = []
    try:
        live = current_version(index_dir).name
    except SearchToolError:
        live = None
    for path in index_dir.iterdir() if index_dir.is_dir() else []:
        if path.name.startswith(".tmp-") or path.name.startswith(f".{CURRENT}."):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path.name)
    versions = sorted((p for p in index_dir.iterdir() if p.is_dir() and _VERSION_NAME.match(p.name)),
                      key=lambda p: p.name, reverse=True) if index_dir.is_dir() else []
    kept = 0
    for path in versions:
        # A version newer than the live one was never switched to (a write interrupted after its rename):
        # keeping it in place of the previous live version would delete what readers may still be loading.
        orphan = live is not None and path.name > live
        if path.name == live or (kept < keep - 1 and not orphan):
            kept += path.name != live
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed
