"""Check my answer: compare a candidate's own answer with a question's model answer, point by point.

    from index import open_index
    from index.grade import Grader
    grader = Grader(open_index())
    result = grader.grade("overfitting", "It memorizes the training data, noise included, ...")
    result.score                 # covered share of the key points, in [0, 1], less any detected misconception
    [p.text for p in result.missed]   # what to read next
    result.verdict               # "Partial: covers 3 of 7 key points"

Key points are claims taken from the Short answer and the Explanation (sentences split into clauses and list
items). Each point is matched against every sentence and clause of the answer with the index's own query model;
a point is covered when its best match passes a threshold calibrated on the labelled dev answers
(bench/grading/, docs/grading.md). The Common mistakes section supplies known misconceptions: an answer part
that says what a listed mistake says (with the mistake's polarity: "not using stratified folds" is matched by
"you don't need stratified folds") costs the answer and covers no point. What it cannot judge is in
docs/grading.md.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import numpy as np

from .errors import QueryError

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
MAX_ANSWER_CHARS = 8000  # about ten minutes of speech; a longer paste is more than one answer
BELIEF_VERB = re.compile(r"^(?:thinking|assuming|believing)\s+(?:that\s+)?", re.IGNORECASE)


# what a front end shows beside the result (docs/grading.md has the measured figures behind it)
LIMITS = ("The check compares your answer with the model answer's key points: it sees whether you make each point, "
          "in your own words, and whether you repeat a mistake listed under Common mistakes. It cannot judge a "
          "claim it has not seen (a wrong statement not in the bank is ignored, a right one beyond the model answer "
          "earns nothing), how deep your reasoning goes, or your delivery. Use it as a checklist, not a mark.")


@dataclass(frozen=True)
class GradeConfig:
    """Thresholds of the answer check, calibrated on the dev half of bench/grading/answers.yaml."""

    covered: float = 0.556  # a point is covered when its best match in the answer reaches this
    floor: float = 0.39  # below this a match counts for nothing in the score
    words: float = 0.6  # weight of the point's words found in the answer part, beside the cosine
    max_points: int = 8  # key points taken from a question's short answer and explanation
    redundant: float = 0.80  # an explanation claim this close to a point already taken adds nothing
    mistake: float = 0.62  # an answer part this close to a listed mistake (and closer than to any point) says it
    mistake_penalty: float = 0.25  # taken off the score for each misconception found (at most two count)
    min_words: int = 3  # shorter answer parts ("yes", "so basically") are not matched


@dataclass(frozen=True)
class PointResult:
    """One key point: covered or missed, how close the answer came, and the part of the answer that covers it."""

    text: str
    covered: bool
    score: float  # the point's best match with a part of the answer (cosine and shared words), in [0, 1]
    evidence: str  # the part of the answer that covers it ("" when the point is missed)


@dataclass(frozen=True)
class Misconception:
    mistake: str  # the listed mistake (Common mistakes) the answer repeats
    evidence: str  # the part of the answer that says it
    score: float


@dataclass(frozen=True)
class Grade:
    question_id: str
    question: str
    score: float  # in [0, 1]
    points: tuple[PointResult, ...]
    misconceptions: tuple[Misconception, ...] = field(default=())

    @property
    def covered(self) -> list[PointResult]:
        return [p for p in self.points if p.covered]

    @property
    def missed(self) -> list[PointResult]:
        return [p for p in self.points if not p.covered]

    @property
    def verdict(self) -> str:
        """A plain-language verdict: "Strong: covers 5 of 6 key points", then what to read next."""
        n, k = len(self.points), len(self.covered)
        label = ("Strong" if self.score >= 0.75 else "Good" if self.score >= 0.5 else "Partial" if self.score >= 0.2
                 else "Not yet")
        parts = [f"{label}: covers {k} of {n} key point{'s' if n != 1 else ''}"]
        if self.misconceptions:
            parts.append(f"but repeats {len(self.misconceptions)} known mistake"
                         f"{'s' if len(self.misconceptions) != 1 else ''}")
        text = ", ".join(parts) + "."
        if self.missed:
            text += " Missed: " + "; ".join(_short(p.text) for p in self.missed[:3])
            text += (" and more" if len(self.missed) > 3 else "") + ". Read the explanation."
        return text

    @property
    def rating(self) -> str:
        """The review rating this answer suggests (the learner confirms): again, hard, good or easy."""
        if self.misconceptions or self.score < 0.3:
            return "again"
        return "hard" if self.score < 0.6 else "good" if self.score < 0.85 else "easy"

    def to_json(self) -> dict:
        return {"question_id": self.question_id, "score": round(self.score, 4),
                "points": [{"text": p.text, "covered": p.covered, "score": round(p.score, 4),
                            "evidence": p.evidence} for p in self.points],
                "misconceptions": [{"mistake": m.mistake, "evidence": m.evidence, "score": round(m.score, 4)}
                                   for m in self.misconceptions],
                "verdict": self.verdict, "rating": self.rating}


def report(grade: Grade, width: int = 96) -> str:
    """The readable report: the question, each point covered or missed with the answer's words for it, any
    known mistake repeated, the overall coverage and the verdict."""
    import textwrap

    lines = [f"{grade.question}  [{grade.question_id}]", ""]
    for p in grade.points:
        lines.append(textwrap.fill(p.text, width, initial_indent=f"  {'covered' if p.covered else 'missed ':8}",
                                   subsequent_indent=" " * 10))
        if p.covered:
            lines.append(textwrap.fill(f"“{p.evidence}”  (match {p.score:.2f})", width,
                                       initial_indent=" " * 10, subsequent_indent=" " * 11))
    for m in grade.misconceptions:
        lines.append(textwrap.fill(f"“{m.evidence}” sounds like a known mistake: {m.mistake}", width,
                                   initial_indent="  mistake ", subsequent_indent=" " * 10))
    lines += ["", f"Coverage {grade.score:.0%} ({len(grade.covered)} of {len(grade.points)} key points). "
                  f"Suggested rating: {grade.rating}.", textwrap.fill(grade.verdict, width), "",
              textwrap.fill(LIMITS, width)]
    return "\n".join(lines)


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


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


class Grader:
    """Grades answers against one index's questions. Thread-safe; point and mistake vectors are cached."""

    def __init__(self, index, config: GradeConfig | None = None):
        self.index = index
        self.config = config or GradeConfig()
        self._points: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.vstack([self.index.embed_query(t) for t in texts]).astype(np.float32)

    def _match(self, texts: list[str], cv: np.ndarray, parts: list[str], av: np.ndarray) -> np.ndarray:
        """How well each part says each claim, in [0, 1]: the cosine of their vectors, plus the share of the
        claim's words (stemmed, no stopwords) that the part uses. Either alone misses what the other sees:
        the cosine paraphrases, the words the terms a paraphrase of the wrong thing lacks."""
        cos = np.clip(cv @ av.T, 0.0, 1.0)
        tokens = self.index.analyzer.tokens
        part_words = [set(tokens(p)) for p in parts]
        share = np.zeros_like(cos)
        for i, text in enumerate(texts):
            words = set(tokens(text))
            if words:
                share[i] = [len(words & pw) / len(words) for pw in part_words]
        return (cos + self.config.words * share) / (1.0 + self.config.words)

    def key_points(self, question_id: str) -> list[str]:
        """The claims a candidate should make: every Short answer sentence, then Explanation claims that add
        something the points taken so far do not say, up to `max_points`. Raises UnknownQuestion."""
        with self._lock:
            if question_id in self._points:
                return self._points[question_id]
        q = self.index.question(question_id)
        short = q.section("short").text if q.section("short") else ""
        explanation = q.section("explanation").text if q.section("explanation") else ""
        points = claims(short)[: self.config.max_points]
        candidates = [c for c in claims(explanation) if c not in points]
        if candidates and len(points) < self.config.max_points:
            taken = self._embed(points) if points else None
            cand = self._embed(candidates)
            # claims most like the question as a whole first: the ones an examiner would listen for
            centre = self._embed([q.title + " " + short])[0]
            for i in np.argsort(-(cand @ centre), kind="stable"):
                if len(points) >= self.config.max_points:
                    break
                if taken is not None and float((taken @ cand[i]).max()) >= self.config.redundant:
                    continue
                points.append(candidates[i])
                taken = cand[i][None] if taken is None else np.vstack([taken, cand[i]])
            order = {c: n for n, c in enumerate(claims(short) + candidates)}
            points.sort(key=lambda c: order[c])  # read in the order the model answer says them
        with self._lock:
            self._points[question_id] = points
        return points

    def grade(self, question_id: str, answer: str, points: list[str] | None = None) -> Grade:
        """Grade `answer` against the question's key points (or the given `points`).

        Raises UnknownQuestion for an unknown id and QueryError for a blank or overlong answer.
        """
        q = self.index.question(question_id)
        if not isinstance(answer, str) or not answer.strip():
            raise QueryError("the answer is blank: type or paste what you would say, then check it")
        if len(answer) > MAX_ANSWER_CHARS:
            raise QueryError(f"the answer is {len(answer):,} characters long, more than the {MAX_ANSWER_CHARS:,} "
                             "one spoken answer takes: check one answer at a time")
        cfg = self.config
        points = list(points) if points is not None else self.key_points(question_id)
        pairs = answer_parts(answer, cfg.min_words) or [(answer.strip(), answer.strip())]
        parts = [p for p, _ in pairs]
        mistakes = mistake_beliefs(q.section("mistakes").text) if q.section("mistakes") else []
        vectors = self._embed(points + [m for m, _ in mistakes] + parts)
        pv, mv, av = np.split(vectors, [len(points), len(points) + len(mistakes)])
        sim = self._match(points, pv, parts, av)  # points × parts, in [0, 1]
        best_point_per_part = sim.max(axis=0) if len(points) else np.zeros(len(parts))

        found: list[Misconception] = []
        wrong_parts: set[int] = set()
        if len(mistakes):
            msim = self._match([m for m, _ in mistakes], mv, parts, av)
            for j in range(len(parts)):
                m = int(np.argmax(msim[:, j]))
                s = float(msim[m, j])
                # a clause's contrast ("whereas", "unlike") may sit elsewhere in its sentence
                said = says_mistake(pairs[j][1] if mistakes[m][1] == "confusion" else parts[j], mistakes[m][1])
                if s >= cfg.mistake and s > best_point_per_part[j] and said:
                    wrong_parts.add(j)
                    if all(f.mistake != mistakes[m][0] for f in found):
                        found.append(Misconception(mistakes[m][0], parts[j], s))

        results = []
        for i, point in enumerate(points):
            row = sim[i].copy()
            for j in wrong_parts:
                row[j] = min(row[j], cfg.floor)
            j = int(np.argmax(row))
            s = float(row[j])
            results.append(PointResult(point, s >= cfg.covered, s, parts[j] if s >= cfg.covered else ""))
        soft = [min(1.0, max(0.0, (p.score - cfg.floor) / (cfg.covered - cfg.floor))) for p in results]
        score = (float(np.mean(soft)) if soft else 0.0) - cfg.mistake_penalty * min(2, len(found))
        return Grade(q.id, q.title, float(min(1.0, max(0.0, score))), tuple(results), tuple(found))
