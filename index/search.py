"""Load an index folder and answer queries: hybrid search, grouping, related questions.

The hybrid search has two legs over two fields:

* dense — cosine of the query vector with each section (FAISS) and with each question's
  title + aliases;
* lexical — BM25 of the query's stemmed words over each section and over title + aliases + topics.

The legs are fused by their standardised scores (z-scores over the candidates), per question and per
section; every section scores its question's evidence plus its own, so the right question comes first and,
inside it, the right section. A query that asks for a kind of section ("example of …") lifts that
kind without hiding the others.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import store, vectors as vec
from .errors import IndexDamaged, QueryError, SearchToolError, UnknownQuestion
from .lexical import Analyzer, LexicalIndex
from .model import Hit, Question, Related, SearchResult, Section

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX = ROOT / "build" / "index"
DEFAULT_CONTENT = ROOT / "content"
MAX_QUERY_CHARS = 1000  # longer input is cut here: a question, not a document
MAX_K = 1000
TITLE_BEST_ROWS = 10  # a large bank's best title cosine: over the title leg's top rows (see _search)


@dataclass(frozen=True)
class SearchConfig:
    """The fusion's knobs. Values are tuned on the dev split of the evaluation set (see bench/)."""

    # weights of the standardised (z-scored) evidence of each leg and field
    w_dense: float = 1.0  # section vectors
    w_lexical: float = 1.0  # section BM25
    w_title_dense: float = 0.0  # title + aliases vectors
    w_title_lexical: float = 0.0  # title + aliases + topics BM25
    w_sentence: float = 0.5  # best sentence cosine (a section's sentences, each embedded alone)
    w_section_sentence: float = 0.25  # a section's own best sentence, in its section score
    sentence_top: int = 3  # a question's sentence evidence: mean cosine of its best `sentence_top` sentences
    w_names: float = 0.5  # best cosine with the question's title or one alias, each embedded alone
    section_weight: float = 0.5  # a section's own evidence, added to its question's score
    intent_boost: float = 2.0  # added to sections of the kind the query asked for ("example of …")
    repair_dense: bool = True  # the dense leg embeds the query with its typos repaired
    candidates: int = 100  # rows taken from each leg before fusion
    # no_close_match: a logistic model over NO_MATCH_FEATURES gives the probability that the bank answers the
    # query; below the threshold the answer is flagged. Fitted on the dev split; the threshold flags at most 1% of
    # dev real queries each scored by a model fitted without it (leave-one-out): `python -m bench eval --calibrate`.
    no_match_weights: tuple[float, ...] = (2.0751, 3.5631, 2.4306, -0.0022, -1.9850, 3.2853)
    no_match_bias: float = -4.6756
    no_match_threshold: float = 0.1621
    related_topic_weight: float = 0.0  # added to related scores per shared topic (Jaccard)


# Phrases that ask for one kind of section. Matched on the lowercased query; removed from the text
# used to find the question ("common mistakes with cross validation" → "cross validation").
SECTION_INTENTS: dict[str, re.Pattern] = {
    "example": re.compile(r"\b(?:(?:a |some )?(?:real[- ]world|concrete|practical|worked|toy) (?:examples?|cases?|use[- ]cases?"
                          r"|applications?)|examples?|use[- ]cases?|case stud(?:y|ies)|for instance|illustrat\w*"
                          r"|in practice|show me how it looks)\b(?: of| for| with| about)?"),
    "mistakes": re.compile(r"\b(?:common |typical |classic )?(?:mistakes?|pitfalls?|gotchas?|errors people make"
                           r"|anti-?patterns?|misconceptions?|traps?|what not to do|what to avoid"
                           r"|what (?:do )?people get wrong|where people go wrong|things that go wrong)\b"
                           r"(?: with| in| when| of| about)?"),
    "story": re.compile(r"\b(?:production |war |real )?(?:stor(?:y|ies)|anecdotes?|incidents?|post-?mortems?"
                        r"|went wrong|failed in production|failure in production|(?:what )?happened in production"
                        r"|in production at|outage)\b(?: about| of| with| where| when)?"),
    "short": re.compile(r"\b(?:short answer|tl;?dr|in (?:one|a single|a) (?:sentence|line)|in a nutshell|briefly"
                        r"|quick answer|one-liner|one liner|summarize|summarise|eli5|definition of|define)\b"),
    "explanation": re.compile(r"\b(?:explain(?:ed)?|explanation|in depth|in detail|deep dive|walk me through"
                              r"|step by step|under the hood|the math behind|intuition behind)\b(?: of)?"),
}

# What the no_close_match model reads (see Index._no_match_features).
NO_MATCH_FEATURES = ("best section or title cosine", "best sentence cosine", "best name cosine",
                     "fused score margin, top-1 minus top-2 question", "idf-weighted share of unknown words",
                     "share of known words")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def normalize_query(query) -> str:
    """Unicode NFKC, control characters and extra spaces removed, cut to MAX_QUERY_CHARS.

    Raises QueryError for a query with nothing to search for.
    """
    if not isinstance(query, str):
        raise QueryError("the query must be text")
    text = unicodedata.normalize("NFKC", query)
    text = _CONTROL.sub(" ", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cs", "Co", "Cn"))
    text = " ".join(text.split())[:MAX_QUERY_CHARS].strip()
    if not text:
        raise QueryError("the query is blank: type a question or a few words, e.g. \"how do I detect leakage\"")
    return text


def detect_intent(text: str) -> tuple[str | None, str]:
    """(section key the query asks for or None, the query with that phrase removed)."""
    lowered = text.lower()
    best = None
    for key, pattern in SECTION_INTENTS.items():
        m = pattern.search(lowered)
        if m and (best is None or m.start() < best[1].start()):
            best = (key, m)
    if best is None:
        return None, text
    key, m = best
    rest = " ".join((text[:m.start()] + " " + text[m.end():]).split())
    rest = re.sub(r"^(?:(?:give|show|tell) me|what are|what is|what|an?|the|some)\s+", "", rest, flags=re.I)
    rest = re.sub(r"^(?:an?|the|some)\s+", "", rest, flags=re.I)
    return key, rest if re.search(r"\w{2,}", rest) else text


_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]{1,5}$")
_TOKEN = re.compile(r"[A-Za-z0-9]+")


def acronym_expansions(questions) -> dict[str, str]:
    """{lowercased acronym: its spelled-out words}, learned from the bank's own aliases.

    An alias such as "PSI" is expanded by the phrase in the same question's title or aliases whose
    initials spell it ("population stability index"); an acronym with no such phrase ("GBM") by its
    question's first alias that is not an acronym ("gradient boosted trees"). An alias counts as an
    acronym when it is one ("RF") or starts with one ("KS test").
    """
    out: dict[str, list[str]] = {}
    for q in questions:
        acronyms = list(dict.fromkeys(a.split()[0] for a in q.aliases if _ACRONYM.match(a.split()[0])))
        if not acronyms:
            continue
        phrases = [_TOKEN.findall(x) for x in (*q.aliases, q.title) if not _ACRONYM.match(x.split()[0])]
        fallback = " ".join(phrases[0]) if phrases else ""
        for acronym in acronyms:
            n = len(acronym)
            found = next((" ".join(words[i:i + n]) for words in phrases for i in range(len(words) - n + 1)
                          if "".join(w[0] for w in words[i:i + n]).upper() == acronym), None)
            expansion = (found or fallback).lower()
            if expansion:
                out.setdefault(acronym.lower(), [])
                if expansion not in out[acronym.lower()]:
                    out[acronym.lower()].append(expansion)
    return {a: " ".join(e) for a, e in out.items()}


def expand_acronyms(text: str, acronyms: dict[str, str]) -> str:
    """The query with each known acronym followed by its spelled-out words: "what is PSI" →
    "what is PSI (population stability index)". Both legs see the expansion."""
    extra = [acronyms[w.lower()] for w in dict.fromkeys(_TOKEN.findall(text)) if w.lower() in acronyms]
    extra = [e for e in extra if e not in text.lower()]
    return f"{text} ({'; '.join(extra)})" if extra else text


def _apply_repairs(text: str, corrected: dict[str, str]) -> str:
    """The text with each repaired word replaced (case-insensitive, whole words)."""
    for wrong, right in corrected.items():
        text = re.sub(rf"\b{re.escape(wrong)}\b", right, text, flags=re.I)
    return text


def _standardise(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std, or zeros when x does not vary (a leg with no evidence adds nothing)."""
    std = float(x.std()) if len(x) else 0.0
    return (x - x.mean()) / std if std > 1e-9 else np.zeros_like(x)


_top = vec.top_rows
_ranges = vec.ranges


def _segment_max(values: np.ndarray, counts: np.ndarray, floor: float) -> np.ndarray:
    """max(floor, the largest value) of each run of `values` (run i holds counts[i] values, in order), float64;
    `floor` for an empty run. What `np.maximum.at` gives for owners in runs, in one reduction."""
    out = np.full(len(counts), floor, dtype=np.float64)
    filled = counts > 0
    if filled.any():
        starts = np.cumsum(counts) - counts
        out[filled] = np.maximum(floor, np.maximum.reduceat(values, starts[filled]))
    return out


def _top_mean(cos: np.ndarray, counts: np.ndarray, top: int) -> np.ndarray:
    """Per run of `cos` (run i holds counts[i] cosines: one owner's), the mean of its `top` best cosines, -1 for an
    empty run: several sentences agreeing say more than one lucky sentence. The best are summed best first."""
    n = len(counts)
    out = np.full(n, -1.0)
    width = int(counts.max()) if n else 0
    if width == 0:
        return out
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(n), counts)
    if n * width <= 4 * len(cos) + 4096:  # one row per owner, its cosines padded with -inf, each row sorted
        grid = np.full((n, width), -np.inf, dtype=np.float64)
        grid[owner, np.arange(len(cos)) - starts[owner]] = cos
        best = -np.sort(-grid, axis=1)[:, :top]
    else:  # an owner far longer than the rest: one sort of every cosine instead of a mostly empty grid
        order = np.lexsort((-cos, owner))
        rank = np.arange(len(cos)) - starts[owner[order]]
        best = np.full((n, top), -np.inf)
        first = rank < top
        best[owner[order][first], rank[first]] = cos[order][first]
    taken = np.isfinite(best)
    total = np.zeros(n)
    for j in range(best.shape[1]):
        total += np.where(taken[:, j], best[:, j], 0.0)
    count = taken.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), -1.0)


def _ranks(order: np.ndarray) -> dict[int, int]:
    """{row: rank (1-based)} for the rows in `order` (a dict: two arrays the size of a 1M bank took 1.3 ms a query)."""
    return dict(zip(order.tolist(), range(1, len(order) + 1)))


class Index:
    """A loaded, verified index. Thread-safe for concurrent searches."""

    def __init__(self, path: Path, version: Path, manifest: dict, embedder=None,
                 config: SearchConfig | None = None):
        self.path = Path(path)
        self.version = version
        self.manifest = manifest
        self.config = config or SearchConfig()
        try:
            self._load(version, manifest)
        except SearchToolError:
            raise
        except Exception as exc:  # a file that hashes right but does not parse: report, never trace
            raise IndexDamaged(self.path, f"cannot read {version.name}: {type(exc).__name__}: {exc}") from None
        self._embedder = embedder
        self._embed_lock = threading.Lock()
        self._query_vectors = None

    # ------------------------------------------------------------------ loading
    def _load(self, version: Path, manifest: dict) -> None:
        raw_questions = json.loads((version / "questions.json").read_text(encoding="utf-8"))
        self.questions: list[Question] = [
            Question(q["id"], q["title"], tuple(q["topics"]), tuple(q["aliases"]), q["path"],
                     tuple(Section(s["key"], s["heading"], s["text"]) for s in q["sections"]))
            for q in raw_questions]
        self.question_row = {q.id: i for i, q in enumerate(self.questions)}
        chunks = json.loads((version / "chunks.json").read_text(encoding="utf-8"))
        self.chunk_ids = [c["id"] for c in chunks]
        self.chunk_question = np.array([self.question_row[c["question"]] for c in chunks], dtype=np.int64)
        self.chunk_section = [c["section"] for c in chunks]
        self.sections: dict[str, str] = dict(manifest["chunking"]["sections"])
        self.topics = sorted({t for q in self.questions for t in q.topics})
        # each question's chunk rows, as ranges of a stable ordering (CSR), like sentences and names below
        self._chunk_order = np.argsort(self.chunk_question, kind="stable")
        self._chunk_start = np.searchsorted(self.chunk_question[self._chunk_order], np.arange(len(self.questions) + 1))

        dim = int(manifest["model"]["dimension"])
        # Every dense file is memory-mapped: a large bank's vectors are read at the rows a query needs, not held.
        self.vectors = vec.load_mapped(version / "vectors.npy")
        self.question_vectors = np.load(version / "questions.npy", mmap_mode="r", allow_pickle=False)
        self.faiss = vec.read(version / "sections.faiss", manifest["faiss"])
        fields = manifest["dense_fields"]
        self.titles = vec.DenseField.load(version, "titles", fields.get("titles"))
        self.sentences = vec.DenseField.load(version, "sentences", fields.get("sentences"))
        self.names = vec.DenseField.load(version, "names", None)
        self.title_vectors, self.sentence_vectors, self.name_vectors = (
            self.titles.vectors, self.sentences.vectors, self.names.vectors)
        # row maps written beside the vectors by ingest: each sentence's chunk row, each name's question row
        self.sentence_chunk = np.load(version / "sentence_chunks.npy", allow_pickle=False).astype(np.int64)
        self.name_question = np.load(version / "name_questions.npy", allow_pickle=False).astype(np.int64)
        counts = manifest["counts"]
        n_chunks = len(self.chunk_ids)
        checks = [
            (self.vectors.shape == (n_chunks, dim), f"vectors.npy is {self.vectors.shape}, expected ({n_chunks}, {dim})"),
            (self.title_vectors.shape == (len(self.questions), dim), "titles.npy does not match the questions"),
            (self.question_vectors.shape == (len(self.questions), dim), "questions.npy does not match the questions"),
            (self.faiss.ntotal == n_chunks and self.faiss.d == dim, "sections.faiss does not match the chunks"),
            (self.sentence_vectors.shape == (len(self.sentence_chunk), dim), "sentences.npy does not match sentence_chunks.npy"),
            (len(self.sentence_chunk) > 0 and np.array_equal(np.unique(self.sentence_chunk), np.arange(n_chunks)),
             "sentence_chunks.npy does not cover every chunk"),
            (self.name_vectors.shape == (len(self.name_question), dim), "names.npy does not match name_questions.npy"),
            (len(self.name_question) > 0 and np.array_equal(np.unique(self.name_question), np.arange(len(self.questions))),
             "name_questions.npy does not cover every question"),
            (counts == {"questions": len(self.questions), "chunks": n_chunks}, "counts differ from the manifest"),
        ]
        for ok, problem in checks:
            if not ok:
                raise IndexDamaged(self.path, problem)
        # each chunk's sentence rows and each question's name rows, as ranges of a stable ordering (CSR)
        self._sentence_order = np.argsort(self.sentence_chunk, kind="stable")
        self._sentence_start = np.searchsorted(self.sentence_chunk[self._sentence_order], np.arange(n_chunks + 1))
        self._name_order = np.argsort(self.name_question, kind="stable")
        self._name_start = np.searchsorted(self.name_question[self._name_order], np.arange(len(self.questions) + 1))
        # a large bank's candidates are scored from 8-bit codes, question by question (vectors.QuestionCodes)
        self.codes = None
        if manifest.get("codes"):
            self.codes = vec.QuestionCodes.load(version, manifest["codes"], self.chunk_question, self.sentence_chunk,
                                                self.name_question, len(self.questions))
        # related questions compare the mean of each question's sentence vectors: every sentence counts
        # alike, so one long section does not speak for the whole question (ingest stores it: related.npy)
        self.related_field = vec.DenseField.load(version, "related", fields.get("related"))
        self.related_vectors = self.related_field.vectors
        if self.related_vectors.shape != (len(self.questions), dim):
            raise IndexDamaged(self.path, "related.npy does not match the questions")
        self.analyzer = Analyzer.from_config(manifest["lexical"])
        self.acronyms = acronym_expansions(self.questions)
        # idf of a stem over every document the bank has (sections, and each question's title + aliases + topics),
        # read from the two lexical indexes' postings when a query needs it (see _no_match_features)
        self._n_docs = len(self.questions) + n_chunks
        self._unknown_idf = float(np.log((self._n_docs + 1) / 0.5))
        self.lex_sections = LexicalIndex.load(version / "lexical" / "sections")
        self.lex_titles = LexicalIndex.load(version / "lexical" / "titles")
        if self.lex_sections.num_docs != len(chunks) or self.lex_titles.num_docs != len(self.questions):
            raise IndexDamaged(self.path, "the lexical index does not match the chunks")

    @property
    def model_name(self) -> str:
        return self.manifest["model"]["name"]

    @property
    def built_at(self) -> str:
        return self.manifest.get("built_at", "")

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector, from the cache or the model (loaded on first use)."""
        if self._query_vectors is None:
            with self._embed_lock:
                if self._query_vectors is None:
                    from .embed import QueryCache

                    self._query_vectors = QueryCache(self._embedder or self._load_embedder())
        return self._query_vectors(text)

    def _load_embedder(self):
        from .embed import OnnxEmbedder, SentenceTransformerEmbedder, resolve_model
        from .errors import ModelError

        model = self.manifest["model"]
        onnx = model.get("onnx")
        if onnx:
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

    # ------------------------------------------------------------------ search
    def _allowed_rows(self, sections, topics) -> np.ndarray | None:
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

    def _check_filters(self, sections, topics):
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

    def _understand(self, topic_text: str):
        """(words for the lexical leg, their stems, typo repairs, query vector) for the topic part of a query."""
        words = self.analyzer.words(topic_text)
        corrected = {}
        for w, stem in zip(words, self.analyzer.stems(words)):
            fix = self.lex_sections.repair(w, stem)
            if fix and not self.lex_titles.knows(w, stem) and self.lex_titles.repair(w, stem) in (fix, None):
                corrected[w] = fix
        lex_words = [corrected.get(w, w) for w in words]
        # the dense leg reads the repaired words too: the model sees "atention" as a different token
        dense_text = _apply_repairs(topic_text, corrected) if self.config.repair_dense else topic_text
        return lex_words, self.analyzer.stems(lex_words), corrected, self.embed_query(dense_text)

    def no_match_features(self, query: str) -> np.ndarray:
        """The features the no_close_match model reads for a query (NO_MATCH_FEATURES), for calibration."""
        return self._search(query, 1, None, None)[1]

    def answer_probability(self, features: np.ndarray) -> float:
        """The no_close_match model: probability that the bank answers a query with these features."""
        z = float(np.dot(self.config.no_match_weights, features)) + self.config.no_match_bias
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))

    def search(self, query: str, k: int = 10, sections=None, topics=None) -> SearchResult:
        """Ranked section hits for a query.

        Args:
            query: what the user typed.
            k: how many section hits to return (1–1000).
            sections: keep only these section kinds (e.g. ["mistakes"]); None for all.
            topics: keep only questions with one of these topics; None for all.
        Returns:
            SearchResult: hits best first (each with both legs' scores), `.groups` by question,
            and `no_close_match` when nothing in the bank answers the query.
        Raises:
            QueryError: blank query, k out of range, unknown section or topic.
        """
        return self._search(query, k, sections, topics)[0]

    def _search(self, query, k, sections, topics) -> tuple[SearchResult, np.ndarray]:
        cfg = self.config
        text = normalize_query(query)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise QueryError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
        sections, topics = self._check_filters(sections, topics)
        intent, topic_text = detect_intent(text)
        topic_text = expand_acronyms(topic_text, self.acronyms)
        allowed = self._allowed_rows(sections, topics)
        n_chunks, n_q = len(self.chunk_ids), len(self.questions)
        if allowed is not None and len(allowed) == 0:
            return SearchResult(text, [], True, intent), np.zeros(len(NO_MATCH_FEATURES))

        lex_words, stems, corrected, qv = self._understand(topic_text)
        lex_sec = self.lex_sections.scores(stems)
        lex_title = self.lex_titles.scores(stems)
        n_cand = min(n_chunks, max(cfg.candidates, k))
        d_scores, d_rows = vec.search(self.faiss, qv, n_cand, allowed)
        # Each dense field is asked for its own candidates (exactly at or below vectors.EXACT_MAX rows, by its
        # FAISS index above) and scored only at the candidates' rows, read from the files (vectors.read_rows):
        # no scan of every sentence, name or title.
        titles_q = self.titles.query(qv)
        sentences_q = self.sentences.query(qv)

        # restrict to the filter
        q_allowed = np.ones(n_q, dtype=bool)
        keep = None
        if allowed is not None:
            lex_sec = lex_sec.copy()
            keep = np.zeros(n_chunks, dtype=bool)
            keep[allowed] = True
            lex_sec[~keep] = 0.0
            q_allowed[:] = False
            q_allowed[self.chunk_question[allowed]] = True

        # ranks per leg (0 = not retrieved), kept on each hit so a front end can say why it matched
        lex_order = _top(lex_sec, n_cand)
        lex_order = lex_order[lex_sec[lex_order] > 0]
        dense_rank = _ranks(d_rows)
        lex_rank = _ranks(lex_order)
        t_dense_order = titles_q.top(cfg.candidates, None if allowed is None else q_allowed)
        t_dense_order = t_dense_order[q_allowed[t_dense_order]]
        t_lex_order = _top(lex_title, cfg.candidates)
        t_lex_order = t_lex_order[(lex_title[t_lex_order] > 0) & q_allowed[t_lex_order]]

        # candidate questions: any that a leg retrieved; all their (allowed) sections are scored
        s_rows = sentences_q.top(n_cand, None if keep is None else keep[self.sentence_chunk])
        cand_q = np.unique(np.concatenate([self.chunk_question[d_rows], self.chunk_question[lex_order],
                                           self.chunk_question[self.sentence_chunk[s_rows]],
                                           t_dense_order, t_lex_order]).astype(np.int64))
        cand_q = cand_q[q_allowed[cand_q]]
        rows = self._chunk_order[_ranges(self._chunk_start[cand_q], self._chunk_start[cand_q + 1])]
        if allowed is not None:
            rows = rows[np.isin(rows, allowed)]
        if len(rows) == 0:
            return SearchResult(text, [], True, intent, corrected), np.zeros(len(NO_MATCH_FEATURES))
        # `rows` runs question by question in cand_q's order: per-question evidence is one reduction per run
        pos = np.searchsorted(cand_q, self.chunk_question[rows])
        per_q = np.bincount(pos, minlength=len(cand_q))
        # each candidate section's sentences, section by section (so in runs per section and per question),
        # and each candidate question's names (its title and each alias, embedded alone)
        sent_counts = self._sentence_start[rows + 1] - self._sentence_start[rows]
        sent = self._sentence_order[_ranges(self._sentence_start[rows], self._sentence_start[rows + 1])]
        name_counts = self._name_start[cand_q + 1] - self._name_start[cand_q]
        names = self._name_order[_ranges(self._name_start[cand_q], self._name_start[cand_q + 1])]
        if self.codes is not None:  # a large bank: every candidate question's rows from its block of codes
            cos, base = self.codes.cosines(cand_q, qv)
            at = self.codes.at
            section_cos = cos[base[pos] + at["sections"][rows]].astype(np.float64)
            sentence_cos = cos[np.repeat(base[pos], sent_counts) + at["sentences"][sent]]
            name_values = cos[np.repeat(base, name_counts) + at["names"][names]]
        else:
            section_cos = np.asarray(vec.read_rows(self.vectors, rows) @ qv, dtype=np.float64)
            sentence_cos = sentences_q.cosines(sent)
            name_values = self.names.query(qv).cosines(names)
        row_lex = lex_sec[rows].astype(np.float64)
        row_sentence = _segment_max(sentence_cos, sent_counts, -1.0)
        name_cos = _segment_max(name_values, name_counts, -1.0)
        # The title field (title + aliases embedded together) is weighted 0 by default and then only gives
        # no_close_match its best cosine: above EXACT_MAX titles that best is taken over the title leg's own top
        # rows, re-scored exactly, instead of reading every candidate's title (~500 reads at 1M chunks).
        if cfg.w_title_dense or self.titles.index is None or len(t_dense_order) == 0:
            title_cos = titles_q.cosines(cand_q)
        else:
            title_cos = titles_q.cosines(np.sort(t_dense_order[:TITLE_BEST_ROWS]))

        # Score fusion: every leg's evidence is standardised over the candidates (z-score), so neither
        # leg's scale dominates and a clear winner in one leg counts for more than a rank would say.
        # A question scores its best section in each leg plus its title/aliases field; a section scores
        # its question plus its own evidence, so the right question comes first and, in it, the right section.
        best_cos = _segment_max(section_cos, per_q, -1.0)
        best_lex = _segment_max(row_lex, per_q, 0.0)
        best_sentence = _top_mean(sentence_cos, np.bincount(pos, weights=sent_counts, minlength=len(cand_q))
                                  .astype(np.int64), cfg.sentence_top)
        question_score = (cfg.w_dense * _standardise(best_cos) + cfg.w_lexical * _standardise(best_lex)
                          + cfg.w_sentence * _standardise(best_sentence)
                          + cfg.w_names * _standardise(name_cos))
        if cfg.w_title_dense:
            question_score += cfg.w_title_dense * _standardise(title_cos.astype(np.float64))
        if cfg.w_title_lexical:
            question_score += cfg.w_title_lexical * _standardise(lex_title[cand_q].astype(np.float64))
        section_score = (cfg.w_dense * _standardise(section_cos) + cfg.w_lexical * _standardise(row_lex)
                         + cfg.w_section_sentence * _standardise(row_sentence))
        scores = question_score[pos] + cfg.section_weight * section_score
        if intent:
            scores = scores + cfg.intent_boost * np.array([self.chunk_section[r] == intent for r in rows])
        order = np.lexsort((rows, -scores))[:k]

        query_words = sorted(set(self.analyzer.words(text)) | set(lex_words))
        query_stems = set(self.analyzer.stems(query_words))
        hits = []
        for i in order:
            row = int(rows[i])
            q = self.questions[self.chunk_question[row]]
            section = q.section(self.chunk_section[row])
            hits.append(Hit(
                chunk_id=self.chunk_ids[row], question_id=q.id, question=q.title, section=section.key,
                heading=section.heading, text=section.text, score=float(scores[i]),
                dense_score=float(section_cos[i]), lexical_score=float(lex_sec[row]),
                dense_rank=dense_rank.get(row), lexical_rank=lex_rank.get(row),
                matched_terms=self._matched(query_stems, section.text), topics=q.topics))
        features = self._no_match_features(max(float(best_cos.max()), float(title_cos.max())),
                                           float(row_sentence.max()), float(name_cos.max()),
                                           question_score, stems)
        no_match = bool(self.answer_probability(features) < cfg.no_match_threshold)
        return SearchResult(text, hits, no_match, intent, corrected), features

    def _matched(self, query_stems: set[str], text: str) -> tuple[str, ...]:
        """The words of `text` (each once, in order) whose stem is one of the query's."""
        if not query_stems:
            return ()
        words = list(dict.fromkeys(self.analyzer.words(text)))
        return tuple(w for w, s in zip(words, self.analyzer.stems(words)) if s in query_stems)

    def _no_match_features(self, best_cos, best_sentence, best_name, question_score, stems) -> np.ndarray:
        top = np.sort(question_score)[::-1]
        margin = float(top[0] - top[1]) if len(top) > 1 else 0.0
        distinct = list(dict.fromkeys(stems))
        df = [self.lex_sections.document_frequency(s) + self.lex_titles.document_frequency(s) for s in distinct]
        known = [n > 0 for n in df]
        weight = [float(np.log((self._n_docs + 1) / (n + 0.5))) if n else self._unknown_idf for n in df]
        unknown_share = (sum(w for w, k in zip(weight, known) if not k) / sum(weight)) if distinct else 1.0
        coverage = (sum(known) / len(distinct)) if distinct else 0.0
        return np.array([best_cos, best_sentence, best_name, margin, unknown_share, coverage])

    # ------------------------------------------------------------------ questions
    def question(self, question_id: str) -> Question:
        row = self.question_row.get(question_id)
        if row is None:
            import difflib

            raise UnknownQuestion(question_id, difflib.get_close_matches(question_id, list(self.question_row), n=3))
        return self.questions[row]

    def related(self, question_id: str, k: int = 3) -> list[Related]:
        """Other questions nearest to this one (by their mean sentence vector, plus shared topics), never itself."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise QueryError(f"k must be a positive whole number, not {k!r}")
        q = self.question(question_id)
        row = self.question_row[q.id]
        vector = np.asarray(self.related_vectors[row])
        if self.related_field.index is None:  # exact: every question
            rows = np.arange(len(self.questions))
            scores = np.asarray(self.related_vectors @ vector)
        else:  # a large bank: the field's index proposes candidates, scored exactly
            found = self.related_field.query(vector)
            rows = np.sort(found.top(max(k + 1, self.config.candidates)))
            scores = found.cosines(rows)
        if self.config.related_topic_weight:
            mine = set(q.topics)
            jac = np.array([len(mine & set(self.questions[i].topics)) / max(1, len(mine | set(self.questions[i].topics)))
                            for i in rows])
            scores = scores + self.config.related_topic_weight * jac
        scores = np.where(rows == row, -np.inf, scores)
        order = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]
        return [Related(self.questions[rows[i]].id, self.questions[rows[i]].title, float(scores[i]),
                        self.questions[rows[i]].topics) for i in order]


def open_index(path: Path | str = DEFAULT_INDEX, content_dir: Path | str | None = None, check_stale: bool = True,
               verify: bool = True, embedder=None, config: SearchConfig | None = None) -> Index:
    """Load and verify the live version of an index folder.

    Args:
        path: the index folder (default build/index).
        content_dir: the content folder to check freshness against (default: the one recorded at build).
        check_stale: raise IndexStale when the content changed since the build.
        verify: check every file's SHA-256 against the manifest (on by default).
        embedder: an object with `encode(list[str]) -> ndarray` for queries (tests pass a fake).
    Raises:
        IndexMissing, IndexDamaged, IndexStale.
    """
    path = Path(path)
    version = store.current_version(path)
    manifest = store.read_manifest(version, path)
    if verify:
        store.verify_files(version, manifest, path)
    if check_stale:
        store.check_fresh(path, manifest, Path(content_dir) if content_dir else None)
    # ingest's per-chunk hashes and embedding keys are not the search's to keep: at a million chunks they are
    # about a gigabyte of Python strings, let go before the index loads
    manifest = {key: value for key, value in manifest.items() if key not in ("chunks", "embedding_keys")}
    return Index(path, version, manifest, embedder=embedder, config=config)
