"""The index version folder: its file names, its format version, its writer and its reader.

A version folder (`<index>/v-<stamp>/`, see store.py for the folder around it) holds:

    manifest.json                 what the version was built from, and every file below with its SHA-256
    questions.json, chunks.json   the questions with their sections; one row per chunk (id, question, section)
    vectors.npy, sections.faiss   one vector per section (chunk) and the sections' FAISS index
    titles.npy, sentences.npy, names.npy, related.npy, questions.npy
                                  the other dense fields: a question's title + aliases, every sentence alone,
                                  a question's title and each alias alone, a question's mean sentence vector,
                                  a question's mean section vector
    sentence_chunks.npy, name_questions.npy
                                  each sentence's chunk row, each name's question row
    background.npy                every background topic, for the no-match check (ingest/background.py); the
                                  manifest's "background_covered" lists the rows the bank covers, which the
                                  search leaves out
    <field>.faiss                 a dense field's own FAISS index, above ann.EXACT_MAX rows
    codes.sq8.npy, codes.sq8range.npy
                                  above codes.CODES_ABOVE chunks: sections, sentences and names as 8-bit codes
    lexical/sections/, lexical/titles/
                                  BM25 over the sections and over title + aliases + topics (lexical.LexicalIndex)

Ingest and the benchmark's synthetic banks write a version only through `write_version`; the search reads
one only through `read_version`. No other module spells these names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import ann, codes as codes_format
from .errors import IndexDamaged, SearchToolError
from .lexical import Analyzer, LexicalIndex
from .model import Question, Section
from .rows import load_mapped, mean_rows
from .vectors import DenseField

# 2: sentence, name and related fields (sentence_chunks.npy, name_questions.npy, related.npy); 3: background.npy
FORMAT_VERSION = 3
MANIFEST = "manifest.json"
CURRENT = "CURRENT"  # in the index folder, beside the versions: the live version's name
QUESTIONS = "questions.json"
CHUNKS = "chunks.json"
SENTENCE_CHUNKS = "sentence_chunks.npy"
NAME_QUESTIONS = "name_questions.npy"
CODES = "codes.sq8.npy"
CODE_RANGES = "codes.sq8range.npy"
# Files a large bank's queries read from disk (a block of codes per candidate question), not loaded at open:
# open_index hashes them last, so that they are still in the page cache when the folder is larger than it.
READ_BY_QUERIES = (CODES,)
SECTION_INDEX = "sections.faiss"
# every dense field's vector file; "chunks" is the sections' name in the manifest's embedding keys
VECTOR_FILES = {"sections": "vectors.npy", "titles": "titles.npy", "sentences": "sentences.npy",
                "names": "names.npy", "related": "related.npy", "questions": "questions.npy",
                "background": "background.npy"}
LEXICAL_FIELDS = ("sections", "titles")


def field_index_file(field: str) -> str:
    """The file of a dense field's own FAISS index (written only above ann.EXACT_MAX rows)."""
    return f"{field}.faiss"


def lexical_folder(version: Path, field: str) -> Path:
    """The folder of one lexical field's BM25 index (sections or titles)."""
    return Path(version) / "lexical" / field


@dataclass(frozen=True)
class ChunkRecord:
    """One row of chunks.json: a section of a question, with the hash of the text its vector was made from."""

    id: str  # "<question id>#<section key>"
    question: str
    section: str
    text_sha256: str


@dataclass(frozen=True)
class VectorBlocks:
    """A dense field too large to hold at once, made `block` rows at a time and written straight to its file.

    `make(start, stop)` returns float32 rows start:stop of `rows` rows of `dim` values.
    """

    rows: int
    dim: int
    make: Callable[[int, int], np.ndarray]
    block: int = 500_000


@dataclass(frozen=True, eq=False)
class VersionContents:
    """What `write_version` writes: the questions, their chunks (in row order: question by question, each
    question's sections in order) and every dense field's float vectors, rows normalized to length 1."""

    questions: list[Question]
    chunks: list[ChunkRecord]
    section_vectors: np.ndarray  # one per chunk
    title_vectors: np.ndarray  # one per question: title + aliases embedded together
    question_vectors: np.ndarray  # one per question: its mean section vector
    sentence_vectors: np.ndarray | VectorBlocks  # one per sentence
    name_vectors: np.ndarray  # one per name: a question's title and each alias
    sentence_chunks: np.ndarray  # each sentence's chunk row
    name_questions: np.ndarray  # each name's question row
    analyzer: Analyzer  # the lexical fields' analyzer (its config goes into the manifest under "lexical")
    background_vectors: np.ndarray | None = None  # every background topic; None for none
    background_covered: np.ndarray | None = None  # per topic row: True when the bank covers it (not searched)


@dataclass(frozen=True, eq=False)
class Version:
    """A version as `read_version` loads it: every file checked against the others, vector files memory-mapped."""

    questions: list[Question]
    chunk_ids: list[str]
    chunk_question: np.ndarray  # each chunk's question row (int64)
    chunk_section: list[str]  # each chunk's section key
    sections: dict[str, str]  # section key -> heading, from the manifest's chunking
    vectors: np.ndarray  # the section vectors
    question_vectors: np.ndarray
    section_index: object  # the sections' FAISS index
    titles: DenseField
    sentences: DenseField
    names: DenseField
    related: DenseField
    sentence_chunk: np.ndarray  # each sentence's chunk row (int64)
    name_question: np.ndarray  # each name's question row (int64)
    codes: codes_format.QuestionCodes | None  # above codes.CODES_ABOVE chunks
    analyzer: Analyzer
    lex_sections: LexicalIndex
    lex_titles: LexicalIndex
    background: np.ndarray  # the vectors of the background topics the bank does not cover (possibly no rows)


def _questions_json(questions: list[Question]) -> str:
    return json.dumps([{
        "id": q.id, "title": q.title, "topics": list(q.topics), "aliases": list(q.aliases), "path": q.path,
        "sections": [{"key": s.key, "heading": s.heading, "text": s.text} for s in q.sections],
    } for q in questions], ensure_ascii=False, indent=1)


def read_questions(version: Path) -> list[Question]:
    """The questions of a version, with their sections, in row order."""
    raw = json.loads((Path(version) / QUESTIONS).read_text(encoding="utf-8"))
    return [Question(q["id"], q["title"], tuple(q["topics"]), tuple(q["aliases"]), q["path"],
                     tuple(Section(s["key"], s["heading"], s["text"]) for s in q["sections"])) for q in raw]


def read_chunks(version: Path) -> list[ChunkRecord]:
    """The chunks of a version, in row order."""
    return [ChunkRecord(c["id"], c["question"], c["section"], c["text_sha256"])
            for c in json.loads((Path(version) / CHUNKS).read_text(encoding="utf-8"))]


def read_vectors(version: Path, field: str, mapped: bool = False) -> np.ndarray:
    """One dense field's float vectors (see VECTOR_FILES), read whole or memory-mapped for random row access."""
    path = Path(version) / VECTOR_FILES[field]
    return load_mapped(path) if mapped else np.load(path, allow_pickle=False)


def _save_vectors(folder: Path, field: str, vectors: np.ndarray | VectorBlocks) -> np.ndarray:
    path = folder / VECTOR_FILES[field]
    if not isinstance(vectors, VectorBlocks):
        np.save(path, vectors, allow_pickle=False)
        return vectors
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(vectors.rows, vectors.dim))
    for start in range(0, vectors.rows, vectors.block):
        stop = min(start + vectors.block, vectors.rows)
        out[start:stop] = vectors.make(start, stop)
    out.flush()
    return out


def write_version(folder: Path, contents: VersionContents,
                  checkpoint: Callable[[str], None] = lambda step: None) -> dict:
    """Write every file of a version into `folder` (store.publish's temporary folder).

    Args:
        folder: an empty folder.
        contents: what to write.
        checkpoint: called with "vectors-written", "faiss-written" and "lexical-written" as those steps end
            (the crash tests stop the writer there).
    Returns:
        The manifest entries the format owns: "faiss", "dense_fields", "codes" and "counts"; the caller adds
        its own (model, chunking, lexical, sources, …) and store.publish the file hashes.
    """
    folder = Path(folder)
    c = contents
    (folder / QUESTIONS).write_text(_questions_json(c.questions), encoding="utf-8")
    (folder / CHUNKS).write_text(json.dumps([{"id": ch.id, "question": ch.question, "section": ch.section,
                                              "text_sha256": ch.text_sha256} for ch in c.chunks], indent=1),
                                 encoding="utf-8")
    question_row = {q.id: i for i, q in enumerate(c.questions)}
    chunk_questions = np.array([question_row[ch.question] for ch in c.chunks], dtype=np.int64)
    n_questions = len(c.questions)
    _save_vectors(folder, "sections", c.section_vectors)
    _save_vectors(folder, "titles", c.title_vectors)
    _save_vectors(folder, "questions", c.question_vectors)
    sentence_vectors = _save_vectors(folder, "sentences", c.sentence_vectors)
    _save_vectors(folder, "names", c.name_vectors)
    dim = int(np.shape(c.section_vectors)[1])
    background = np.zeros((0, dim), dtype=np.float32) if c.background_vectors is None else c.background_vectors
    _save_vectors(folder, "background", np.asarray(background, dtype=np.float32))
    covered = np.zeros(len(background), dtype=bool) if c.background_covered is None else c.background_covered
    if len(covered) != len(background):
        raise ValueError("background_covered does not match background_vectors")
    np.save(folder / SENTENCE_CHUNKS, c.sentence_chunks, allow_pickle=False)
    np.save(folder / NAME_QUESTIONS, c.name_questions, allow_pickle=False)
    # related questions compare each question's mean sentence vector: every sentence counts alike
    _save_vectors(folder, "related", mean_rows(sentence_vectors, chunk_questions[c.sentence_chunks], n_questions))
    checkpoint("vectors-written")

    section_index, section_spec = ann.build(c.section_vectors)
    ann.write(section_index, folder / SECTION_INDEX)
    del section_index
    fields = {"sentences": sentence_vectors, "titles": c.title_vectors,
              "related": read_vectors(folder, "related", mapped=True)}
    dense_fields = {}
    for name in ann.INDEXED_FIELDS:
        index, spec = ann.build_field(fields[name], pq_above=ann.PQ_ABOVE.get(name))
        if index is not None:
            ann.write(index, folder / field_index_file(name))
            del index
        dense_fields[name] = spec
    del fields, sentence_vectors
    codes_spec = None
    if len(c.chunks) > codes_format.CODES_ABOVE:
        arrays = {"sections": read_vectors(folder, "sections", mapped=True),
                  "sentences": read_vectors(folder, "sentences", mapped=True),
                  "names": read_vectors(folder, "names", mapped=True)}
        codes_spec = write_codes(folder, arrays, chunk_questions, np.asarray(c.sentence_chunks, dtype=np.int64),
                                 np.asarray(c.name_questions, dtype=np.int64), n_questions)
    checkpoint("faiss-written")

    # one document per chunk, in chunk order (chunks follow each question's sections)
    LexicalIndex.build(c.analyzer, [s.text for q in c.questions for s in q.sections]).save(
        lexical_folder(folder, "sections"))
    LexicalIndex.build(c.analyzer, [" ".join([q.title, *q.aliases, *q.topics]) for q in c.questions]).save(
        lexical_folder(folder, "titles"))
    checkpoint("lexical-written")
    return {"faiss": section_spec, "dense_fields": dense_fields, "codes": codes_spec,
            "counts": {"questions": n_questions, "chunks": len(c.chunks)},
            "background_covered": [int(i) for i in np.flatnonzero(covered)]}


def write_codes(folder: Path, arrays: dict[str, np.ndarray], chunk_question, sentence_chunk, name_question,
                n_questions: int, block: int = 200_000) -> dict:
    """codes.sq8.npy and codes.sq8range.npy from the float vectors of codes.CODE_FIELDS; the manifest's entry."""
    return codes_format.write_question_codes(Path(folder) / CODES, Path(folder) / CODE_RANGES, arrays,
                                             chunk_question, sentence_chunk, name_question, n_questions, block)


def read_codes(folder: Path, spec: dict, chunk_question, sentence_chunk, name_question,
               n_questions: int) -> codes_format.QuestionCodes:
    """The question-major codes written by `write_codes`, checked against the row maps (ValueError if not)."""
    folder = Path(folder)
    try:
        return codes_format.QuestionCodes.from_arrays(load_mapped(folder / CODES),
                                                      np.load(folder / CODE_RANGES, allow_pickle=False), spec,
                                                      chunk_question, sentence_chunk, name_question, n_questions)
    except ValueError as exc:
        raise ValueError(f"{CODES} {exc}") from None


def read_field(version: Path, name: str, spec: dict | None, exact: bool = False) -> DenseField:
    """A dense field: its vectors (memory-mapped) and, when the spec names one and `exact` is off, its index."""
    vectors = read_vectors(version, name, mapped=True)
    index = None
    if not exact and spec and spec.get("type") not in (None, "exact"):
        index = ann.read(Path(version) / field_index_file(name), spec)
        if index.ntotal != len(vectors) or index.d != vectors.shape[1]:
            raise ValueError(f"{field_index_file(name)} does not match {VECTOR_FILES[name]}")
    return DenseField(vectors, index)


def read_version(version: Path, manifest: dict, where: Path, exact: bool = False) -> Version:
    """Load a version whose manifest and file hashes store.py has checked, and check its files against each other.

    Args:
        version: the version folder.
        manifest: its manifest.
        where: the index folder, named in errors.
        exact: ignore the approximate parts (every dense field scanned exactly, sections by a flat index built
            here, no 8-bit codes): the reference the benchmark measures recall against.
    Raises:
        IndexDamaged: a file that does not parse or does not match the others.
    """
    try:
        return _read(Path(version), manifest, Path(where), exact)
    except SearchToolError:
        raise
    except Exception as exc:  # a file that hashes right but does not parse: report, never trace
        raise IndexDamaged(where, f"cannot read {Path(version).name}: {type(exc).__name__}: {exc}") from None


def _read(version: Path, manifest: dict, where: Path, exact: bool) -> Version:
    questions = read_questions(version)
    question_row = {q.id: i for i, q in enumerate(questions)}
    chunks = read_chunks(version)
    chunk_question = np.array([question_row[c.question] for c in chunks], dtype=np.int64)
    dim = int(manifest["model"]["dimension"])
    vectors = read_vectors(version, "sections", mapped=True)
    question_vectors = np.load(version / VECTOR_FILES["questions"], mmap_mode="r", allow_pickle=False)
    section_index = ann.flat(vectors) if exact else ann.read(version / SECTION_INDEX, manifest["faiss"])
    fields = manifest["dense_fields"]
    titles = read_field(version, "titles", fields.get("titles"), exact)
    sentences = read_field(version, "sentences", fields.get("sentences"), exact)
    names = read_field(version, "names", None)
    sentence_chunk = np.load(version / SENTENCE_CHUNKS, allow_pickle=False).astype(np.int64)
    name_question = np.load(version / NAME_QUESTIONS, allow_pickle=False).astype(np.int64)
    n_chunks, n_q = len(chunks), len(questions)
    checks = [
        (vectors.shape == (n_chunks, dim), f"vectors.npy is {vectors.shape}, expected ({n_chunks}, {dim})"),
        (titles.vectors.shape == (n_q, dim), "titles.npy does not match the questions"),
        (question_vectors.shape == (n_q, dim), "questions.npy does not match the questions"),
        (section_index.ntotal == n_chunks and section_index.d == dim, "sections.faiss does not match the chunks"),
        (sentences.vectors.shape == (len(sentence_chunk), dim), "sentences.npy does not match sentence_chunks.npy"),
        (len(sentence_chunk) > 0 and np.array_equal(np.unique(sentence_chunk), np.arange(n_chunks)),
         "sentence_chunks.npy does not cover every chunk"),
        (names.vectors.shape == (len(name_question), dim), "names.npy does not match name_questions.npy"),
        (len(name_question) > 0 and np.array_equal(np.unique(name_question), np.arange(n_q)),
         "name_questions.npy does not cover every question"),
        (manifest["counts"] == {"questions": n_q, "chunks": n_chunks}, "counts differ from the manifest"),
    ]
    for ok, problem in checks:
        if not ok:
            raise IndexDamaged(where, problem)
    codes = None
    if manifest.get("codes") and not exact:
        codes = read_codes(version, manifest["codes"], chunk_question, sentence_chunk, name_question, n_q)
    related = read_field(version, "related", fields.get("related"), exact)
    if related.vectors.shape != (n_q, dim):
        raise IndexDamaged(where, "related.npy does not match the questions")
    analyzer = Analyzer.from_config(manifest["lexical"])
    lex_sections = LexicalIndex.load(lexical_folder(version, "sections"))
    lex_titles = LexicalIndex.load(lexical_folder(version, "titles"))
    if lex_sections.num_docs != n_chunks or lex_titles.num_docs != n_q:
        raise IndexDamaged(where, "the lexical index does not match the chunks")
    background = read_vectors(version, "background")
    if background.ndim != 2 or background.shape[1] != dim:
        raise IndexDamaged(where, f"background.npy is {background.shape}, expected (n, {dim})")
    covered = np.asarray(manifest.get("background_covered", []), dtype=np.int64)
    if len(covered) and (covered.min() < 0 or covered.max() >= len(background)):
        raise IndexDamaged(where, "the manifest's background_covered rows are outside background.npy")
    background = np.delete(background, covered, axis=0)
    return Version(questions, [c.id for c in chunks], chunk_question, [c.section for c in chunks],
                   dict(manifest["chunking"]["sections"]), vectors, question_vectors, section_index, titles,
                   sentences, names, related, sentence_chunk, name_question, codes, analyzer, lex_sections,
                   lex_titles, background)
