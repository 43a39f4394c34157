"""Check my answer: compare a candidate's own answer with a question's model answer, point by point.

    from index import open_index
    from progress.grade import Grader
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

import threading
from dataclasses import dataclass, field

import numpy as np

from index.errors import QueryError

from .claims import answer_parts, claims, mistake_beliefs, says_mistake

MAX_ANSWER_CHARS = 8000  # about ten minutes of speech; a longer paste is more than one answer


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
