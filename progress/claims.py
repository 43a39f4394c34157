"""The text side of the answer check (grade.py): an answer cut into sentences, clauses and list items, a model
answer's key claims, and what each of its Common mistakes believes. Plain text rules, no model."""

from __future__ import annotations

import re

SENTENCE = re.compile(r"(?<=[.!?;])\s+")
# spoken run-ons are split into clauses at these joints as well as at sentence ends
CLAUSE = re.compile(r",\s+(?:and|but|so|which|whereas|while|because|since|then|or)\s+|\s+[—–]\s+|;\s+|:\s+"
                    r"|,\s+(?=(?:you|it|that|they|this|there|the|each|every|so)\b)", re.IGNORECASE)
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
NEGATION = frozenset("not no never without nothing none neither nor cannot isn't aren't doesn't don't didn't "
                     "won't wouldn't shouldn't can't avoid skip ignore".split())
# mistakes phrased as an omission: the misconception is the candidate saying the thing is not needed
OMISSION = re.compile(r"^(?:not|ignoring|forgetting|skipping|never|failing to|neglecting|underestimating|overlooking)\b",
                      re.IGNORECASE)
# the belief part of a mistake: what precedes its correction (a dash, "which is why", "instead of"),
# without asides in parentheses and without the verb that names it a belief ("Thinking", "Assuming")
MISTAKE_BELIEF = re.compile(r"\s+[—–]\s+|,\s+which\b|\s+instead of\b|,\s+(?:causing|allowing)\b", re.IGNORECASE)
# "confusing X with Y" is said by equating them; a part that sets them apart says the opposite
CONFUSION = re.compile(r"^(?:confusing|mixing up)\b", re.IGNORECASE)
CONTRAST = frozenset("whereas unlike versus vs different differ differs distinct but while not instead".split())
PARENTHESES = re.compile(r"\s+\([^()]*\)")  # an aside, not the (n) of O(n)
BELIEF_VERB = re.compile(r"^(?:thinking|assuming|believing)\s+(?:that\s+)?", re.IGNORECASE)


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text.replace("\n", " ")) if s.strip()]


def _clause_spans(sentence: str) -> list[tuple[int, int]]:
    """(start, end) of each clause of a sentence, without the joints between them or edge punctuation."""
    spans, start = [], 0
    for joint in list(CLAUSE.finditer(sentence)) + [None]:
        end = joint.start() if joint else len(sentence)
        a, b = start, end
        while a < b and sentence[a] in " ,.":
            a += 1
        while b > a and sentence[b - 1] in " ,.":
            b -= 1
        if b > a:
            spans.append((a, b))
        start = joint.end() if joint else end
    return spans


def answer_parts(answer: str, min_words: int = 3) -> list[tuple[str, str]]:
    """The parts of an answer a point is matched against, each with the sentence it comes from: every sentence,
    every clause, and every two neighbouring clauses (a claim said over a joint), in the answer's own words,
    in order, without repeats."""
    parts: dict[str, str] = {}
    for sentence in split_sentences(answer):
        parts.setdefault(sentence, sentence)
        spans = _clause_spans(sentence)
        if len(spans) > 1:
            for a, b in spans:
                parts.setdefault(sentence[a:b], sentence)
            for (a, _), (_, b) in zip(spans, spans[1:]):
                parts.setdefault(sentence[a:b], sentence)
    return [(p, s) for p, s in parts.items() if len(_words(p)) >= min_words]


def _list_items(sentence: str) -> list[str]:
    """'Types: a (x, y), b and c' → ['a (x, y)', 'b', 'c']: top-level comma items after a colon."""
    head, sep, tail = sentence.partition(": ")
    if not sep or len(_words(head)) > 6:
        return [sentence]
    items, depth, start = [], 0, 0
    for i, ch in enumerate(tail):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and ch == "," and i > start:
            items.append(tail[start:i])
            start = i + 1
    items.append(tail[start:])
    last = re.split(r"\s+and\s+(?![^(]*\))", items[-1].strip(), maxsplit=1)
    items = [re.sub(r"^(?:and|or)\s+", "", i.strip(" .")) for i in items[:-1] + last if i.strip(" .")]
    # a colon before a clause broken by commas ("shifts and, when labels are available, track …") is no list
    if len(items) < 2 or any(re.search(r"\b(?:and|or)$", i) for i in items):
        return [sentence]
    return items


# a short claim with one of these words leans on the claim before it ("Attention solves both.")
BACK_REFERENCE = re.compile(r"\b(?:both|this|these|that|those|it|they|them)\b", re.I)


def claims(text: str) -> list[str]:
    """A section's claims: sentences, split into list items and at semicolons and dashes between clauses. A short
    sentence that refers back to the claim before it ("Attention solves both.") is joined to that claim, as the
    text has them, so every point can be read alone and stays a verbatim part of the model answer."""
    out = []
    for sentence in split_sentences(text):
        whole = sentence.strip(" .")
        if out and len(_words(whole)) < 6 and BACK_REFERENCE.search(whole) and f"{out[-1]}. {whole}" in text:
            out[-1] = f"{out[-1]}. {whole}"
            continue
        for item in _list_items(sentence.rstrip(".")):
            for clause in re.split(r";\s+|\.\s+", item):
                clause = clause.strip(" .")
                if len(_words(clause)) >= 3:
                    out.append(clause)
    return out


def mistake_beliefs(text: str) -> list[tuple[str, str]]:
    """Each Common mistakes sentence's belief (the part before its correction) and how a candidate says it:
    "omission" (by denying the thing: "you don't need to shuffle"), "confusion" (by equating two things) or
    "claim" (by saying it)."""
    out = []
    for sentence in split_sentences(text):
        belief = MISTAKE_BELIEF.split(PARENTHESES.sub("", sentence), maxsplit=1)[0].strip(" .,")
        if len(_words(belief)) >= 3:
            kind = "omission" if OMISSION.match(belief) else "confusion" if CONFUSION.match(belief) else "claim"
            out.append((BELIEF_VERB.sub("", belief), kind))
    return out


def _negated(text: str) -> bool:
    return any(w in NEGATION or w.endswith("n't") for w in _words(text))


def says_mistake(part: str, kind: str) -> bool:
    """Whether an answer part that resembles a mistake of this kind says it, rather than its correction."""
    if kind == "omission":
        return _negated(part)
    if kind == "confusion":
        return not CONTRAST & set(_words(part))
    return not _negated(part)
