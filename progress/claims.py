"""The text side of the answer check (grade.py): an answer cut into sentences, clauses and list items, a model
answer's key claims, and what each of its Common mistakes believes. Plain text rules, no model."""

from __future__ import annotations

import re

# a full stop after one of these (or after a lone capital, an initial) ends no sentence
ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|vs|etc|approx|cf|Dr|Mr|Ms|Fig|No)|\b[A-Z])\.$")
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


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`: cut after . ! ? or ; before a space, outside parentheses and
    brackets, and not after an abbreviation ("e.g.", "vs.")."""
    spans, start, depth = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch in "([") - (ch in ")]")
        if depth <= 0 and ch in ".!?;" and (i + 1 == len(text) or text[i + 1].isspace()) \
                and not (ch == "." and ABBREVIATION.search(text[max(0, i - 7):i + 1])):
            spans.append((start, i + 1))
            start = i + 1
            depth = 0
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        if b > a:
            out.append((a, b))
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences (and semicolon-joined clauses) of a text, never cut inside parentheses or after "e.g."."""
    text = " ".join(text.split())
    return [text[a:b] for a, b in _sentence_spans(text)]


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


def word_windows(text: str, size: int) -> list[str]:
    """Runs of `size` words of `text`, every `size // 2` words, in its own words, whatever its punctuation: a
    transcript's full stops fall where the speech paused, not where its claims end. A text of at most `size`
    words gives []."""
    text = " ".join(text.split())
    words = [m.span() for m in re.finditer(r"\S+", text)]
    if size < 2 or len(words) <= size:
        return []
    firsts = list(range(0, len(words) - size + 1, size // 2))
    if firsts[-1] != len(words) - size:
        firsts.append(len(words) - size)
    return [text[words[i][0]:words[i + size - 1][1]].strip(" ,;:") for i in firsts]


def answer_parts(answer: str, min_words: int = 3, window: int = 0) -> list[tuple[str, str]]:
    """The parts of an answer a point is matched against, each with the sentence it comes from: every sentence,
    every clause and, with `window`, every run of that many words across sentence ends and clause joints
    (word_windows: a claim said over a joint, or over a full stop a transcript put in), in the answer's own
    words, in order, without repeats."""
    parts: dict[str, str] = {}
    for sentence in split_sentences(answer):
        parts.setdefault(sentence, sentence)
        spans = _clause_spans(sentence)
        if len(spans) > 1:
            for a, b in spans:
                parts.setdefault(sentence[a:b], sentence)
    for run in word_windows(answer, window):
        parts.setdefault(run, run)
    return [(p, s) for p, s in parts.items() if len(_words(p)) >= min_words]


# a short claim with one of these words leans on the claim before it ("Attention solves both.")
BACK_REFERENCE = re.compile(r"\b(?:both|this|these|that|those|it|they|them)\b", re.I)
MIN_CLAIM_WORDS = 5  # a shorter sentence or semicolon clause ("multiclass has more") is read with the one before


def claims(text: str) -> list[str]:
    """A section's claims, each a whole statement that can be read alone: its sentences, and the clauses between
    semicolons, never cut inside parentheses or at a list's commas (a list stays one claim with its head:
    "Evaluation metrics differ: accuracy/F1 for classification, RMSE/MAE/R2 for regression"). A clause after a
    semicolon shorter than MIN_CLAIM_WORDS ("…two classes; multiclass has more"), or a short sentence that refers
    back to the one before ("Attention solves both."), stays joined to the claim before it, as the text has them.
    Every claim is a verbatim part of the section, without its final full stop or semicolon."""
    text = " ".join(text.split())
    spans: list[list[int]] = []
    for a, b in _sentence_spans(text):
        whole = text[a:b].rstrip(" .;!?")
        n = len(_words(whole))
        after_semicolon = bool(spans) and text[spans[-1][1] - 1] == ";"
        if spans and n < MIN_CLAIM_WORDS and (after_semicolon or (n < 6 and BACK_REFERENCE.search(whole))):
            spans[-1][1] = b
        else:
            spans.append([a, b])
    out = []
    for a, b in spans:
        claim = text[a:b].rstrip(" .;!?")
        if len(_words(claim)) >= 3:
            out.append(claim)
    return out


def list_items(claim: str) -> list[str]:
    """The items of a claim that lists things, each one a thing a candidate may name alone: "Types: target
    leakage (…), train-test contamination (…) and identifier leakage (…)" → the three, split at top-level commas
    and a final "and"/"or", never inside parentheses. A claim that is no list (a short head before a colon, or a
    sentence naming three or more things) gives []."""
    head, sep, tail = claim.partition(": ")
    if not sep or len(_words(head)) > 6:
        return []
    items, depth, start = [], 0, 0
    for i, ch in enumerate(tail):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and ch in ",;" and i > start:
            items.append(tail[start:i])
            start = i + 1
    items.append(tail[start:])
    last = re.split(r"\s+(?:and|or)\s+(?![^(]*\))", items[-1].strip(), maxsplit=1)
    items = [re.sub(r"^(?:and|or)\s+", "", i.strip(" .")) for i in items[:-1] + last if i.strip(" .")]
    # a colon before a clause broken by commas ("shifts and, when labels are available, track …") is no list
    if len(items) < 2 or any(re.search(r"\b(?:and|or)$", i) for i in items):
        return []
    return [i for i in items if len(_words(i)) >= 2]


def mistake_corrections(text: str) -> list[tuple[str, str]]:
    """Each Common mistakes sentence that says its fix, as (belief, correction): "Fitting preprocessing on the
    entire dataset including test set — must fit on training set only" → ("Fitting preprocessing on the entire
    dataset including test set", "must fit on training set only"). A candidate who says the fix makes the point
    the belief gets wrong."""
    out = []
    for sentence in split_sentences(text):
        parts = MISTAKE_BELIEF.split(PARENTHESES.sub("", sentence), maxsplit=1)
        if len(parts) == 2 and len(_words(parts[0])) >= 3 and len(_words(parts[1])) >= 3:
            out.append((parts[0].strip(" .,"), parts[1].strip(" .,")))
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
