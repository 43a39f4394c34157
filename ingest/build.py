"""Turn the question bank into an index folder: chunk, embed (reusing unchanged vectors), write atomically."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index import format, store
from index.errors import SearchToolError
from index.lexical import Analyzer
from index.model import Question, Section
from index.rows import mean_rows

from . import background
from .chunking import Chunk, chunk, chunking_config, names, sentences, title_text
from .content import ParsedQuestion, load_bank

__all__ = ["BuildReport", "Chunk", "build", "chunk", "names", "sentences", "title_text"]
# the manifest's embedding keys per field, and the dense field (format.VECTOR_FILES) each key list belongs to
KEYED_FIELDS = {"chunks": "sections", "titles": "titles", "sentences": "sentences", "names": "names",
                "background": "background"}
DEFAULT_CHOICE = "default"  # `--model default`: follow the default model again after an explicit choice


@dataclass(frozen=True)
class BuildReport:
    questions: int
    chunks: int
    embedded: int
    reused: int
    seconds: float
    version: Path | None  # None when the index was already up to date
    removed: tuple[str, ...] = ()

    def summary(self) -> str:
        where = self.version.parent if self.version else "unchanged"
        state = f"→ {where}" if self.version else "index already up to date, nothing written"
        return (f"{self.questions} questions, {self.chunks} chunks: {self.embedded} embedded, {self.reused} reused, "
                f"{self.seconds:.1f} s; {state}")


def _question(q: ParsedQuestion) -> Question:
    return Question(q.id, q.title, q.topics, q.aliases, q.path,
                    tuple(Section(s.key, s.heading, s.text) for s in q.sections))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _key(weights_sha256: str, text: str) -> str:
    return hashlib.sha256(f"{weights_sha256}\n{text}".encode("utf-8")).hexdigest()


def _previous_vectors(index_dir: Path, weights_sha256: str) -> tuple[dict | None, dict[str, np.ndarray]]:
    """The live manifest and {embedding key: vector} from it, for reuse; empty if unreadable.

    A version of an older format counts too: its vectors are reused field by field where it has them (a format
    change does not re-embed the bank), though the version itself is rewritten.
    """
    try:
        version = store.current_version(index_dir)
        manifest = store.read_manifest(version, index_dir, any_format=True)
        store.verify_files(version, manifest, index_dir)
        if manifest["model"]["weights_sha256"] != weights_sha256:
            return manifest, {}
        keys = manifest["embedding_keys"]
        out = {}
        for key_field, field in KEYED_FIELDS.items():
            if key_field in keys and format.VECTOR_FILES[field] in manifest["files"]:
                vectors = format.read_vectors(version, field)
                if len(vectors) != len(keys[key_field]):
                    raise ValueError(f"{format.VECTOR_FILES[field]} does not match its embedding keys")
                out.update(zip(keys[key_field], vectors))
        return manifest, out
    except (SearchToolError, KeyError, ValueError, OSError):
        return None, {}


class _ModelEmbedder:
    """The model's embedder, created only when something needs embedding: the float ONNX export in the model cache
    when the model has one (no torch: importing it is most of a first save's wait), else the reference
    sentence-transformers model."""

    def __init__(self, source, onnx: dict | None, max_seq_length: int):
        self.source = source
        self.onnx = onnx  # the manifest's model.onnx entry (the cache's files and their SHA-256), or None
        self.max_seq_length = max_seq_length
        self._inner = None

    def encode(self, texts, progress=None):
        if self._inner is None:
            if self.onnx is not None:
                from index.embed import ONNX_FLOAT, ONNX_TOKENIZER, OnnxEmbedder, verified_onnx_folder

                folder = verified_onnx_folder(self.onnx, (ONNX_FLOAT, ONNX_TOKENIZER))
                self._inner = OnnxEmbedder(folder, self.max_seq_length, model_file=ONNX_FLOAT)
            else:
                from index.embed import SentenceTransformerEmbedder

                self._inner = SentenceTransformerEmbedder(self.source)
                self.max_seq_length = self._inner.max_seq_length
        return self._inner.encode(texts, progress=progress)


def _drop_legacy_models(index_dir: Path) -> None:
    """Remove the models/ folder that older versions of this code kept inside the index folder, once no version
    left in the folder names it (the ONNX files now live in the model cache)."""
    legacy = index_dir / "models"
    if not legacy.is_dir():
        return
    for version in index_dir.iterdir():
        try:
            onnx = json.loads((version / store.MANIFEST).read_text())["model"].get("onnx") or {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if isinstance(onnx, dict) and "folder" in onnx:
            return
    shutil.rmtree(legacy, ignore_errors=True)


@dataclass(frozen=True)
class ModelChoice:
    """The model a build uses, whether the user chose it, and why the live index is rebuilt for it (one line)."""

    model: str  # a model name or folder, for index.embed.resolve_model
    explicit: bool  # chosen with --model (remembered in the manifest), not the default
    reason: str | None = None  # set when the live index was built with another model


def _live_manifest(index_dir: Path) -> dict | None:
    try:
        return store.read_manifest(store.current_version(index_dir), index_dir, any_format=True)
    except (SearchToolError, KeyError, ValueError, OSError):
        return None


def choose_model(index_dir: Path, requested: str | None) -> ModelChoice:
    """Which model a build of `index_dir` uses.

    An explicit `requested` model (--model NAME) is used and remembered in the manifest, so a later build without
    one (`make index`, `make run`) keeps it; requesting the live index's own model changes nothing (the app's
    rebuild names it). Without one, an index whose model was chosen
    explicitly keeps that model; any other index follows the default model (index.embed.DEFAULT_MODEL), and one
    built with another model is rebuilt: a model change makes the index stale. `requested` "default" follows the
    default again after an explicit choice.
    """
    from index.embed import DEFAULT_MODEL

    previous = _live_manifest(index_dir)
    old = (previous or {}).get("model", {}).get("source") or (previous or {}).get("model", {}).get("name")
    if requested and old and requested != DEFAULT_CHOICE and _same_model(requested, old):
        # the live index's own model (the app's rebuild names it): the index keeps its choice as it was
        return ModelChoice(requested, previous.get("model_choice") == "explicit")
    if requested and requested != DEFAULT_CHOICE:
        choice = ModelChoice(requested, True)
    elif requested is None and previous is not None and previous.get("model_choice") == "explicit" and old:
        return ModelChoice(old, True)
    else:
        choice = ModelChoice(DEFAULT_MODEL, False)
    if old is None or _same_model(old, choice.model):
        return choice
    if choice.explicit:
        why = f"ingest: the index was built with {old}; rebuilding it with {choice.model}, as --model asks"
    else:
        why = (f"ingest: the index was built with {old}, and the default model is {choice.model}: a model change "
               f"makes the index stale, so it is rebuilt (`python -m ingest --model {old}` keeps {old})")
    return ModelChoice(choice.model, choice.explicit, why)


def _same_model(a: str, b: str) -> bool:
    from index.embed import BUNDLED_NAMES, SPLIT_MODELS

    def canonical(name: str) -> str:
        if name in BUNDLED_NAMES:
            return "minilm"
        return SPLIT_MODELS[name].name if name in SPLIT_MODELS else name

    return canonical(a) == canonical(b)


def build(content_dir: Path, index_dir: Path, model: str | None = None, embedder=None,
          progress: bool | Callable[[str, int, int], None] = False,
          export_onnx: bool = True, background_file: Path = background.BACKGROUND_FILE,
          announce=None) -> BuildReport:
    """Validate the content, embed what changed and publish a new index version.

    Args:
        content_dir: the folder of question files.
        index_dir: the index folder (created if missing).
        model: a sentence-transformers model name or folder, remembered as the user's choice; None keeps the
            index's remembered choice, else the default model ("default" too: see `choose_model`).
        embedder: for tests, an object with name, weights_sha256, dimension, max_seq_length and
            encode(texts, progress) that replaces the model.
        progress: True for a one-line bar on a terminal (ingest/bar.py), or a callable given (what is being done,
            texts embedded so far, texts to embed; 0 and 0 for a step that is not counted) as the build goes.
        announce: called with one line when the content is valid and the index is rebuilt for a model change
            (`choose_model`'s reason), before anything is embedded.
        background_file: the background topics (ingest/background.py).
    Returns:
        BuildReport. Nothing is written when the content and model are unchanged.
    Raises:
        ContentErrors (nothing written), ModelError, SearchToolError (another ingest is running).
    """
    if callable(progress):
        return _build(content_dir, index_dir, model, embedder, progress, export_onnx, background_file, announce)
    from .bar import TerminalBar

    bar = TerminalBar() if progress else None
    try:
        return _build(content_dir, index_dir, model, embedder, bar or (lambda what, done, total: None), export_onnx,
                      background_file, announce)
    finally:
        if bar is not None:
            bar.close()


def _build(content_dir, index_dir, model, embedder, report, export_onnx, background_file, announce) -> BuildReport:
    started = time.perf_counter()
    content_dir, index_dir = Path(content_dir), Path(index_dir)
    questions = load_bank(content_dir)
    chunks = [c for q in questions for c in chunk(q)]
    titles = [title_text(q) for q in questions]
    sentence_rows = [row for q in questions for row in sentences(q)]
    name_rows = [(q.id, name) for q in questions for name in names(q)]
    topics = background.read_topics(background_file)

    if embedder is None:
        from index.embed import configured_max_seq_length, resolve_model

        choice = choose_model(index_dir, model)
        if choice.reason and announce is not None:
            announce(choice.reason)
        source = resolve_model(choice.model)
        model_info = {"name": source.name, "source": source.name if source.name != str(source.path) else str(source.path),
                      "weights_sha256": source.weights_sha256}
        onnx = None
        if export_onnx:
            from .onnx_export import ensure_onnx

            onnx = ensure_onnx(source, status=lambda line: report(line, 0, 0))
        encoder = _ModelEmbedder(source, onnx, configured_max_seq_length(source.path))
        model_choice = "explicit" if choice.explicit else "default"
    else:
        source = None
        model_info = {"name": embedder.name, "source": embedder.name, "weights_sha256": embedder.weights_sha256}
        encoder = embedder
        model_choice = "explicit" if model not in (None, DEFAULT_CHOICE) else "default"
    analyzer = Analyzer()
    config = {"chunking": chunking_config(), "lexical": analyzer.config()}
    sources = {q.path: q.sha256 for q in questions}
    background_info = {"sha256": background.file_sha256(background_file), "covered_at": background.COVERED_AT,
                       "covered_by": ["names", "sections"]}
    inputs = hashlib.sha256(json.dumps([model_info, config, sources, format.FORMAT_VERSION, background_info,
                                        model_choice], sort_keys=True).encode()).hexdigest()

    with store.writer_lock(index_dir):
        previous, reuse = _previous_vectors(index_dir, model_info["weights_sha256"])
        # an index whose query model is not this cache's (made again, or by older code inside the index folder) is
        # written again with its vectors reused, so that its manifest names the files the queries will load
        same_onnx = source is None or previous is None or previous.get("model", {}).get("onnx") == onnx
        if previous is not None and previous.get("inputs_sha256") == inputs and same_onnx and \
                previous.get("format_version") == format.FORMAT_VERSION and \
                Path(previous.get("content_dir", "")) == content_dir.resolve():
            removed = tuple(store.clean(index_dir))
            return BuildReport(len(questions), len(chunks), 0, len(chunks), time.perf_counter() - started, None,
                               removed)

        chunk_keys = [_key(model_info["weights_sha256"], c.embed_text) for c in chunks]
        title_keys = [_key(model_info["weights_sha256"], t) for t in titles]
        sentence_keys = [_key(model_info["weights_sha256"], t) for _, t in sentence_rows]
        name_keys = [_key(model_info["weights_sha256"], t) for _, t in name_rows]
        topic_keys = [_key(model_info["weights_sha256"], t) for t in topics]
        texts = (dict(zip(chunk_keys, (c.embed_text for c in chunks))) | dict(zip(title_keys, titles))
                 | dict(zip(sentence_keys, (t for _, t in sentence_rows)))
                 | dict(zip(name_keys, (t for _, t in name_rows))) | dict(zip(topic_keys, topics)))
        missing = [k for k in dict.fromkeys(chunk_keys + title_keys + sentence_keys + name_keys + topic_keys)
                   if k not in reuse]
        if missing:
            fresh = encoder.encode([texts[k] for k in missing],
                                   progress=lambda done, total: report("embedding", done, total))
            reuse.update(zip(missing, np.asarray(fresh, dtype=np.float32)))
        fresh_keys = set(missing)
        embedded_chunks = sum(1 for k in set(chunk_keys) if k in fresh_keys)

        section_vectors = np.vstack([reuse[k] for k in chunk_keys]).astype(np.float32)
        title_vectors = np.vstack([reuse[k] for k in title_keys]).astype(np.float32)
        sentence_vectors = np.vstack([reuse[k] for k in sentence_keys]).astype(np.float32)
        name_vectors = np.vstack([reuse[k] for k in name_keys]).astype(np.float32)
        topic_vectors = np.vstack([reuse[k] for k in topic_keys]).astype(np.float32)
        kept = ~background.covered(topic_vectors, name_vectors, section_vectors)
        background_info |= {"topics": int(kept.sum()),
                            "covered": [t for t, keep in zip(topics, kept) if not keep]}
        dimension = int(section_vectors.shape[1])
        question_row = {q.id: i for i, q in enumerate(questions)}
        chunk_questions = np.array([question_row[c.question_id] for c in chunks], dtype=np.int64)
        question_vectors = mean_rows(section_vectors, chunk_questions, len(questions))

        if source is not None:
            model_info["max_seq_length"] = encoder.max_seq_length
            model_info["path"] = str(source.path)
            model_info["onnx"] = onnx
        else:
            model_info["max_seq_length"] = int(getattr(embedder, "max_seq_length", 256))
            model_info["onnx"] = None
        model_info["dimension"] = dimension

        chunk_row = {c.id: i for i, c in enumerate(chunks)}
        contents = format.VersionContents(
            questions=[_question(q) for q in questions],
            chunks=[format.ChunkRecord(c.id, c.question_id, c.section, _sha256(c.embed_text)) for c in chunks],
            section_vectors=section_vectors, title_vectors=title_vectors, question_vectors=question_vectors,
            sentence_vectors=sentence_vectors, name_vectors=name_vectors,
            sentence_chunks=np.array([chunk_row[cid] for cid, _ in sentence_rows], dtype=np.int32),
            name_questions=np.array([question_row[qid] for qid, _ in name_rows], dtype=np.int32),
            analyzer=analyzer, background_vectors=topic_vectors, background_covered=~kept)

        def write(folder: Path) -> dict:
            written = format.write_version(folder, contents, checkpoint=lambda step: store._checkpoint(step))
            return {
                **config,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "model": model_info,
                "model_choice": model_choice,  # "explicit" (--model, kept by later builds) or "default"
                **written,
                "chunks": {c.id: _sha256(c.embed_text) for c in chunks},
                "embedding_keys": {"chunks": chunk_keys, "titles": title_keys, "sentences": sentence_keys,
                                   "names": name_keys, "background": topic_keys},
                "background": background_info,
                "sources": sources,
                "content_dir": str(content_dir.resolve()),
                "inputs_sha256": inputs,
            }

        version = store.publish(index_dir, write)
        removed = tuple(store.clean(index_dir))
        _drop_legacy_models(index_dir)
    return BuildReport(len(questions), len(chunks), embedded_chunks, len(chunks) - embedded_chunks,
                       time.perf_counter() - started, version, removed)
