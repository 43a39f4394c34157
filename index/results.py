"""What a results list shows beyond the ranked hits, one rule each, shared by the app and the CLI.

- `split_loose`: questions scored far below the first are set apart as "loosely related", so that a result sharing
  no words with the query at similarity 0.08 does not look as important as a real match.
- `matching_passage`: when the query's distinctive words sit in another section than the one a question's result
  opens on ("precision recall tradeoff for cancer screening" opens on the Short answer; the Explanation discusses
  cancer screening), the sentence that holds them, with its section.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

from .model import QuestionGroup, SearchResult

# A question is loosely related when its fused score is below LOOSE_SHARE of the first question's, or below
# LOOSE_FLOOR. Fused scores are sums of standardised evidence, so a real match scores well above 0. Both values
# sit below every right answer ranked second to fifth on both evaluation banks (their lowest share of the first's
# score and lowest score), with a margin: `python -m bench loose` prints that distribution.
LOOSE_SHARE = 0.25
LOOSE_FLOOR = 2.0

PASSAGE_SHARE = 0.4  # the share of the query's weight a passage must hold that the section shown lacks
PASSAGE_CHARS = 240  # an excerpt longer than this is cut around its first matching word
_ELLIPSIS = "…"
# per loaded index, per question: each section's (key, heading, [(sentence, its stems)]); a loaded index's text
# never changes, and typing asks for the same few questions again and again
_SENTENCES: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def is_loose(score: float, first: float) -> bool:
    """Whether a question scored `score` is only loosely related, when the first question scored `first`."""
    return score < LOOSE_FLOOR or score < LOOSE_SHARE * first


def split_loose(groups: list[QuestionGroup]) -> tuple[list[QuestionGroup], list[QuestionGroup]]:
    """(the real matches, the loosely related) of a result's groups, each best first. The first question is
    always a real match (whether the bank answers the query at all is `no_close_match`'s to say)."""
    if not groups:
        return [], []
    first = groups[0].score
    main = [groups[0]] + [g for g in groups[1:] if not is_loose(g.score, first)]
    loose = [g for g in groups[1:] if is_loose(g.score, first)]
    return main, loose


@dataclass(frozen=True)
class Passage:
    """The part of another section of a question that holds the query's words the section shown lacks."""

    section: str  # section key
    heading: str
    text: str  # an excerpt: one sentence, cut with "…" when long
    terms: tuple[str, ...]  # the words in it to emphasise (the query's, as written in the text)


def matching_passage(index, result: SearchResult, group: QuestionGroup) -> Passage | None:
    """The passage of `group`'s question that holds the query's distinctive words which the section its result
    opens on (`group.hits[0]`) lacks, or None when that section holds them (or they are too common to count).

    A sentence qualifies when the idf weight of the query's stems it holds, and the shown section does not, is at
    least PASSAGE_SHARE of the whole query's weight; the one holding the most such weight wins (then the most
    query weight overall, then the earlier one).
    """
    weights = result.terms
    total = sum(weights.values())
    if not group.hits or total <= 0:
        return None
    sections = _sentences(index, group.question_id)
    shown = group.hits[0].section
    have = set().union(*(stems for key, _, sentences in sections if key == shown for _, stems in sentences))
    have &= weights.keys()
    best, best_key = None, None
    for key, heading, sentences in sections:
        if key == shown:
            continue
        for n, (sentence, stems) in enumerate(sentences):
            held = stems & weights.keys()
            gain = sum(weights[s] for s in held - have)
            rank = (gain, sum(weights[s] for s in held), -n)
            if gain >= PASSAGE_SHARE * total and (best_key is None or rank > best_key):
                best, best_key = (key, heading, sentence, held), rank
    if best is None:
        return None
    key, heading, sentence, held = best
    words = list(dict.fromkeys(index.analyzer.words(sentence)))
    stems = index.analyzer.stems(words)
    return Passage(key, heading, excerpt(sentence, [w for w, s in zip(words, stems) if s in held - have]),
                   tuple(w for w, s in zip(words, stems) if s in held))


def _sentences(index, question_id: str) -> list[tuple[str, str, list[tuple[str, frozenset[str]]]]]:
    """A question's sections as (key, heading, [(sentence, its stems)]), the sentences split as ingest splits them
    (the manifest's rule); cached per loaded index."""
    cache = _SENTENCES.setdefault(index, {})
    if question_id not in cache:
        split = re.compile(index.manifest["chunking"]["sentence_split"])
        analyzer = index.analyzer
        cache[question_id] = [
            (section.key, section.heading,
             [(sentence, frozenset(analyzer.stems(analyzer.words(sentence))))
              for sentence in (part.strip() for part in split.split(section.text)) if sentence])
            for section in index.question(question_id).sections]
    return cache[question_id]


def excerpt(sentence: str, around: list[str], limit: int = PASSAGE_CHARS) -> str:
    """`sentence` itself when it is at most `limit` characters, else a cut of about `limit` characters that starts
    a little before the first of the words `around` (whole words, "…" where it was cut)."""
    sentence = " ".join(sentence.split())
    if len(sentence) <= limit:
        return sentence
    lowered = sentence.lower()
    hits = [m.start() for w in around for m in [re.search(rf"(?<!\w){re.escape(w)}(?!\w)", lowered)] if m]
    start = max(0, min(hits, default=0) - limit // 4)
    if start:
        space = sentence.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(sentence), start + limit)
    if end < len(sentence):
        space = sentence.rfind(" ", start, end)
        end = space if space > start else end
    return (_ELLIPSIS if start else "") + sentence[start:end].strip() + (_ELLIPSIS if end < len(sentence) else "")
