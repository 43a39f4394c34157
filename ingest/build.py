"""Turn the question bank into an index folder: chunk, embed (reusing unchanged vectors), write atomically."""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index import store, vectors as vec
from index.errors import SearchToolError
from index.lexical import Analyzer, LexicalIndex

from .content import SECTIONS, ParsedQuestion, load_bank

EMBED_TEMPLATE = "{title}\n{heading}: {text}"  # what a section's vector is computed from
TITLE_TEMPLATE = "{title}\nAlso called: {aliases}"  # what a question's title vector is computed from
# A section is also embedded sentence by sentence: all-MiniLM-L6-v2 is a sentence model, and one vector for a
# 150-250 word section blurs the one sentence a paraphrase is about. Split after . ! ? before a capital or digit.
SENTENCE_SPLIT = r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])"


@dataclass(frozen=True)
class Chunk:
    id: str  # "<question id>#<section key>"
    question_id: str
    section: str
    embed_text: str


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


def chunk(question: ParsedQuestion) -> list[Chunk]:
    """One chunk per section, id from content: `feature-leakage#mistakes`."""
    return [Chunk(f"{question.id}#{s.key}", question.id, s.key,
                  EMBED_TEMPLATE.format(title=question.title, heading=s.heading, text=s.text))
            for s in question.sections]


def sentences(question: ParsedQuestion) -> list[tuple[str, str]]:
    """(chunk id, sentence) for every sentence of every section, in chunk order."""
    return [(f"{question.id}#{s.key}", text) for s in question.sections
            for text in (t.strip() for t in re.split(SENTENCE_SPLIT, s.text)) if text]


def names(question: ParsedQuestion) -> list[str]:
    """The names a question goes by, each embedded alone: its title and every alias."""
    return list(dict.fromkeys([question.title, *question.aliases]))


def title_text(question: ParsedQuestion) -> str:
    return TITLE_TEMPLATE.format(title=question.title, aliases=", ".join(question.aliases) or "-")


def _key(weights_sha256: str, text: str) -> str:
    return hashlib.sha256(f"{weights_sha256}\n{text}".encode("utf-8")).hexdigest()


def _previous_vectors(index_dir: Path, weights_sha256: str) -> tuple[dict | None, dict[str, np.ndarray]]:
    """The live manifest and {embedding key: vector} from it, for reuse; empty if unreadable."""
    try:
        version = store.current_version(index_dir)
        manifest = store.read_manifest(version, index_dir)
        store.verify_files(version, manifest, index_dir)
        if manifest["model"]["weights_sha256"] != weights_sha256:
            return manifest, {}
        keys = manifest["embedding_keys"]
        out = {}
        for name, field in (("vectors.npy", "chunks"), ("titles.npy", "titles"), ("sentences.npy", "sentences"),
                            ("names.npy", "names")):
            arr = np.load(version / name, allow_pickle=False)
            out.update(zip(keys[field], arr))
        return manifest, out
    except (SearchToolError, KeyError, ValueError, OSError):
        return None, {}


def write_dense_fields(folder: Path, sentence_vectors: np.ndarray, sentence_chunks: np.ndarray,
                       name_questions: np.ndarray, chunk_questions: np.ndarray, n_questions: int) -> None:
    """The search's row maps and related.npy, beside the vector files: sentence_chunks.npy (each sentence's chunk
    row), name_questions.npy (each name's question row) and related.npy (each question's mean sentence vector,
    what related questions compare), so a large bank loads them without parsing the JSON lists or reading every
    sentence vector."""
    np.save(folder / "sentence_chunks.npy", sentence_chunks, allow_pickle=False)
    np.save(folder / "name_questions.npy", name_questions, allow_pickle=False)
    np.save(folder / "related.npy", vec.mean_rows(sentence_vectors, chunk_questions[sentence_chunks], n_questions),
            allow_pickle=False)


def build_field_indexes(folder: Path, fields: dict[str, np.ndarray]) -> dict[str, dict]:
    """A FAISS index `<field>.faiss` for each dense field larger than vectors.EXACT_MAX rows (related's from
    related.npy), with PQ codes above the field's vectors.PQ_ABOVE rows; the specs for the manifest's
    "dense_fields"."""
    fields = {**fields, "related": np.load(folder / "related.npy", mmap_mode="r", allow_pickle=False)}
    specs = {}
    for name in vec.INDEXED_FIELDS:
        index, spec = vec.build_field(fields[name], pq_above=vec.PQ_ABOVE.get(name))
        if index is not None:
            vec.write(index, folder / f"{name}.faiss")
            del index
        specs[name] = spec
    return specs


def write_codes(folder: Path, chunk_questions: np.ndarray, sentence_chunks: np.ndarray, name_questions: np.ndarray,
                n_questions: int) -> dict | None:
    """Above vectors.CODES_ABOVE chunks: the question-major 8-bit codes that score a large bank's candidates
    (vectors.write_question_codes), from the float files just written; their manifest entry, or None."""
    if len(chunk_questions) <= vec.CODES_ABOVE:
        return None
    files = {"sections": "vectors", "sentences": "sentences", "names": "names"}
    arrays = {f: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for f, name in files.items()}
    return vec.write_question_codes(folder, arrays, np.asarray(chunk_questions, dtype=np.int64),
                                    np.asarray(sentence_chunks, dtype=np.int64),
                                    np.asarray(name_questions, dtype=np.int64), n_questions)


class _ModelEmbedder:
    """The reference sentence-transformers embedder, created only when something needs embedding."""

    def __init__(self, source):
        self.source = source
        self._inner = None

    def encode(self, texts, progress=False):
        if self._inner is None:
            from index.embed import SentenceTransformerEmbedder

            self._inner = SentenceTransformerEmbedder(self.source)
        return self._inner.encode(texts, progress=progress)


def build(content_dir: Path, index_dir: Path, model: str | None = None, embedder=None, progress: bool = False,
          export_onnx: bool = True) -> BuildReport:
    """Validate the content, embed what changed and publish a new index version.

    Args:
        content_dir: the folder of question files.
        index_dir: the index folder (created if missing).
        model: a sentence-transformers model name or folder; default the bundled all-MiniLM-L6-v2.
        embedder: for tests, an object with name, weights_sha256, dimension, max_seq_length and
            encode(texts, progress) that replaces the model.
        progress: show a progress bar while embedding.
    Returns:
        BuildReport. Nothing is written when the content and model are unchanged.
    Raises:
        ContentErrors (nothing written), ModelError, SearchToolError (another ingest is running).
    """
    started = time.perf_counter()
    content_dir, index_dir = Path(content_dir), Path(index_dir)
    questions = load_bank(content_dir)
    chunks = [c for q in questions for c in chunk(q)]
    titles = [title_text(q) for q in questions]
    sentence_rows = [row for q in questions for row in sentences(q)]
    name_rows = [(q.id, name) for q in questions for name in names(q)]

    if embedder is None:
        from index.embed import resolve_model

        source = resolve_model(model)
        model_info = {"name": source.name, "source": source.name if source.name != str(source.path) else str(source.path),
                      "weights_sha256": source.weights_sha256}
        encoder = _ModelEmbedder(source)
    else:
        source = None
        model_info = {"name": embedder.name, "source": embedder.name, "weights_sha256": embedder.weights_sha256}
        encoder = embedder
    analyzer = Analyzer()
    config = {
        "chunking": {"sections": [list(s) for s in SECTIONS], "embed_template": EMBED_TEMPLATE,
                     "title_template": TITLE_TEMPLATE, "sentence_split": SENTENCE_SPLIT},
        "lexical": analyzer.config(),
    }
    sources = {q.path: q.sha256 for q in questions}
    inputs = hashlib.sha256(json.dumps([model_info, config, sources, store.FORMAT_VERSION],
                                       sort_keys=True).encode()).hexdigest()

    with store.writer_lock(index_dir):
        previous, reuse = _previous_vectors(index_dir, model_info["weights_sha256"])
        if previous is not None and previous.get("inputs_sha256") == inputs and \
                Path(previous.get("content_dir", "")) == content_dir.resolve():
            removed = tuple(store.clean(index_dir))
            return BuildReport(len(questions), len(chunks), 0, len(chunks), time.perf_counter() - started, None,
                               removed)

        chunk_keys = [_key(model_info["weights_sha256"], c.embed_text) for c in chunks]
        title_keys = [_key(model_info["weights_sha256"], t) for t in titles]
        sentence_keys = [_key(model_info["weights_sha256"], t) for _, t in sentence_rows]
        name_keys = [_key(model_info["weights_sha256"], t) for _, t in name_rows]
        texts = (dict(zip(chunk_keys, (c.embed_text for c in chunks))) | dict(zip(title_keys, titles))
                 | dict(zip(sentence_keys, (t for _, t in sentence_rows))) | dict(zip(name_keys, (t for _, t in name_rows))))
        missing = [k for k in dict.fromkeys(chunk_keys + title_keys + sentence_keys + name_keys) if k not in reuse]
        if missing:
            fresh = encoder.encode([texts[k] for k in missing], progress=progress)
            reuse.update(zip(missing, np.asarray(fresh, dtype=np.float32)))
        fresh_keys = set(missing)
        embedded_chunks = sum(1 for k in set(chunk_keys) if k in fresh_keys)

        section_vectors = np.vstack([reuse[k] for k in chunk_keys]).astype(np.float32)
        title_vectors = np.vstack([reuse[k] for k in title_keys]).astype(np.float32)
        sentence_vectors = np.vstack([reuse[k] for k in sentence_keys]).astype(np.float32)
        name_vectors = np.vstack([reuse[k] for k in name_keys]).astype(np.float32)
        dimension = int(section_vectors.shape[1])
        question_row = {q.id: i for i, q in enumerate(questions)}
        chunk_questions = np.array([question_row[c.question_id] for c in chunks], dtype=np.int64)
        question_vectors = vec.mean_rows(section_vectors, chunk_questions, len(questions))

        if source is not None:
            model_info["max_seq_length"] = 256
            model_info["path"] = str(source.path)
            if hasattr(encoder, "_inner") and encoder._inner is not None:
                model_info["max_seq_length"] = encoder._inner.max_seq_length
            else:
                cfg = source.path / "sentence_bert_config.json"
                if cfg.is_file():
                    model_info["max_seq_length"] = int(json.loads(cfg.read_text()).get("max_seq_length", 256))
            onnx = None
            if export_onnx:
                from .onnx_export import ensure_onnx

                onnx = ensure_onnx(index_dir, source)
            model_info["onnx"] = onnx
        else:
            model_info["max_seq_length"] = int(getattr(embedder, "max_seq_length", 256))
            model_info["onnx"] = None
        model_info["dimension"] = dimension

        def write(folder: Path) -> dict:
            (folder / "questions.json").write_text(json.dumps([{
                "id": q.id, "title": q.title, "topics": list(q.topics), "aliases": list(q.aliases), "path": q.path,
                "sections": [{"key": s.key, "heading": s.heading, "text": s.text} for s in q.sections],
            } for q in questions], ensure_ascii=False, indent=1), encoding="utf-8")
            (folder / "chunks.json").write_text(json.dumps([{
                "id": c.id, "question": c.question_id, "section": c.section,
                "text_sha256": hashlib.sha256(c.embed_text.encode("utf-8")).hexdigest(),
            } for c in chunks], indent=1), encoding="utf-8")
            np.save(folder / "vectors.npy", section_vectors, allow_pickle=False)
            np.save(folder / "titles.npy", title_vectors, allow_pickle=False)
            np.save(folder / "questions.npy", question_vectors, allow_pickle=False)
            np.save(folder / "sentences.npy", sentence_vectors, allow_pickle=False)
            np.save(folder / "names.npy", name_vectors, allow_pickle=False)
            chunk_row = {c.id: i for i, c in enumerate(chunks)}
            sentence_chunks = np.array([chunk_row[cid] for cid, _ in sentence_rows], dtype=np.int32)
            name_questions = np.array([question_row[qid] for qid, _ in name_rows], dtype=np.int32)
            write_dense_fields(folder, sentence_vectors, sentence_chunks, name_questions, chunk_questions,
                               len(questions))
            store._checkpoint("vectors-written")
            faiss_index, faiss_spec = vec.build(section_vectors)
            vec.write(faiss_index, folder / "sections.faiss")
            dense_fields = build_field_indexes(folder, {"sentences": sentence_vectors, "titles": title_vectors})
            codes = write_codes(folder, chunk_questions, sentence_chunks, name_questions, len(questions))
            store._checkpoint("faiss-written")
            # one document per chunk, in chunk order (chunk() follows q.sections)
            LexicalIndex.build(analyzer, [s.text for q in questions for s in q.sections]).save(
                folder / "lexical" / "sections")
            LexicalIndex.build(analyzer, [" ".join([q.title, *q.aliases, *q.topics]) for q in questions]).save(
                folder / "lexical" / "titles")
            store._checkpoint("lexical-written")
            return {
                **config,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "model": model_info,
                "faiss": faiss_spec,
                "dense_fields": dense_fields,
                "codes": codes,
                "counts": {"questions": len(questions), "chunks": len(chunks)},
                "chunks": {c.id: hashlib.sha256(c.embed_text.encode("utf-8")).hexdigest() for c in chunks},
                "embedding_keys": {"chunks": chunk_keys, "titles": title_keys, "sentences": sentence_keys,
                                   "names": name_keys},
                "sources": sources,
                "content_dir": str(content_dir.resolve()),
                "inputs_sha256": inputs,
            }

        version = store.publish(index_dir, write)
        removed = tuple(store.clean(index_dir))
    return BuildReport(len(questions), len(chunks), embedded_chunks, len(chunks) - embedded_chunks,
                       time.perf_counter() - started, version, removed)
