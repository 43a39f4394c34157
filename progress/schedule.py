"""Spaced repetition with FSRS: a learner's card for one question, derived from its reviews, and the plan of what
to practise now, what is due today and what is left before the interview date.

The scheduling itself is py-fsrs's (`fsrs.Scheduler.review_card`); this module folds reviews into cards and decides
the order in which cards come up. Every function takes the time as an argument (`now`, `at`), so the whole plan is
testable with a fixed clock. Times are timezone-aware datetimes; they are kept in UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Iterable, Mapping

from fsrs import Card, Rating, Scheduler, State

from .errors import InvalidRating

# Fuzzing would draw intervals from the global random generator; without it a card is a pure function of its
# reviews, so the schedule recomputed from the log is exactly the one the learner was shown.
SCHEDULER = Scheduler(enable_fuzzing=False)

RATINGS: dict[str, Rating] = {r.name.lower(): r for r in Rating}  # "again", "hard", "good", "easy"

WEAK_RECALL = 0.8  # a card whose predicted recall has fallen below this is weak (FSRS schedules at 0.9)
LEARNING_STATES = (State.Learning, State.Relearning)  # FSRS's short steps (minutes), before or after a lapse
FINAL_DAYS = 3  # the last days before an interview, when cards FSRS would show only after it get a last look

# Reasons a question is in the plan, in the order the queue shows them.
DUE, BROUGHT_FORWARD, NEW, AFTER_INTERVIEW = "due", "brought forward", "new", "after interview"
_QUEUE_RANK = {DUE: 0, BROUGHT_FORWARD: 1, NEW: 2, AFTER_INTERVIEW: 3}
UNPLANNED_NEW_DAYS = 7  # without a date, a new question the daily budget leaves out is planned this far ahead
_MAX_SIMULATED_REVIEWS = 200  # per card; a guard only: Good answers reach a long interval in a handful of steps


def parse_rating(value: Rating | int | str) -> Rating:
    """A Rating from a Rating, its number (1-4) or its name ("again", "Hard", …). Raises InvalidRating."""
    if isinstance(value, Rating):
        return value
    if isinstance(value, str) and value.strip().lower() in RATINGS:
        return RATINGS[value.strip().lower()]
    if isinstance(value, int) and not isinstance(value, bool) and value in {r.value for r in Rating}:
        return Rating(value)
    raise InvalidRating(f"unknown rating {value!r}; use one of again, hard, good, easy (or 1-4)")


def utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is refused, since its zone would be a guess."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class CardState:
    """One learner's card for one question after its last review: FSRS's memory state plus counters."""

    question_id: str
    state: State  # Learning, Review or Relearning
    step: int | None  # learning or relearning step; None in Review
    stability: float | None  # days until recall drops to 90%
    difficulty: float | None  # 1 (easy) .. 10 (hard)
    due: datetime
    last_review: datetime
    reps: int  # reviews so far
    lapses: int  # times a learnt card (Review) was forgotten (Again)
    last_rating: Rating

    def fsrs_card(self) -> Card:
        return Card(card_id=0, state=self.state, step=self.step, stability=self.stability,
                    difficulty=self.difficulty, due=self.due, last_review=self.last_review)

    def retrievability(self, at: datetime) -> float:
        """FSRS's predicted probability of recalling the answer at `at` (0..1)."""
        return SCHEDULER.get_card_retrievability(self.fsrs_card(), utc(at))

    def weak(self, at: datetime) -> bool:
        """The one definition of weak: rated Again or Hard last, or predicted recall at `at` below WEAK_RECALL.
        A card just rated Good or Easy is never weak (its recall right after a review is 1)."""
        return self.last_rating in (Rating.Again, Rating.Hard) or self.retrievability(at) < WEAK_RECALL


def review(card: CardState | None, question_id: str, rating: Rating | int | str, at: datetime,
           duration_ms: int | None = None) -> CardState:
    """The card after rating it `rating` at `at`; `card` None is a question never reviewed before."""
    rating = parse_rating(rating)
    at = utc(at)
    before = card.fsrs_card() if card is not None else Card(card_id=0, due=at)
    after, _ = SCHEDULER.review_card(before, rating, review_datetime=at, review_duration=duration_ms)
    lapsed = card is not None and card.state == State.Review and rating == Rating.Again
    return CardState(question_id=question_id, state=after.state, step=after.step, stability=after.stability,
                     difficulty=after.difficulty, due=after.due, last_review=after.last_review,
                     reps=(card.reps if card else 0) + 1, lapses=(card.lapses if card else 0) + int(lapsed),
                     last_rating=rating)


def replay(reviews: Iterable[tuple[str, Rating | int | str, datetime]]) -> dict[str, CardState]:
    """Every card recomputed from `(question_id, rating, reviewed_at)` rows in log order."""
    cards: dict[str, CardState] = {}
    for question_id, rating, at in reviews:
        cards[question_id] = review(cards.get(question_id), question_id, rating, at)
    return cards


def weak_questions(cards: Mapping[str, CardState], now: datetime) -> list[str]:
    """The ids of the weak cards at `now` (see CardState.weak), lowest predicted recall first."""
    weak = [c for c in cards.values() if c.weak(now)]
    return [c.question_id for c in sorted(weak, key=lambda c: (c.retrievability(now), c.question_id))]


@dataclass(frozen=True)
class Counts:
    """The three counts, each with one meaning, as Anki names them."""

    new: int  # questions never reviewed
    learning: int  # cards in FSRS's short (re)learning steps, due again within minutes
    review: int  # learnt cards (FSRS's Review state) due by the end of the learner's day


def day_start(day: date, tz: tzinfo) -> datetime:
    """The first moment of `day` in `tz`, in UTC."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(timezone.utc)


def counts(question_ids: Iterable[str], cards: Mapping[str, CardState], now: datetime,
           tz: tzinfo = timezone.utc) -> Counts:
    """New, Learning and Review over `question_ids` at `now`; the learner's day ends at midnight in `tz`."""
    ids = list(dict.fromkeys(question_ids))
    end_today = day_start(utc(now).astimezone(tz).date() + timedelta(days=1), tz)
    seen = [cards[q] for q in ids if q in cards]
    return Counts(new=len(ids) - len(seen), learning=sum(1 for c in seen if c.state in LEARNING_STATES),
                  review=sum(1 for c in seen if c.state == State.Review and c.due < end_today))


@dataclass(frozen=True)
class PlanItem:
    question_id: str
    when: datetime  # when the question is next planned (UTC)
    reason: str  # DUE (FSRS's due time), NEW, BROUGHT_FORWARD (a last look before the interview), AFTER_INTERVIEW
    retrievability: float  # predicted recall now; 0 for a new question


@dataclass(frozen=True)
class Plan:
    """What to practise: the queue for now and every question's next planned time, with the counts a page shows."""

    now: datetime
    interview: date | None
    days_left: int | None  # practice days before the interview, today included (0 on or after the day)
    queue: tuple[str, ...]  # to practise now: due (most overdue first), brought forward (weakest first), new
    items: tuple[PlanItem, ...]  # every question, in planned order
    counts: Counts  # New, Learning, Review: what the learner has, whatever the plan
    new_today: int  # new questions the plan brings in today (all of them without a date or a budget)
    left_before_interview: int | None  # reviews still to do before the interview if every answer is Good
    next_at: datetime | None  # the next planned time after now, when the queue runs dry

    def item(self, question_id: str) -> PlanItem | None:
        return next((i for i in self.items if i.question_id == question_id), None)

    def next_question(self, exclude: str | None = None, ahead: bool = False) -> str | None:
        """The question to show next: the queue's first, skipping `exclude` (the one just shown) unless it is the
        only one; when nothing is due and `ahead` is set, the earliest planned one (practising ahead of schedule).
        None when there is nothing to show."""
        pool = list(self.queue) or ([i.question_id for i in self.items] if ahead else [])
        return next((q for q in pool if q != exclude), pool[0] if pool else None)


def plan(question_ids: Iterable[str], cards: Mapping[str, CardState], now: datetime,
         interview: date | None = None, tz: tzinfo = timezone.utc, final_days: int = FINAL_DAYS,
         new_days: Mapping[str, date] | None = None) -> Plan:
    """Plan the reviews of `question_ids` (the bank, in its order) from the learner's `cards` at `now`.

    Without an interview: due cards (most overdue first), then every new question. With an interview date (a day
    in `tz`; the plan must be done by its midnight) every question comes up at least once before it: new questions
    are spread over the days before the final `final_days`, and cards FSRS would next show only after the interview
    are brought forward into those final days, weakest first (lowest predicted recall on the day), unless they were
    already reviewed there. Weak cards come back again by FSRS's own short intervals. Cards of questions not in
    `question_ids` (another topic, or removed from the bank) are left out.
    """
    now = utc(now)
    ids = list(dict.fromkeys(question_ids))
    today = now.astimezone(tz).date()

    def start_of(day: date) -> datetime:
        return day_start(day, tz)

    end_today = start_of(today + timedelta(days=1))
    seen = [cards[q] for q in ids if q in cards]
    new_ids = [q for q in ids if q not in cards]
    days_left = None if interview is None else max(0, (interview - today).days)
    planned = days_left is not None and days_left > 0
    deadline = start_of(interview) if planned else None
    window = min(final_days, days_left) if planned else 0
    window_first = interview - timedelta(days=window) if planned else None

    items: list[tuple[PlanItem, int]] = []
    if planned:
        spread = max(1, days_left - window)
        per_day = math.ceil(len(new_ids) / spread) if new_ids else 1
        for k, q in enumerate(new_ids):
            day = today + timedelta(days=k // per_day) if new_days is None else new_days.get(q, interview)
            reason = NEW if day < interview else AFTER_INTERVIEW
            items.append((PlanItem(q, now if day <= today else start_of(day), reason, 0.0), k))
        late = [c for c in seen if c.due >= deadline]
        for c in seen:
            if c.due < deadline:
                items.append((PlanItem(c.question_id, c.due, DUE, c.retrievability(now)), 0))
        last_look = sorted((c for c in late if c.last_review < start_of(window_first)),
                           key=lambda c: (c.retrievability(deadline), c.question_id))
        per_day = math.ceil(len(last_look) / window) if last_look else 1
        for k, c in enumerate(last_look):
            day = window_first + timedelta(days=k // per_day)
            items.append((PlanItem(c.question_id, start_of(day), BROUGHT_FORWARD, c.retrievability(now)), k))
        for c in late:
            if c.last_review >= start_of(window_first):
                items.append((PlanItem(c.question_id, c.due, AFTER_INTERVIEW, c.retrievability(now)), 0))
    else:
        items += [(PlanItem(c.question_id, c.due, DUE, c.retrievability(now)), 0) for c in seen]
        for k, q in enumerate(new_ids):
            day = today if new_days is None else new_days.get(q, today + timedelta(days=UNPLANNED_NEW_DAYS))
            items.append((PlanItem(q, now if day <= today else start_of(day), NEW, 0.0), k))

    items.sort(key=lambda pair: (pair[0].when, _QUEUE_RANK[pair[0].reason], pair[1], pair[0].question_id))
    ready = sorted((pair for pair in items if pair[0].when <= now and pair[0].reason != AFTER_INTERVIEW),
                   key=lambda pair: (_QUEUE_RANK[pair[0].reason], pair[0].when if pair[0].reason == DUE else now,
                                     pair[1], pair[0].question_id))
    later = [i.when for i, _ in items if i.when > now and i.reason != AFTER_INTERVIEW]
    left = None
    if days_left is not None:
        left = 0 if not planned else sum(
            _reviews_before(cards.get(i.question_id), i.question_id, max(i.when, now), deadline,
                            start_of(window_first))
            for i, _ in items if i.when < deadline)
    return Plan(now=now, interview=interview, days_left=days_left, queue=tuple(i.question_id for i, _ in ready),
                items=tuple(i for i, _ in items), counts=counts(ids, cards, now, tz),
                new_today=sum(1 for i, _ in items if i.reason == NEW and i.when < end_today),
                left_before_interview=left, next_at=min(later) if later else None)


def _reviews_before(card: CardState | None, question_id: str, first: datetime, deadline: datetime,
                    window_start: datetime) -> int:
    """How many reviews a card gets before `deadline` from `first` on if every answer is Good, following the
    plan's own rule: a card whose next due falls after the interview gets one last look in the final days."""
    n, at = 0, first
    while at < deadline and n < _MAX_SIMULATED_REVIEWS:
        card = review(card, question_id, Rating.Good, at)
        n += 1
        if card.due < deadline:
            at = max(card.due, at)
        elif at < window_start:
            at = window_start
        else:
            break
    return n

