"""Query understanding: from what the user typed to a QueryPlan the search runs.

    text  →  normalize_query (NFKC, control characters, length)  →  detect_intent ("example of …" asks for a
    kind of section; the phrase is removed)  →  expand_acronyms ("PSI" → "PSI (population stability index)")
    →  typo repairs against the bank's vocabulary  →  the words and stems of the lexical leg and the query
    vector of the dense leg.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import QueryError

MAX_QUERY_CHARS = 1000  # longer input is cut here: a question, not a document
MAX_K = 1000  # the most hits one search returns (the CLI's --k too)


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


@dataclass(frozen=True, eq=False)
class NamePhrases:
    """Every name a question goes by, as lowercase words joined by single spaces → the question rows it names.

    The names are a question's aliases and the words of its id ("model-drift" → "model drift"), the bank's own
    words for its questions. A name of one word counts only when it is an acronym naming at most two questions
    ("PSI", "RF") or a word of at least four letters naming one question: a common word is no name.
    """

    rows: dict[str, tuple[int, ...]]
    longest: int  # words in the longest name

    @classmethod
    def of(cls, questions) -> "NamePhrases":
        found: dict[str, list[int]] = {}
        acronyms: set[str] = set()
        for row, q in enumerate(questions):
            for name in (*q.aliases, q.id.replace("-", " ")):
                words = _TOKEN.findall(name)
                if not words:
                    continue
                key = " ".join(words).lower()
                if len(words) == 1 and _ACRONYM.match(words[0]):
                    acronyms.add(key)
                if row not in found.setdefault(key, []):
                    found[key].append(row)
        rows = {}
        for key, owners in found.items():
            single = " " not in key
            if single and (len(owners) > 2 if key in acronyms else (len(owners) > 1 or len(key) < 4)):
                continue
            rows[key] = tuple(owners)
        return cls(rows, max((k.count(" ") + 1 for k in rows), default=0))

    def named(self, text: str) -> frozenset[int]:
        """The question rows whose name the text contains as whole words; a name inside a longer matched name
        ("drift" in "model drift") does not count on its own."""
        words = [w.lower() for w in _TOKEN.findall(text)]
        spans = []
        for i in range(len(words)):
            for j in range(min(len(words), i + self.longest), i, -1):
                if " ".join(words[i:j]) in self.rows:
                    spans.append((i, j))
                    break  # the longest name starting at i
        out: set[int] = set()
        for i, j in spans:
            if not any(a <= i and j <= b and (a, b) != (i, j) for a, b in spans):
                out.update(self.rows[" ".join(words[i:j])])
        return frozenset(out)


def apply_repairs(text: str, corrected: dict[str, str]) -> str:
    """The text with each repaired word replaced (case-insensitive, whole words)."""
    for wrong, right in corrected.items():
        text = re.sub(rf"\b{re.escape(wrong)}\b", right, text, flags=re.I)
    return text


@dataclass(frozen=True, eq=False)
class QueryPlan:
    """What the search runs for one query: the query as normalized, the section it asks for, and its topic part
    as each leg reads it."""

    text: str  # the normalized query, as the result reports it
    intent: str | None  # the section kind the query asks for ("example of …"), or None
    topic_text: str  # the query without the intent phrase, its acronyms spelled out
    words: list[str]  # the lexical leg's words, typos repaired
    stems: list[str]  # their stems
    corrected: dict[str, str] = field(default_factory=dict)  # typo repairs: {as typed: repaired}
    vector: np.ndarray | None = None  # the dense leg's query vector (of the repaired text, see repair_dense)
    named: frozenset[int] = frozenset()  # question rows whose alias or id words the query contains


def check_k(k) -> None:
    """Raise QueryError unless k is a whole number from 1 to MAX_K."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")


def plan_query(text: str, analyzer, lex_sections, lex_titles, acronyms: dict[str, str],
               embed: Callable[[str], np.ndarray], repair_dense: bool = True,
               names: NamePhrases | None = None, repair: bool = True) -> QueryPlan:
    """The QueryPlan of a normalized query.

    A word is repaired when the sections' vocabulary proposes a fix and the titles' vocabulary neither knows
    the word nor proposes another fix. With `repair_dense` the dense leg embeds the repaired text too: the
    model reads "atention" as a different token from "attention". `repair=False` searches the words as typed
    (a user who meant what they typed: "search instead for …").
    """
    intent, topic_text = detect_intent(text)
    topic_text = expand_acronyms(topic_text, acronyms)
    words = analyzer.words(topic_text)
    corrected = {}
    for w, stem in zip(words, analyzer.stems(words)) if repair else ():
        fix = lex_sections.repair(w, stem)
        if fix and not lex_titles.knows(w, stem) and lex_titles.repair(w, stem) in (fix, None):
            corrected[w] = fix
    lex_words = [corrected.get(w, w) for w in words]
    repaired = apply_repairs(topic_text, corrected)
    dense_text = repaired if repair_dense else topic_text
    named = names.named(repaired) if names is not None else frozenset()
    return QueryPlan(text, intent, topic_text, lex_words, analyzer.stems(lex_words), corrected, embed(dense_text),
                     named)
