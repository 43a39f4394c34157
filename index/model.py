"""Typed objects that the search returns (callers never see FAISS rows or numpy arrays)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .query import apply_repairs


@dataclass(frozen=True)
class Section:
    key: str  # "short", "explanation", "example", "mistakes", "story"
    heading: str  # "Short answer", …
    text: str


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    topics: tuple[str, ...]
    aliases: tuple[str, ...]
    path: str  # relative to the content folder
    sections: tuple[Section, ...]

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)


@dataclass(frozen=True)
class Hit:
    """One section that matched, with both legs' evidence so a front end can say why."""

    chunk_id: str  # "feature-leakage#mistakes"
    question_id: str
    question: str  # the question's title
    section: str  # section key
    heading: str
    text: str  # the section's full text
    score: float  # fused score: higher is better; comparable within one search only
    dense_score: float  # cosine similarity of query and section (meaning)
    lexical_score: float  # BM25 of the query's words in the section
    dense_rank: int | None  # rank of the section in the dense leg (1-based), None if not retrieved
    lexical_rank: int | None
    matched_terms: tuple[str, ...] = ()  # the query's words found in the section (surface forms)
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuestionGroup:
    question_id: str
    question: str
    topics: tuple[str, ...]
    score: float
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]
    no_close_match: bool  # True when nothing in the bank answers the query
    section_intent: str | None = None  # the section the query asked for ("example of …"), if any
    corrected: dict[str, str] = field(default_factory=dict)  # typo repairs applied to the lexical leg
    # the distinct stems of the words typed (typos repaired; no section-intent phrase, no spelled-out acronyms) →
    # their idf in the bank: how distinctive each is (a front end shows where the distinctive ones are)
    terms: dict[str, float] = field(default_factory=dict)

    @property
    def corrected_query(self) -> str | None:
        """The query as searched when typos were repaired ("overfitnig" → "overfitting"), else None."""
        return apply_repairs(self.query, self.corrected) if self.corrected else None

    def __iter__(self):
        return iter(self.hits)

    def __len__(self):
        return len(self.hits)

    def __getitem__(self, i):
        return self.hits[i]

    @property
    def groups(self) -> list[QuestionGroup]:
        """Hits grouped by question, in the order of each question's best hit."""
        order: dict[str, list[Hit]] = {}
        for hit in self.hits:
            order.setdefault(hit.question_id, []).append(hit)
        return [QuestionGroup(qid, hs[0].question, hs[0].topics, hs[0].score, tuple(hs)) for qid, hs in order.items()]


@dataclass(frozen=True)
class Related:
    question_id: str
    question: str
    score: float
    topics: tuple[str, ...] = ()
