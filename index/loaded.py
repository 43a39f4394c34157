"""A loaded, verified index version, ready to be searched: its questions and fields, the row maps the search
walks, the query embedder, and the section and topic filters. The ranking over it is search.py's."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from . import format, store
from .errors import IndexDamaged, QueryError, UnknownQuestion
from .model import Question
from .query import NamePhrases, acronym_expansions


class LoadedIndex:
    """The contents of one index version (format.read_version) and what the search derives from them once."""

    def __init__(self, path: Path, version: Path, manifest: dict, embedder=None, exact: bool = False):
        self.path = Path(path)
        self.version = version
        self.manifest = manifest
        v = format.read_version(version, manifest, self.path, exact=exact)
        self.questions: list[Question] = v.questions
        self.question_row = {q.id: i for i, q in enumerate(self.questions)}
        self.chunk_ids, self.chunk_question, self.chunk_section = v.chunk_ids, v.chunk_question, v.chunk_section
        self.sections: dict[str, str] = v.sections
        self.topics = sorted({t for q in self.questions for t in q.topics})
        # Every dense file is memory-mapped: a large bank's vectors are read at the rows a query needs, not held.
        self.vectors, self.question_vectors, self.section_index = v.vectors, v.question_vectors, v.section_index
        self.titles, self.sentences, self.names = v.titles, v.sentences, v.names
        self.title_vectors, self.sentence_vectors, self.name_vectors = (
            v.titles.vectors, v.sentences.vectors, v.names.vectors)
        # related questions compare the mean of each question's sentence vectors: every sentence counts
        # alike, so one long section does not speak for the whole question
        self.related_field, self.related_vectors = v.related, v.related.vectors
        self.sentence_chunk, self.name_question = v.sentence_chunk, v.name_question
        self.codes = v.codes  # a large bank's candidates are scored from these 8-bit codes, question by question
        self.analyzer, self.lex_sections, self.lex_titles = v.analyzer, v.lex_sections, v.lex_titles
        self.background = v.background  # topics this bank does not cover (ingest/background.py)
        self.acronyms = acronym_expansions(self.questions)
        self.name_phrases = NamePhrases.of(self.questions)
        # each question's chunk rows, each chunk's sentence rows and each question's name rows, as ranges of a
        # stable ordering (CSR)
        n_chunks, n_q = len(self.chunk_ids), len(self.questions)
        self._chunk_order = np.argsort(self.chunk_question, kind="stable")
        self._chunk_start = np.searchsorted(self.chunk_question[self._chunk_order], np.arange(n_q + 1))
        self._sentence_order = np.argsort(self.sentence_chunk, kind="stable")
        self._sentence_start = np.searchsorted(self.sentence_chunk[self._sentence_order], np.arange(n_chunks + 1))
        self._name_order = np.argsort(self.name_question, kind="stable")
        self._name_start = np.searchsorted(self.name_question[self._name_order], np.arange(n_q + 1))
        self._embedder = embedder
        self._embed_lock = threading.Lock()
        self._query_vectors = None

    @property
    def model_name(self) -> str:
        return self.manifest["model"]["name"]

    @property
    def built_at(self) -> str:
        return self.manifest.get("built_at", "")

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector, from the cache or the model (loaded on first use)."""
        return self._query_cache()(text)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """The vectors of several texts with the query model, one row each, the uncached ones in one batch."""
        return self._query_cache().many(list(texts))

    def _query_cache(self):
        if self._query_vectors is None:
            with self._embed_lock:
                if self._query_vectors is None:
                    from .embed import QueryCache

                    self._query_vectors = QueryCache(self._embedder or self._load_embedder())
        return self._query_vectors

    def _load_embedder(self):
        from .embed import OnnxEmbedder, SentenceTransformerEmbedder, resolve_model
        from .errors import ModelError

        model = self.manifest["model"]
        onnx = model.get("onnx")
        if onnx and "cache" in onnx:  # the ONNX files in the model cache (ingest/onnx_export.py)
            from .embed import query_embedder

            try:
                return query_embedder(onnx, int(model["max_seq_length"]))
            except ModelError as exc:  # missing or altered: a rebuild makes the cache's files again
                raise IndexDamaged(self.path, str(exc)) from None
            except ImportError:
                pass  # onnxruntime missing: fall back to the reference implementation
        elif onnx:  # written by an older version, inside the index folder; the next build moves it to the cache
            folder = self.path / onnx["folder"]
            try:
                for fname, digest in onnx["files"].items():
                    if store.sha256_file(folder / fname) != digest:
                        raise IndexDamaged(self.path, f"{onnx['folder']}/{fname} does not match its hash")
                return OnnxEmbedder(folder, int(model["max_seq_length"]))
            except FileNotFoundError as exc:
                raise IndexDamaged(self.path, f"the query model is missing: {exc.filename}") from None
            except ImportError:
                pass  # onnxruntime missing: fall back to the reference implementation
        source = resolve_model(model["source"])
        if source.weights_sha256 != model["weights_sha256"]:
            raise ModelError(f"the model {model['name']!r} on this machine is not the one the index was built "
                             f"with (weights differ); rebuild with `python -m ingest`")
        return SentenceTransformerEmbedder(source)

    def question(self, question_id: str) -> Question:
        row = self.question_row.get(question_id)
        if row is None:
            import difflib

            raise UnknownQuestion(question_id, difflib.get_close_matches(question_id, list(self.question_row), n=3))
        return self.questions[row]

    # ------------------------------------------------------------------ filters
    def allowed_rows(self, sections, topics) -> np.ndarray | None:
        if sections is None and topics is None:
            return None
        mask = np.ones(len(self.chunk_ids), dtype=bool)
        if sections is not None:
            wanted = set(sections)
            mask &= np.array([s in wanted for s in self.chunk_section])
        if topics is not None:
            wanted_t = set(topics)
            ok_q = np.array([bool(wanted_t & set(q.topics)) for q in self.questions])
            mask &= ok_q[self.chunk_question]
        return np.flatnonzero(mask)

    def check_filters(self, sections, topics):
        if sections is not None:
            sections = [sections] if isinstance(sections, str) else list(sections)
            bad = [s for s in sections if s not in self.sections]
            if bad:
                raise QueryError(f"unknown section {bad[0]!r}; expected one of {', '.join(self.sections)}")
        if topics is not None:
            topics = [topics] if isinstance(topics, str) else list(topics)
            bad = [t for t in topics if t not in self.topics]
            if bad:
                raise QueryError(f"unknown topic {bad[0]!r}; expected one of {', '.join(self.topics)}")
        return sections, topics
