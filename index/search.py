"""Answer queries over a loaded index: hybrid search, grouping, related questions.

One query, from text to hits (`Index.search`), each step a named function:

1. understand (query.py): normalize, the section kind asked for, acronyms spelled out, typo repairs and the
   query vector → a QueryPlan;
2. filter: the rows the section and topic filters allow;
3. candidates: each leg's best rows (dense: FAISS over sections, sentences and titles; lexical: BM25 over
   sections and over title + aliases + topics) → candidate questions, and all their allowed sections;
4. evidence: every leg scored at the candidate rows (float vectors, or a large bank's 8-bit codes), and how much
   of the query each candidate question holds across its sections;
5. fuse (fusion.py): standardised evidence, weighted sum → one score per section;
6. hits: the k best sections, each with both legs' scores and ranks, grouped by question in SearchResult;
7. no match (nomatch.py): the probability that anything in the bank answers the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import ann, format, lexical, nomatch, store
from .errors import QueryError
from .fusion import Evidence, Fused, fuse, ranks
from .loaded import LoadedIndex
from .model import Hit, Question, Related, SearchResult
from .nomatch import NO_MATCH_FEATURES
from .query import (MAX_K, MAX_QUERY_CHARS, QueryPlan, acronym_expansions, apply_repairs, check_k, detect_intent,
                    expand_acronyms, normalize_query, plan_query)
from .rows import ranges, read_rows, top_rows
from .threads import single_thread
from .vectors import FieldQuery

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX = ROOT / "build" / "index"
DEFAULT_CONTENT = ROOT / "content"
TITLE_BEST_ROWS = 10  # a large bank's best title cosine: over the title leg's top rows (see _evidence)
__all__ = ["DEFAULT_CONTENT", "DEFAULT_INDEX", "MAX_K", "MAX_QUERY_CHARS", "NO_MATCH_FEATURES", "Index",
           "SearchConfig", "acronym_expansions", "config_for", "detect_intent", "expand_acronyms", "normalize_query",
           "open_index"]


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
    w_named: float = 2.0  # added to a question whose alias or id words the query contains (query.NamePhrases)
    w_coverage: float = 0.5  # the idf-weighted share of the query's stems a question holds in any section or name
    repair_dense: bool = True  # the dense leg embeds the query with its typos repaired
    candidates: int = 100  # rows taken from each leg before fusion
    # no_close_match: a logistic model over NO_MATCH_FEATURES gives the probability that the bank answers the
    # query; below the threshold the answer is flagged. Fitted on both evaluation banks' dev splits; the threshold
    # flags at most 1% of each bank's dev real queries, each scored by a model fitted without it (leave-one-out):
    # `python -m bench eval --calibrate`.
    no_match_weights: tuple[float, ...] = (3.1277, 5.0446, 2.2977, 0.0149, -1.3556, 2.6704, -8.8316)
    no_match_bias: float = -2.3775
    no_match_threshold: float = 0.1596
    related_topic_weight: float = 0.05  # added to related scores per shared topic (Jaccard)
    related_mentions: float = 0.05  # added per direction in which one question's text names the other


# The values above are fitted for all-MiniLM-L6-v2 (`--model all-MiniLM-L6-v2`). Another model's scores have other
# spreads (all-mpnet-base-v2's cosines are both higher and wider apart), so the default model's weights and
# no-match model are fitted on its own evaluation runs and chosen by the index's model (`config_for`); a model not
# listed gets the values above.
MODEL_CONFIGS: dict[str, dict] = {
    "all-mpnet-base-v2": {"w_dense": 1.25, "w_sentence": 0.75, "w_coverage": 0.0,
                          "no_match_weights": (6.7154, 12.3683, 3.7516, -0.0106, 0.1118, 4.9048, -17.2937),
                          "no_match_bias": -5.5159, "no_match_threshold": 0.0282},
}


def config_for(model_name: str) -> SearchConfig:
    """The SearchConfig fitted for a model (MODEL_CONFIGS), else the defaults."""
    return SearchConfig(**MODEL_CONFIGS.get(model_name, {}))


@dataclass(frozen=True, eq=False)
class Candidates:
    """What the legs retrieved for one query: the candidate questions and the rows fusion scores."""

    questions: np.ndarray  # candidate question rows, ascending
    rows: np.ndarray  # their allowed chunk rows, question by question in the order of `questions`
    pos: np.ndarray  # each row's position in `questions`
    lex_sections: np.ndarray  # BM25 of every section (0 outside the filter)
    lex_titles: np.ndarray  # BM25 of every question's title + aliases + topics
    dense_rank: dict[int, int]  # {row: rank in the dense leg}, 1-based
    lexical_rank: dict[int, int]  # {row: rank in the lexical leg}
    title_top: np.ndarray  # the title leg's best question rows, best first
    titles: FieldQuery
    sentences: FieldQuery


@dataclass(frozen=True, eq=False)
class Outcome:
    """One search: its result and the features its no_close_match decision read."""

    result: SearchResult
    features: np.ndarray


class Index(LoadedIndex):
    """A loaded, verified index. Thread-safe for concurrent searches."""

    def __init__(self, path: Path, version: Path, manifest: dict, embedder=None,
                 config: SearchConfig | None = None, exact: bool = False):
        super().__init__(path, version, manifest, embedder=embedder, exact=exact)
        self.config = config or config_for(manifest["model"]["name"])
        self._names_in_cache: dict[int, frozenset[int]] = {}  # related: the questions each question's text names

    def search(self, query: str, k: int = 10, sections=None, topics=None, repair: bool = True) -> SearchResult:
        """Ranked section hits for a query.

        Args:
            query: what the user typed.
            k: how many section hits to return (1–MAX_K).
            sections: keep only these section kinds (e.g. ["mistakes"]); None for all.
            topics: keep only questions with one of these topics; None for all.
            repair: repair typos against the bank's vocabulary (False: search the words as typed).
        Returns:
            SearchResult: hits best first (each with both legs' scores), `.groups` by question,
            `no_close_match` when nothing in the bank answers the query, and `corrected_query` when typos
            were repaired.
        Raises:
            QueryError: blank query, k out of range, unknown section or topic.
        """
        return self._run(query, k, sections, topics, repair).result

    def no_match_features(self, query: str) -> np.ndarray:
        """The features the no_close_match model reads for a query (NO_MATCH_FEATURES), for calibration."""
        return self._run(query, 1, None, None).features

    def question_evidence(self, query: str) -> tuple[list[str], dict[str, np.ndarray]]:
        """The candidate questions of a query and, per candidate, the evidence fusion reads and the fused score:
        ({name: array aligned with the ids}). For analysis (bench/ceiling.py); the search itself never calls it."""
        with single_thread():
            cand, ev, fused = self._score(self.plan(normalize_query(query)), 1, None)
        if fused is None:
            return [], {}
        ids = [self.questions[int(i)].id for i in cand.questions]
        title_cos = cand.titles.cosines(cand.questions)
        return ids, {"section cosine": fused.best_cos, "section bm25": fused.best_lex,
                     "sentence cosine": fused.best_sentence, "name cosine": fused.name_cos,
                     "title cosine": np.asarray(title_cos, dtype=np.float64),
                     "title bm25": ev.title_lex.astype(np.float64), "name typed": ev.named.astype(np.float64),
                     "coverage": ev.coverage, "fused": fused.question_score}

    def answer_probability(self, features: np.ndarray) -> float:
        """The no_close_match model: probability that the bank answers a query with these features."""
        return nomatch.probability(self.config.no_match_weights, self.config.no_match_bias, features)

    def plan(self, text: str, repair: bool = True) -> QueryPlan:
        """Step 1: the QueryPlan of a normalized query."""
        return plan_query(text, self.analyzer, self.lex_sections, self.lex_titles, self.acronyms, self.embed_query,
                          self.config.repair_dense, self.name_phrases if self.config.w_named else None, repair)

    def _run(self, query, k, sections, topics, repair: bool = True) -> Outcome:
        text = normalize_query(query)
        check_k(k)
        sections, topics = self.check_filters(sections, topics)
        with single_thread():
            allowed = self.allowed_rows(sections, topics)
            if allowed is not None and len(allowed) == 0:
                return Outcome(SearchResult(text, [], True, detect_intent(text)[0]), nomatch.empty())
            plan = self.plan(text, repair)
            candidates, evidence, fused = self._score(plan, k, allowed)
            if fused is None:
                return Outcome(SearchResult(text, [], True, plan.intent, plan.corrected, self._typed_weights(plan)),
                               nomatch.empty())
            hits = self._hits(plan, candidates, evidence, fused, k)
            background = float((self.background @ plan.vector).max()) if len(self.background) else 0.0
            features = nomatch.features(max(float(fused.best_cos.max()), float(evidence.title_cos.max())),
                                        float(fused.row_sentence.max()), float(fused.name_cos.max()),
                                        fused.question_score, plan.stems, (self.lex_sections, self.lex_titles),
                                        background)
        no_match = bool(self.answer_probability(features) < self.config.no_match_threshold)
        return Outcome(SearchResult(text, hits, no_match, plan.intent, plan.corrected, self._typed_weights(plan)),
                       features)

    def _score(self, plan: QueryPlan, k: int, allowed: np.ndarray | None):
        """Steps 3–5: (candidates, evidence, fused), or (candidates, None, None) when no leg found anything."""
        candidates = self._candidates(plan, k, allowed)
        if len(candidates.rows) == 0:
            return candidates, None, None
        evidence = self._evidence(plan, candidates)
        return candidates, evidence, fuse(self.config, evidence)

    def _candidates(self, plan: QueryPlan, k: int, allowed: np.ndarray | None) -> Candidates:
        """Step 3: every leg's best rows, their questions, and those questions' allowed rows."""
        cfg = self.config
        n_chunks, n_q = len(self.chunk_ids), len(self.questions)
        qv = plan.vector
        lex_sec = self.lex_sections.scores(plan.stems)
        lex_title = self.lex_titles.scores(plan.stems)
        n_cand = min(n_chunks, max(cfg.candidates, k))
        _, d_rows = ann.search(self.section_index, qv, n_cand, allowed)
        # Each dense field is asked for its own candidates (exactly at or below ann.EXACT_MAX rows, by its FAISS
        # index above) and scored only at the candidates' rows: no scan of every sentence, name or title.
        titles_q = self.titles.query(qv)
        sentences_q = self.sentences.query(qv)
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
        lex_order = top_rows(lex_sec, n_cand)
        lex_order = lex_order[lex_sec[lex_order] > 0]
        t_dense_order = titles_q.top(cfg.candidates, None if allowed is None else q_allowed)
        t_dense_order = t_dense_order[q_allowed[t_dense_order]]
        t_lex_order = top_rows(lex_title, cfg.candidates)
        t_lex_order = t_lex_order[(lex_title[t_lex_order] > 0) & q_allowed[t_lex_order]]
        # candidate questions: any that a leg retrieved or the query names; all their (allowed) sections are scored
        s_rows = sentences_q.top(n_cand, None if keep is None else keep[self.sentence_chunk])
        cand_q = np.unique(np.concatenate([self.chunk_question[d_rows], self.chunk_question[lex_order],
                                           self.chunk_question[self.sentence_chunk[s_rows]],
                                           t_dense_order, t_lex_order,
                                           np.fromiter(plan.named, dtype=np.int64, count=len(plan.named))])
                           .astype(np.int64))
        cand_q = cand_q[q_allowed[cand_q]]
        rows = self._chunk_order[ranges(self._chunk_start[cand_q], self._chunk_start[cand_q + 1])]
        if allowed is not None:
            rows = rows[np.isin(rows, allowed)]
        # `rows` runs question by question in cand_q's order: per-question evidence is one reduction per run
        pos = np.searchsorted(cand_q, self.chunk_question[rows])
        return Candidates(cand_q, rows, pos, lex_sec, lex_title, ranks(d_rows), ranks(lex_order), t_dense_order,
                          titles_q, sentences_q)

    def _evidence(self, plan: QueryPlan, cand: Candidates) -> Evidence:
        """Step 4: every leg scored at the candidate rows."""
        rows, cand_q, pos, qv = cand.rows, cand.questions, cand.pos, plan.vector
        # each candidate section's sentences, section by section (so in runs per section and per question),
        # and each candidate question's names (its title and each alias, embedded alone)
        sent_counts = self._sentence_start[rows + 1] - self._sentence_start[rows]
        sent = self._sentence_order[ranges(self._sentence_start[rows], self._sentence_start[rows + 1])]
        name_counts = self._name_start[cand_q + 1] - self._name_start[cand_q]
        names = self._name_order[ranges(self._name_start[cand_q], self._name_start[cand_q + 1])]
        if self.codes is not None:  # a large bank: every candidate question's rows from its block of codes
            cos, base = self.codes.cosines(cand_q, qv)
            at = self.codes.at
            section_cos = cos[base[pos] + at["sections"][rows]].astype(np.float64)
            sentence_cos = cos[np.repeat(base[pos], sent_counts) + at["sentences"][sent]]
            name_cos = cos[np.repeat(base, name_counts) + at["names"][names]]
        else:
            section_cos = np.asarray(read_rows(self.vectors, rows) @ qv, dtype=np.float64)
            sentence_cos = cand.sentences.cosines(sent)
            name_cos = self.names.query(qv).cosines(names)
        # The title field (title + aliases embedded together) is weighted 0 by default and then only gives
        # no_close_match its best cosine: above ann.EXACT_MAX titles that best is taken over the title leg's own
        # top rows, re-scored exactly, instead of reading every candidate's title.
        if self.config.w_title_dense or self.titles.index is None or len(cand.title_top) == 0:
            title_cos = cand.titles.cosines(cand_q)
        else:
            title_cos = cand.titles.cosines(np.sort(cand.title_top[:TITLE_BEST_ROWS]))
        # The section a result opens on: the kind the query asked for, else the short answer.
        first = plan.intent or "short"
        first_rows = np.array([self.chunk_section[r] == first for r in rows], dtype=bool)
        named = np.isin(cand_q, np.fromiter(plan.named, dtype=np.int64, count=len(plan.named)))
        return Evidence(pos, np.bincount(pos, minlength=len(cand_q)), section_cos,
                        cand.lex_sections[rows].astype(np.float64), sentence_cos, sent_counts, name_cos, name_counts,
                        title_cos, cand.lex_titles[cand_q], plan.intent is not None, first_rows, named,
                        self._coverage(plan.stems, cand_q))

    def _coverage(self, stems: list[str], cand_q: np.ndarray) -> np.ndarray:
        """Per candidate question: the idf-weighted share of the query's distinct stems found anywhere in it (any
        section, or its title, aliases and topics). BM25 scores one section at a time, so a question that holds
        every word of the query, spread over its sections, gets credit here that no single section gives it."""
        distinct = list(dict.fromkeys(stems))
        covered = np.zeros(len(cand_q))
        if not distinct or not self.config.w_coverage:
            return covered
        counts = self._chunk_start[cand_q + 1] - self._chunk_start[cand_q]
        chunks = self._chunk_order[ranges(self._chunk_start[cand_q], self._chunk_start[cand_q + 1])]
        starts = np.cumsum(counts) - counts  # each candidate's run of `chunks` (every question has a section)
        weights = self._weights(distinct)
        total = 0.0
        for stem in distinct:
            weight = weights[stem]
            total += weight
            held = np.logical_or.reduceat(self.lex_sections.holds(stem, chunks), starts) \
                | self.lex_titles.holds(stem, cand_q)
            covered += weight * held
        return covered / total

    def _weights(self, stems: list[str]) -> dict[str, float]:
        """{stem: idf over the sections and the title fields} for each distinct stem: how distinctive it is."""
        n_docs = self.lex_sections.num_docs + self.lex_titles.num_docs
        return {stem: lexical.idf(self.lex_sections.document_frequency(stem)
                                  + self.lex_titles.document_frequency(stem), n_docs) for stem in dict.fromkeys(stems)}

    def _typed_weights(self, plan: QueryPlan) -> dict[str, float]:
        """`_weights` of the words the user typed (typos repaired, without the section-intent phrase and without
        the spelled-out acronyms the search added): SearchResult.terms."""
        return self._weights(self.analyzer.tokens(apply_repairs(detect_intent(plan.text)[1], plan.corrected)))

    def _hits(self, plan: QueryPlan, cand: Candidates, evidence: Evidence, fused: Fused, k: int) -> list[Hit]:
        """Step 6: the k best sections, best first (ties: lower row first)."""
        order = np.lexsort((cand.rows, -fused.scores))[:k]
        query_words = sorted(set(self.analyzer.words(plan.text)) | set(plan.words))
        query_stems = set(self.analyzer.stems(query_words))
        hits = []
        for i in order:
            row = int(cand.rows[i])
            q = self.questions[self.chunk_question[row]]
            section = q.section(self.chunk_section[row])
            hits.append(Hit(
                chunk_id=self.chunk_ids[row], question_id=q.id, question=q.title, section=section.key,
                heading=section.heading, text=section.text, score=float(fused.scores[i]),
                dense_score=float(evidence.section_cos[i]), lexical_score=float(cand.lex_sections[row]),
                dense_rank=cand.dense_rank.get(row), lexical_rank=cand.lexical_rank.get(row),
                matched_terms=self._matched(query_stems, section.text), topics=q.topics))
        return hits

    def _matched(self, query_stems: set[str], text: str) -> tuple[str, ...]:
        """The words of `text` (each once, in order) whose stem is one of the query's."""
        if not query_stems:
            return ()
        words = list(dict.fromkeys(self.analyzer.words(text)))
        return tuple(w for w, s in zip(words, self.analyzer.stems(words)) if s in query_stems)

    # ------------------------------------------------------------------ related questions
    def related(self, question_id: str, k: int = 3) -> list[Related]:
        """Other questions nearest to this one (by their mean sentence vector, plus shared topics), never itself."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise QueryError(f"k must be a positive whole number, not {k!r}")
        q = self.question(question_id)
        with single_thread():
            return self._related(q, k)

    def _related(self, q: Question, k: int) -> list[Related]:
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
        if self.config.related_mentions:
            scores = scores + self.config.related_mentions * self._mentions(row, rows)
        scores = np.where(rows == row, -np.inf, scores)
        order = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]
        return [Related(self.questions[rows[i]].id, self.questions[rows[i]].title, float(scores[i]),
                        self.questions[rows[i]].topics) for i in order]


    def _mentions(self, row: int, rows: np.ndarray) -> np.ndarray:
        """Per row of `rows`: how many of the two questions' texts name the other (0, 1 or 2), by their names
        (query.NamePhrases: aliases and id words) found in the other's sections."""
        return np.array([(int(r) in self._names_in(row)) + (row in self._names_in(int(r))) for r in rows], dtype=float)

    def _names_in(self, row: int) -> frozenset[int]:
        """The other questions whose names question `row`'s sections contain (cached: the text never changes)."""
        cache = self._names_in_cache
        if row not in cache:
            text = " ".join(s.text for s in self.questions[row].sections)
            cache[row] = self.name_phrases.named(text) - {row}
        return cache[row]


def open_index(path: Path | str = DEFAULT_INDEX, content_dir: Path | str | None = None, check_stale: bool = True,
               verify: bool = True, embedder=None, config: SearchConfig | None = None, exact: bool = False) -> Index:
    """Load and verify the live version of an index folder.

    Args:
        path: the index folder (default build/index).
        content_dir: the content folder to check freshness against (default: the one recorded at build).
        check_stale: raise IndexStale when the content changed since the build.
        verify: check every file's SHA-256 against the manifest (on by default).
        embedder: an object with `encode(list[str]) -> ndarray` for queries (tests pass a fake).
        config: the search's knobs (default SearchConfig()).
        exact: search every dense field exactly and score every candidate with the float vectors, ignoring the
            FAISS approximations and 8-bit codes of a large bank: the reference a benchmark measures recall against.
    Raises:
        IndexMissing, IndexDamaged, IndexStale.
    """
    path = Path(path)
    version = store.current_version(path)
    manifest = store.read_manifest(version, path)
    if verify:
        store.verify_files(version, manifest, path, last=format.READ_BY_QUERIES)
    if check_stale:
        store.check_fresh(path, manifest, Path(content_dir) if content_dir else None)
    # ingest's per-chunk hashes and embedding keys are not the search's to keep: at a million chunks they are
    # about a gigabyte of Python strings, let go before the index loads
    manifest = {key: value for key, value in manifest.items() if key not in ("chunks", "embedding_keys")}
    return Index(path, version, manifest, embedder=embedder, config=config, exact=exact)
