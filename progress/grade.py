"""Check my answer: compare a candidate's own answer with a question's model answer, point by point.

    from index import open_index
    from progress.grade import Grader
    grader = Grader(open_index())
    result = grader.grade("overfitting", "It memorizes the training data, noise included, ...")
    result.coverage              # the share of key points covered: 3 of 8 is 0.375
    [p.text for p in result.missed]   # what to read next
    result.verdict               # "Partial: covers 3 of 8 key points (38%). ..."

Key points are whole claims of the Short answer and the Explanation (progress/claims.py). Each point is matched
against every sentence, clause and run of words of the answer (the runs do not depend on punctuation, which a
transcript puts where the speaker paused) with the index's own query model, and the point is covered when a
small logistic model, fitted on the dev halves of both labelled sets (bench/grading.py --fit), gives it a chance
of at least `covered`. It reads how well the best part of the answer says the point (cosine and shared words),
how much more the answer says this point than the bank's other sentences (a paraphrase in other words still
stands out from the rest of the bank) and than the question's other points, these averaged over the question's
points, and how many of the points some part of the answer is about (an answer that is about this question gets
the benefit of the doubt an examiner would give it). The Common mistakes section supplies known misconceptions:
an answer part that says what a listed mistake says (with the mistake's polarity: "not using stratified folds" is
matched by "you don't need stratified folds") costs the answer and covers no point. What it cannot judge is in
docs/grading.md.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np

from index.errors import QueryError

from .claims import (answer_parts, claims, list_items, mistake_beliefs, mistake_corrections, says_mistake,
                     word_windows)

MAX_ANSWER_CHARS = 8000  # about ten minutes of speech; a longer paste is more than one answer

# The verdict follows the coverage (the share of key points covered), on these thresholds, highest first; an
# answer that repeats a known mistake gets no better than "Partial".
VERDICTS = ((0.75, "Strong"), (0.5, "Good"), (0.25, "Partial"), (0.0, "Not yet"))
VERDICT_RULE = ("Strong: at least 75% of the key points covered; Good: at least 50%; Partial: at least 25%; "
                "Not yet: fewer. An answer that repeats a known mistake is at most Partial.")
# the review rating each verdict suggests (the learner confirms it)
RATING = {"Strong": "easy", "Good": "good", "Partial": "hard", "Not yet": "again"}

# what a front end shows beside the result (docs/grading.md has the measured figures behind it)
LIMITS = ("The check compares your answer with the model answer's key points: it sees whether you make each point, "
          "in your own words, and whether you repeat a mistake listed under Common mistakes. It cannot judge a "
          "claim it has not seen (a wrong statement not in the bank is ignored, a right one beyond the model answer "
          "earns nothing), a point turned the wrong way round in the model answer's own words, how deep your "
          "reasoning goes, or your delivery. Use it as a checklist, not a mark.")

# What the per-point model reads, in the order of GradeConfig.weights.
FEATURES = ("match", "distinct", "margin", "match_margin", "answer_match", "answer_distinct", "answer_margin",
            "answer_breadth", "distinct_x_answer_margin")


@dataclass(frozen=True)
class GradeConfig:
    """The answer check's settings. `weights` and `bias` are the per-point logistic model over FEATURES, fitted on
    the dev halves of both labelled sets for each model (MODEL_CONFIGS, `python -m bench.grading --fit`)."""

    # the fit for the bundled all-MiniLM-L6-v2: also what a model without a fit of its own gets
    weights: tuple[float, ...] = (1.0433, 0.6088, 0.6744, 1.9642, -1.4865, 0.7963, 1.0937, 3.7586, -0.3658)
    bias: float = -7.8275
    covered: float = 0.4  # a point is covered when the model's chance is at least this (chosen on dev, both sets)
    words: float = 0.6  # weight of the point's words found in the answer part, beside the cosine
    floor: float = 0.39  # an answer part that says a known mistake matches no point better than this
    max_points: int = 8  # key points taken from a question's short answer and explanation
    redundant: float = 0.80  # an explanation claim this close to a point already taken adds nothing
    mistake: float = 0.62  # an answer part this close to a listed mistake (and closer than to any point) says it
    mistake_penalty: float = 0.25  # taken off the score for each misconception found (at most two count)
    min_words: int = 3  # shorter answer parts ("yes", "so basically") are not matched
    window: int = 16  # runs of this many words, across sentence ends, are answer parts too (0: none)
    background: int = 2000  # at most this many of the bank's sentences stand for "the rest of the bank"
    twins: float = 0.6  # two points this close say much the same: neither sets the other's margin
    attach: float = 0.45  # a Common mistake's fix speaks for the point its belief is this close to (and closest)


# Fitted per query model on the dev halves of both labelled sets; a model not listed gets the defaults.
MODEL_CONFIGS: dict[str, dict] = {
    "all-MiniLM-L6-v2": {},  # the defaults
    "all-mpnet-base-v2": {"weights": (2.7158, 0.2772, 0.5959, 2.6669, -0.269, 0.7172, 0.27, 4.2311, -0.2004),
                          "bias": -7.8104, "covered": 0.45, "twins": 0.55},
}


def config_for(model_name: str) -> GradeConfig:
    """The GradeConfig fitted for a model (MODEL_CONFIGS), else the defaults."""
    return GradeConfig(**MODEL_CONFIGS.get(model_name, {}))


def verdict_label(coverage: float, misconceptions: int = 0) -> str:
    """The verdict for a coverage (share of key points covered), on VERDICTS; a repeated mistake caps it."""
    label = next(name for at, name in VERDICTS if coverage >= at)
    if misconceptions and label in ("Strong", "Good"):
        return "Partial"
    return label


@dataclass(frozen=True)
class PointResult:
    """One key point: covered or missed, how likely the answer makes it, and the part of the answer that does."""

    text: str
    covered: bool
    score: float  # the chance, by the fitted model, that the answer makes this point, in [0, 1]
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
    score: float  # ranks answers: the mean chance per point, less any misconception, in [0, 1]
    points: tuple[PointResult, ...]
    misconceptions: tuple[Misconception, ...] = field(default=())

    @property
    def covered(self) -> list[PointResult]:
        return [p for p in self.points if p.covered]

    @property
    def missed(self) -> list[PointResult]:
        return [p for p in self.points if not p.covered]

    @property
    def coverage(self) -> float:
        """The share of key points covered: the figure shown, and what the verdict follows."""
        return len(self.covered) / len(self.points) if self.points else 0.0

    @property
    def label(self) -> str:
        return verdict_label(self.coverage, len(self.misconceptions))

    @property
    def verdict(self) -> str:
        """A plain-language verdict: "Good: covers 5 of 8 key points (62%).", then what to read next."""
        n, k = len(self.points), len(self.covered)
        text = f"{self.label}: covers {k} of {n} key point{'s' if n != 1 else ''} ({self.coverage:.0%})"
        if self.misconceptions:
            text += (f", but repeats {len(self.misconceptions)} known mistake"
                     f"{'s' if len(self.misconceptions) != 1 else ''}")
        text += "."
        if self.missed:
            text += " Missed: " + "; ".join(_short(p.text) for p in self.missed[:3])
            text += (" and more" if len(self.missed) > 3 else "") + ". Read the explanation."
        return text

    @property
    def rating(self) -> str:
        """The review rating the verdict suggests (the learner confirms): again, hard, good or easy; "again" when
        the answer repeats a known mistake."""
        return "again" if self.misconceptions else RATING[self.label]

    def to_json(self) -> dict:
        return {"question_id": self.question_id, "coverage": round(self.coverage, 4), "score": round(self.score, 4),
                "points": [{"text": p.text, "covered": p.covered, "score": round(p.score, 4),
                            "evidence": p.evidence} for p in self.points],
                "misconceptions": [{"mistake": m.mistake, "evidence": m.evidence, "score": round(m.score, 4)}
                                   for m in self.misconceptions],
                "verdict": self.verdict, "label": self.label, "rating": self.rating}


def report(grade: Grade, width: int = 96) -> str:
    """The readable report: the question, each point covered or missed with the answer's words for it, any
    known mistake repeated, the coverage and the verdict with the rule it follows."""
    import textwrap

    lines = [f"{grade.question}  [{grade.question_id}]", ""]
    for p in grade.points:
        lines.append(textwrap.fill(p.text, width, initial_indent=f"  {'covered' if p.covered else 'missed ':8}",
                                   subsequent_indent=" " * 10))
        if p.covered:
            lines.append(textwrap.fill(f"“{p.evidence}”", width, initial_indent=" " * 10, subsequent_indent=" " * 11))
    for m in grade.misconceptions:
        lines.append(textwrap.fill(f"“{m.evidence}” sounds like a known mistake: {m.mistake}", width,
                                   initial_indent="  mistake ", subsequent_indent=" " * 10))
    lines += ["", f"Coverage {grade.coverage:.0%}: {len(grade.covered)} of {len(grade.points)} key points covered. "
                  f"Suggested rating: {grade.rating}.", textwrap.fill(grade.verdict, width),
              textwrap.fill(f"({VERDICT_RULE})", width), "", textwrap.fill(LIMITS, width)]
    return "\n".join(lines)


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))


def _by_owner(m: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Rows of `m` (variants) folded into `n` rows (points) by the best variant of each point."""
    out = np.full((n, m.shape[1]), -np.inf, dtype=np.float32)
    for i in range(n):
        out[i] = m[owner == i].max(axis=0)
    return out


def _margin(m: np.ndarray, twins: np.ndarray) -> np.ndarray:
    """Per row (point): the best, over columns (answer parts), of how far the row's value in that column is above
    every other row's but its twins' (`twins[i, j]`: points i and j say much the same, so a part about one is
    about the other). A part about one point is close to its neighbours too, but closest to its own."""
    out = np.empty(len(m), dtype=np.float32)
    for i in range(len(m)):
        rivals = m[~twins[i]]
        out[i] = m[i].max() if not len(rivals) else (m[i] - rivals.max(axis=0)).max()
    return out


@dataclass(frozen=True)
class _QuestionVectors:
    variants: list[str]  # the ways to make each point (Grader.variants)
    owner: np.ndarray  # the point each variant stands for
    vectors: np.ndarray  # one row per variant
    mistakes: list[tuple[str, str]]  # (belief, polarity) of each Common mistake (claims.mistake_beliefs)
    mistake_vectors: np.ndarray


class Grader:
    """Grades answers against one index's questions, with the index's own query model. Thread-safe; a question's
    points and mistakes are embedded once, and so is the sample of the bank's sentences the points stand out from.

    `embed` (texts -> unit vectors, one row each) replaces the index's query embedder, for benchmarks that cache
    vectors across runs; `config` defaults to the one fitted for the index's model (config_for)."""

    def __init__(self, index, config: GradeConfig | None = None, embed=None):
        self.index = index
        self.config = config or config_for(index.model_name)
        self._embed_texts = embed
        self._points: dict[str, list[str]] = {}
        self._background: np.ndarray | None = None
        self._variants: dict[tuple, _QuestionVectors] = {}
        self._lock = threading.Lock()

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        if self._embed_texts is not None:
            return np.asarray(self._embed_texts(texts), dtype=np.float32)
        return np.asarray(self.index.embed_queries(texts), dtype=np.float32)

    def _bank_sentences(self) -> np.ndarray:
        """Up to `background` of the index's sentence vectors, evenly spread: what the rest of the bank says."""
        with self._lock:
            if self._background is None:
                vectors = self.index.sentence_vectors
                step = max(1, math.ceil(len(vectors) / self.config.background))
                self._background = np.asarray(vectors[::step], dtype=np.float32)
            return self._background

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
        """The claims a candidate should make: every Short answer claim, then Explanation claims that add
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

    def variants(self, question_id: str, points: list[str]) -> tuple[list[str], np.ndarray]:
        """The ways an answer may make each point, and the point each stands for: the point itself, each item of
        a point that lists things (naming one is making the point), and the fix of a Common mistake whose belief
        is closest to this point ("fit scalers on the training set only" makes "train-test contamination")."""
        known = self._question(question_id, points)
        return known.variants, known.owner

    def _question(self, question_id: str, points: list[str]) -> _QuestionVectors:
        """A question's variants, mistakes and their vectors: embedded once per grader (one grader per index
        version), so a grade embeds only the answer's parts."""
        key = (question_id, tuple(points))
        with self._lock:
            if key in self._variants:
                return self._variants[key]
        q = self.index.question(question_id)
        texts, owner = list(points), list(range(len(points)))
        for i, point in enumerate(points):
            items = list_items(point)
            texts += items
            owner += [i] * len(items)
        fixes = mistake_corrections(q.section("mistakes").text) if q.section("mistakes") else []
        if fixes and points:
            tv = self._embed(texts)
            bv = self._embed([belief for belief, _ in fixes])
            closeness = bv @ tv.T  # beliefs × variants
            for (_, fix), row in zip(fixes, closeness):
                if float(row.max()) >= self.config.attach:
                    texts.append(fix)
                    owner.append(owner[int(np.argmax(row))])
        mistakes = mistake_beliefs(q.section("mistakes").text) if q.section("mistakes") else []
        vectors = self._embed(texts + [m for m, _ in mistakes])
        result = _QuestionVectors(texts, np.asarray(owner, dtype=int), vectors[:len(texts)], mistakes,
                                  vectors[len(texts):])
        with self._lock:
            self._variants[key] = result
        return result

    def features(self, question_id: str, answer: str, points: list[str] | None = None):
        """What the per-point model reads: (FEATURES × points matrix, the answer's parts, each point's best part,
        the misconceptions found). Raises UnknownQuestion for an unknown id and QueryError for a blank or
        overlong answer."""
        q = self.index.question(question_id)
        if not isinstance(answer, str) or not answer.strip():
            raise QueryError("the answer is blank: type or paste what you would say, then check it")
        if len(answer) > MAX_ANSWER_CHARS:
            raise QueryError(f"the answer is {len(answer):,} characters long, more than the {MAX_ANSWER_CHARS:,} "
                             "one spoken answer takes: check one answer at a time")
        cfg = self.config
        points = list(points) if points is not None else self.key_points(question_id)
        pairs = answer_parts(answer, cfg.min_words, cfg.window) or [(answer.strip(), answer.strip())]
        parts = [p for p, _ in pairs]
        known = self._question(question_id, points)
        texts, owner, pv = known.variants, known.owner, known.vectors
        mistakes, mv = known.mistakes, known.mistake_vectors
        av = self._embed(parts)  # one call; a part said before comes from the query cache
        variant_sim = self._match(texts, pv, parts, av)  # variants × parts, in [0, 1]
        sim = _by_owner(variant_sim, owner, len(points))  # points × parts: each point's best variant
        # a part says a mistake when it is closer to it than to any point in the point's own words (the variants
        # share the mistake's words: a mistake's fix is one of them)
        best_point_per_part = variant_sim[:len(points)].max(axis=0) if len(points) else np.zeros(len(parts))

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

        # how much more a part says each point than the rest of the bank: its cosine to the point, in standard
        # deviations of its cosines to the bank's sentences (a paraphrase in other words still stands out)
        bank = self._bank_sentences() @ av.T
        distinct = _by_owner((pv @ av.T - bank.mean(axis=0)) / (bank.std(axis=0) + 1e-6), owner, len(points))
        for j in wrong_parts:  # a part that says a known mistake covers no point
            sim[:, j] = np.minimum(sim[:, j], cfg.floor)
            distinct[:, j] = np.minimum(distinct[:, j], 0.0)
        if not len(points):
            return np.zeros((len(FEATURES), 0)), parts, np.zeros(0, dtype=int), found
        match, dist = sim.max(axis=1), distinct.max(axis=1)
        # the part that says this point most clearly, by how much more it says it than any other point: a
        # sentence about one point is close to its neighbours too, but closest to its own
        point_vectors = pv[:len(points)]
        twins = (point_vectors @ point_vectors.T >= cfg.twins) | np.eye(len(points), dtype=bool)
        margin, match_margin = _margin(distinct, twins), _margin(sim, twins)
        # the share of the points that some run of the answer's words says more than any other point: an answer
        # whose runs each go to a different point is about the whole question, even in words of its own. Runs of
        # a fixed length, not sentences and clauses: a transcript's commas would otherwise count for more points
        windows = set(word_windows(answer, cfg.window))
        runs = [j for j, part in enumerate(parts) if part in windows] or list(range(len(parts)))
        breadth = len(set(np.argmax(distinct[:, runs], axis=0).tolist())) / len(points)
        x = np.vstack([match, dist, margin, match_margin, np.full_like(match, match.mean()),
                       np.full_like(match, dist.mean()), np.full_like(match, margin.mean()),
                       np.full_like(match, breadth), dist * margin.mean()])
        w = np.asarray(cfg.weights)
        best_part = np.argmax(w[0] * sim + w[1] * distinct, axis=1)
        return x, parts, best_part, found

    def grade(self, question_id: str, answer: str, points: list[str] | None = None) -> Grade:
        """Grade `answer` against the question's key points (or the given `points`).

        Raises UnknownQuestion for an unknown id and QueryError for a blank or overlong answer.
        """
        q = self.index.question(question_id)
        points = list(points) if points is not None else self.key_points(question_id)
        x, parts, best_part, found = self.features(question_id, answer, points)
        cfg = self.config
        chance = _sigmoid(np.asarray(cfg.weights) @ x + cfg.bias) if len(points) else np.zeros(0)
        results = tuple(PointResult(point, bool(c >= cfg.covered), float(c), parts[best_part[i]] if c >= cfg.covered
                                    else "")
                        for i, (point, c) in enumerate(zip(points, chance)))
        score = (float(chance.mean()) if len(points) else 0.0) - cfg.mistake_penalty * min(2, len(found))
        return Grade(q.id, q.title, float(min(1.0, max(0.0, score))), results, tuple(found))
