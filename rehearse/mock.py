"""A mock interview: N questions from the learner's plan, each with one follow-up from the bank, then a summary.

    from rehearse.mock import MockInterview, pick_questions
    ids = pick_questions(store.plan(learner, bank_ids, now=now), store.weak_questions(learner, now), n=3)
    interview = MockInterview(index, grader, ids, started=now)
    interview.prompt                            # what the interviewer asks now
    interview.answer("It memorizes the noise ...", delivery=spoken.delivery, at=now)
    interview.summary()                         # per question: coverage, missed points, mistakes, delivery, rating
    apply_ratings(store, learner, {"overfitting": "good"}, now)   # only once the learner confirms

Questions come due first (most overdue), then weak (lowest recall), then the rest of the plan's queue (new), then
the rest of the bank in planned order. Each question's follow-up is either a related question from the bank
(answered and checked against that question's key points) or "What is a common mistake here?" (checked against
the question's own Common mistakes): the first question gets a related question, the second the mistakes, and so
on alternating, falling back to the other kind when a question lacks one. Answers are not graded aloud during the
interview, as in a real one; the summary shows everything at the end.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from progress.claims import claims
from progress.schedule import DUE

MISTAKES_PROMPT = "What is a common mistake here?"
MAX_QUESTIONS = 10
MAIN, FOLLOW_UP = "main", "follow-up"


@dataclass(frozen=True)
class FollowUp:
    kind: str  # "related" (a related question of the bank) or "mistakes" (the question's Common mistakes)
    prompt: str  # what the interviewer asks
    question_id: str  # whose key points (related) or Common mistakes (mistakes) the answer is checked against
    title: str  # that question's title


@dataclass(frozen=True)
class Step:
    question_id: str
    title: str
    follow_up: FollowUp


@dataclass(frozen=True)
class Answer:
    text: str
    grade: object  # progress.grade.Grade
    delivery: object | None  # rehearse.transcribe.Delivery when the answer was spoken, else None
    at: datetime


@dataclass(frozen=True)
class QuestionSummary:
    """One question of the interview, as the summary shows it."""

    question_id: str
    title: str
    coverage: float  # the share of the main answer's key points covered (Grade.coverage)
    covered: int
    points: int
    missed: tuple[str, ...]  # key points the main answer missed
    mistakes: tuple[str, ...]  # known mistakes the answers repeated (main and related follow-up)
    delivery: object | None  # of the main answer, when spoken
    follow_up: FollowUp
    follow_up_coverage: float | None  # share of the follow-up's points covered; None when it was not answered
    follow_up_missed: tuple[str, ...]
    rating: str  # the FSRS rating suggested for the question (the learner confirms)
    seconds: float | None  # from the question being asked to its follow-up answered, by the session's clock


def pick_questions(plan, weak: list[str], n: int) -> list[str]:
    """`n` question ids for the interview: due first, then weak, then the queue's others, then the bank.

    Args:
        plan: the learner's `progress.Plan` over the bank.
        weak: the learner's weak question ids, weakest first (`store.weak_questions`).
        n: how many (1 to MAX_QUESTIONS).
    Raises ValueError when `n` is out of range.
    """
    if not isinstance(n, int) or not 1 <= n <= MAX_QUESTIONS:
        raise ValueError(f"a mock interview has 1 to {MAX_QUESTIONS} questions, not {n!r}")
    in_bank = {i.question_id for i in plan.items}
    due = [q for q in plan.queue if (plan.item(q) and plan.item(q).reason == DUE)]
    order = due + [q for q in weak if q in in_bank] + list(plan.queue) + [i.question_id for i in plan.items]
    return list(dict.fromkeys(order))[:n]


def mistake_points(question) -> list[str]:
    """The Common mistakes a follow-up answer should name: the section's claims."""
    section = question.section("mistakes")
    return claims(section.text) if section is not None else []


def follow_up_for(index, question_id: str, position: int, taken: set[str]) -> FollowUp:
    """The follow-up of the question at `position` (0-based): related on even positions, mistakes on odd ones,
    each falling back to the other. A related question already in the interview is not asked again."""
    question = index.question(question_id)
    related = [r for r in index.related(question_id, k=5) if r.question_id not in taken]
    mistakes = FollowUp("mistakes", MISTAKES_PROMPT, question.id, question.title) if mistake_points(question) \
        else None
    near = (FollowUp("related", f"A related question: {related[0].question}", related[0].question_id,
                     related[0].question) if related else None)
    first, second = (mistakes, near) if position % 2 else (near, mistakes)
    chosen = first or second
    if chosen is None:
        raise ValueError(f"question {question_id!r} has neither a related question nor Common mistakes to follow up")
    return chosen


@dataclass
class MockInterview:
    """One mock interview session: its questions, the answers given so far, and where it stands."""

    steps: list[Step]
    started: datetime
    answers: dict[tuple[int, str], Answer] = field(default_factory=dict)
    asked_at: dict[int, datetime] = field(default_factory=dict)
    ended: bool = False  # stopped early by the learner: the summary covers what was answered

    @classmethod
    def start(cls, index, question_ids: list[str], started: datetime) -> "MockInterview":
        steps: list[Step] = []
        taken = set(question_ids)
        for position, qid in enumerate(question_ids):
            follow = follow_up_for(index, qid, position, taken)
            taken.add(follow.question_id)
            steps.append(Step(qid, index.question(qid).title, follow))
        interview = cls(steps, started)
        interview.asked_at[0] = started
        return interview

    @property
    def position(self) -> tuple[int, str] | None:
        """(question index, MAIN or FOLLOW_UP) of what is asked now; None when the interview is over."""
        if self.ended:
            return None
        for i in range(len(self.steps)):
            for part in (MAIN, FOLLOW_UP):
                if (i, part) not in self.answers:
                    return i, part
        return None

    @property
    def done(self) -> bool:
        return self.position is None

    @property
    def prompt(self) -> str:
        """What the interviewer asks now ("" when the interview is over)."""
        if self.position is None:
            return ""
        i, part = self.position
        return self.steps[i].title if part == MAIN else self.steps[i].follow_up.prompt

    @property
    def checked_against(self) -> str | None:
        """The question id whose answer check applies to what is asked now."""
        if self.position is None:
            return None
        i, part = self.position
        return self.steps[i].question_id if part == MAIN else self.steps[i].follow_up.question_id

    def answer(self, grader, text: str, at: datetime, delivery=None) -> Answer:
        """Check the answer to what is asked now and move on. Raises QueryError (blank or overlong answer) and
        ValueError when the interview is over; nothing moves on when it raises."""
        if self.position is None:
            raise ValueError("the interview is over: start another one")
        i, part = self.position
        step = self.steps[i]
        if part == MAIN:
            grade = grader.grade(step.question_id, text)
        elif step.follow_up.kind == "related":
            grade = grader.grade(step.follow_up.question_id, text)
        else:  # naming a mistake is the right answer here, so a mistake said is not held against it
            lenient = type(grader)(grader.index, dataclasses.replace(grader.config, mistake=float("inf")))
            question = grader.index.question(step.question_id)
            grade = lenient.grade(step.question_id, text, points=mistake_points(question)[:grader.config.max_points])
        answer = Answer(text, grade, delivery, at)
        self.answers[(i, part)] = answer
        if part == FOLLOW_UP and i + 1 < len(self.steps):
            self.asked_at[i + 1] = at
        return answer

    def end(self) -> None:
        """Stop here: the questions not yet asked are left out of the summary."""
        self.ended = True

    def summary(self) -> list[QuestionSummary]:
        """Each answered question: coverage, missed points, mistakes repeated, delivery, the suggested rating."""
        out = []
        for i, step in enumerate(self.steps):
            main, follow = self.answers.get((i, MAIN)), self.answers.get((i, FOLLOW_UP))
            if main is None:
                continue
            g = main.grade
            mistakes = [m.mistake for m in g.misconceptions]
            if follow is not None and step.follow_up.kind == "related":
                mistakes += [m.mistake for m in follow.grade.misconceptions if m.mistake not in mistakes]
            fg = follow.grade if follow is not None else None
            asked = self.asked_at.get(i)
            end = (follow or main).at
            out.append(QuestionSummary(
                step.question_id, step.title, g.coverage, len(g.covered), len(g.points),
                tuple(p.text for p in g.missed), tuple(mistakes), main.delivery, step.follow_up,
                (fg.coverage if fg is not None else None),
                tuple(p.text for p in fg.missed) if fg is not None else (), g.rating,
                (end - asked).total_seconds() if asked is not None else None))
        return out


def apply_ratings(store, learner: str, ratings: dict[str, str], now: datetime) -> dict:
    """Record the confirmed ratings as reviews (source "mock"), one transaction each; returns the new cards by
    question id. Raises the store's errors (nothing further is recorded after the one that fails)."""
    return {qid: store.record_review(learner, qid, rating, now=now, source="mock") for qid, rating in ratings.items()}
