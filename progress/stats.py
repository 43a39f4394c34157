"""What a learner's progress looks like, in figures: readiness per topic, the reviews planned per day up to the
interview (within a daily time budget), the review calendar, true retention and the learner's own time per review.

Every function is pure: it takes the cards or the log, the bank and the time, so `python -m progress status
--json` and the Progress view draw the same figures from the same code, and tests run on a fixed clock.

    forecast(ids, cards, now, interview=date(2027, 1, 15), capacity=12)   # days, each fitting 12 reviews
    budget(ids, cards, now, interview, minutes=20, seconds_per_review=90)  # does 20 minutes a day cover the bank?
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Callable, Iterable, Mapping, Sequence

from fsrs import Rating

from .schedule import FINAL_DAYS, CardState, Plan, day_start, plan, review, utc, weak_questions

DEFAULT_SECONDS_PER_REVIEW = 90.0  # before the learner has timed reviews: reading, answering aloud, rating
MAX_TIMED_REVIEW_S = 30 * 60  # a review "lasting" longer is a tab left open, not work: left out of the median
FORECAST_DAYS = 14  # without an interview date, the forecast looks this far ahead
RETENTION_MIN_INTERVAL = timedelta(days=1)  # true retention counts only reviews at least this long after the last
_MAX_STEPS_PER_DAY = 8  # learning steps simulated for one question in one day (FSRS's own steps are 2)


# --------------------------------------------------------------------------- from the log
def seconds_per_review(durations_ms: Iterable[int | None]) -> tuple[float, bool]:
    """(median seconds per review, measured): the learner's own median over timed reviews, or
    (DEFAULT_SECONDS_PER_REVIEW, False) before there are any."""
    timed = [d / 1000 for d in durations_ms if d is not None and 0 < d <= MAX_TIMED_REVIEW_S * 1000]
    if not timed:
        return DEFAULT_SECONDS_PER_REVIEW, False
    return float(statistics.median(timed)), True


def true_retention(log: Iterable[tuple[str, Rating, datetime]]) -> tuple[float | None, int]:
    """(pass rate, reviews counted) over the log's `(question_id, rating, reviewed_at)` rows in time order: the
    share of reviews made at least a day after the question's previous one that were not rated Again (Anki's
    "true retention"). (None, 0) when no review qualifies yet."""
    last: dict[str, datetime] = {}
    passed = counted = 0
    for question_id, rating, at in log:
        before = last.get(question_id)
        if before is not None and at - before >= RETENTION_MIN_INTERVAL:
            counted += 1
            passed += int(rating != Rating.Again)
        last[question_id] = at
    return (passed / counted if counted else None), counted


def calendar(times: Iterable[datetime], tz: tzinfo = timezone.utc) -> dict[date, int]:
    """Reviews per day in the learner's zone, for the days that have any."""
    days: dict[date, int] = {}
    for moment in times:
        day = utc(moment).astimezone(tz).date()
        days[day] = days.get(day, 0) + 1
    return dict(sorted(days.items()))


# --------------------------------------------------------------------------- readiness
@dataclass(frozen=True)
class TopicReadiness:
    topic: str
    questions: int
    readiness: float  # mean predicted recall now over the topic's questions (a new question counts 0)
    at_interview: float | None  # the same at the start of the interview day if no more practice happens


def recall(cards: Mapping[str, CardState], question_id: str, at: datetime) -> float:
    """Predicted recall of one question at `at`: 0 for a question never reviewed."""
    card = cards.get(question_id)
    return card.retrievability(at) if card is not None else 0.0


def topic_readiness(questions: Sequence[tuple[str, Sequence[str]]], cards: Mapping[str, CardState], now: datetime,
                    interview: date | None = None, tz: tzinfo = timezone.utc) -> list[TopicReadiness]:
    """Readiness per topic over `questions` as (id, topics) pairs, topics in order of first appearance."""
    at_day = day_start(interview, tz) if interview is not None and day_start(interview, tz) > utc(now) else None
    members: dict[str, list[str]] = {}
    for qid, topics in questions:
        for topic in topics:
            members.setdefault(topic, []).append(qid)
    out = []
    for topic, ids in members.items():
        now_r = sum(recall(cards, q, now) for q in ids) / len(ids)
        later = sum(recall(cards, q, at_day) for q in ids) / len(ids) if at_day is not None else None
        out.append(TopicReadiness(topic, len(ids), now_r, later))
    return out


# --------------------------------------------------------------------------- the forecast
@dataclass(frozen=True)
class ForecastDay:
    day: date
    questions: tuple[str, ...]  # planned that day, in order
    reviews: int  # reviews that day if every answer is Good (a new question's learning steps included)
    new: int  # of `questions`, those never reviewed before


@dataclass(frozen=True)
class Forecast:
    days: tuple[ForecastDay, ...]  # today first; up to the day before the interview, or FORECAST_DAYS
    capacity: int | None  # reviews a day the budget allows (None: no budget)
    uncovered: tuple[str, ...]  # with an interview: questions that do not come up at all before it
    new_days: dict[str, date]  # the day each new question comes in (progress.schedule.plan's `new_days`)


def forecast(question_ids: Iterable[str], cards: Mapping[str, CardState], now: datetime,
             interview: date | None = None, tz: tzinfo = timezone.utc, capacity: int | None = None,
             final_days: int = FINAL_DAYS) -> Forecast:
    """Day by day, the questions the plan puts in front of the learner if every answer is Good, each day within
    `capacity` reviews (None: no limit). The order each day follows the plan: due cards (most overdue first; what
    does not fit waits for the next day), last looks before the interview (weakest first), then new questions
    (spread evenly over the days before the final `final_days`, bank order). Every question comes up at least
    once before the interview unless the budget is too small; those left out are `uncovered`."""
    now = utc(now)
    ids = list(dict.fromkeys(question_ids))
    today = now.astimezone(tz).date()
    sim = {q: cards[q] for q in ids if q in cards}
    pending = [q for q in ids if q not in cards]
    if interview is not None:
        n_days = max(0, (interview - today).days)
        deadline = day_start(interview, tz)
        window_first = interview - timedelta(days=min(final_days, n_days))
        # reviewed in the final days already: that was the last look
        covered = {q for q, c in sim.items() if c.last_review >= day_start(window_first, tz)}
    else:
        n_days, deadline, window_first, covered = FORECAST_DAYS, None, None, set()
    days, new_days = [], {}
    for d in range(n_days):
        day = today + timedelta(days=d)
        start, end = max(now, day_start(day, tz)), day_start(day + timedelta(days=1), tz)
        due = sorted((q for q, c in sim.items() if c.due < end and (deadline is None or c.due < deadline)),
                     key=lambda q: (sim[q].due, q))
        looks: list[str] = []
        if window_first is not None and day >= window_first:
            looks = sorted((q for q, c in sim.items() if c.due >= deadline and q not in covered),
                           key=lambda q: (sim[q].retrievability(deadline), q))
            looks = looks[:math.ceil(len(looks) / max(1, (interview - day).days))]
        if window_first is None:
            quota = len(pending)
        else:
            quota = len(pending) if day >= window_first else math.ceil(len(pending) / (window_first - day).days)
        todays, used, fresh = [], 0, 0
        for q in due + looks + pending[:quota]:
            if capacity is not None and used >= capacity:
                break  # the day is full: the rest waits (a review takes at least one step)
            card, steps, at = sim.get(q), 0, start
            if card is not None:
                at = max(card.due, start) if q in due else start
            while steps < _MAX_STEPS_PER_DAY:
                card = review(card, q, Rating.Good, at)
                steps += 1
                if card.due >= end:
                    break
                at = max(card.due, at)
            if capacity is not None and used + steps > capacity:
                continue  # does not fit today; a due card waits for tomorrow, a new one for a later day
            if q not in sim:
                fresh += 1
                new_days[q] = day
            sim[q] = card
            used += steps
            todays.append(q)
            covered.add(q)
        pending = [q for q in pending if q not in new_days]
        days.append(ForecastDay(day, tuple(todays), used, fresh))
    uncovered = tuple(q for q in ids if q not in covered) if interview is not None and days else ()
    return Forecast(tuple(days), capacity, uncovered, new_days)


# --------------------------------------------------------------------------- the daily time budget
@dataclass(frozen=True)
class Budget:
    minutes: int  # a day, as the learner set it
    seconds_per_review: float
    measured: bool  # seconds_per_review is the learner's own median (False: DEFAULT_SECONDS_PER_REVIEW)
    capacity: int  # reviews that fit in `minutes`
    forecast: Forecast  # within the budget
    minutes_needed: int | None  # with an interview: the fewest minutes a day that cover the bank before it
    drop: tuple[str, ...]  # the strongest questions to leave out so the rest fits at `minutes` (empty when it fits)

    @property
    def fits(self) -> bool:
        return not self.forecast.uncovered


def capacity_for(minutes: int, seconds_per_review: float) -> int:
    """Whole reviews that fit in `minutes`."""
    return int(minutes * 60 // max(1.0, seconds_per_review))


def budget(question_ids: Iterable[str], cards: Mapping[str, CardState], now: datetime, interview: date | None,
           minutes: int, seconds_per_review: float, measured: bool, tz: tzinfo = timezone.utc) -> Budget:
    """The plan within `minutes` a day, and when it cannot cover the bank before the interview, what would:
    the fewest minutes a day that do, and the strongest questions (highest predicted recall at the interview) to
    drop so that the rest fits."""
    ids = list(dict.fromkeys(question_ids))
    capacity = capacity_for(minutes, seconds_per_review)
    within = forecast(ids, cards, now, interview, tz, capacity)
    needed, drop = None, ()
    if interview is not None and within.days:
        free = forecast(ids, cards, now, interview, tz)
        top = max((d.reviews for d in free.days), default=0)
        needed = _fewest(lambda c: not forecast(ids, cards, now, interview, tz, c).uncovered, 1, max(1, top))
        needed = math.ceil(needed * seconds_per_review / 60) if needed is not None else None
        if within.uncovered:
            at = day_start(interview, tz)
            strongest = sorted(ids, key=lambda q: (-recall(cards, q, at), -ids.index(q)))
            k = _fewest(lambda k: not forecast([q for q in ids if q not in strongest[:k]], cards, now, interview,
                                               tz, capacity).uncovered, 1, len(ids))
            drop = tuple(strongest[:k]) if k is not None else tuple(ids)
    return Budget(minutes, seconds_per_review, measured, capacity, within, needed, drop)


def budget_text(b: Budget, name: Callable[[str], str] = str) -> str:
    """The budget's verdict in plain words; `name` turns a question id into what the reader knows it by."""
    per = (f"{b.seconds_per_review:.0f} s a review (your median)" if b.measured
           else f"{b.seconds_per_review:.0f} s a review until you have timed reviews")
    head = f"{b.minutes} minutes a day is {b.capacity} review{'s' if b.capacity != 1 else ''} at {per}"
    if b.fits and b.minutes_needed is not None:
        return f"{head}: every question comes up before the interview ({b.minutes_needed} minutes a day would do)."
    if b.fits:
        return f"{head}; new questions come in as the time allows."
    left = len(b.forecast.uncovered)
    fix = []
    if b.minutes_needed is not None:
        fix.append(f"{b.minutes_needed} minutes a day would cover them all")
    if b.drop and len(b.drop) < len(b.forecast.uncovered) + len(b.drop):
        shown = ", ".join(name(q) for q in b.drop[:5]) + (" …" if len(b.drop) > 5 else "")
        fix.append(f"or leave out the {len(b.drop)} strongest ({shown}) and the rest fits")
    return (f"{head}: not enough to cover the bank before the interview — {left} question{'s' if left != 1 else ''} "
            f"would never come up. " + (", ".join(fix)[:1].upper() + ", ".join(fix)[1:] + "." if fix else ""))


def _fewest(ok, low: int, high: int) -> int | None:
    """The smallest n in [low, high] with ok(n), by bisection (ok is taken to be monotone); None if ok(high) fails."""
    if not ok(high):
        return None
    while low < high:
        mid = (low + high) // 2
        if ok(mid):
            high = mid
        else:
            low = mid + 1
    return low


# --------------------------------------------------------------------------- everything a page shows, at once
@dataclass(frozen=True)
class Outlook:
    """A learner's standing over a set of questions at one moment, for `status --json` and the Progress view."""

    plan: Plan  # the queue and the counts (New, Learning, Review)
    weak: tuple[str, ...]  # weakest first (progress.schedule.CardState.weak)
    topics: tuple[TopicReadiness, ...]
    forecast: Forecast  # within the budget when there is one
    budget: Budget | None  # None: no daily time budget set
    retention: float | None  # true retention (None before any review a day or more after the previous one)
    retention_reviews: int  # the reviews it is computed from
    seconds_per_review: float
    seconds_measured: bool  # the learner's own median (False: DEFAULT_SECONDS_PER_REVIEW)
    calendar: dict[date, int]  # reviews per day, in the learner's zone


def outlook(questions: Sequence[tuple[str, Sequence[str]]], cards: Mapping[str, CardState], log: Sequence,
            now: datetime, interview: date | None = None, tz: tzinfo = timezone.utc,
            minutes: int | None = None) -> Outlook:
    """Everything above over `questions` ((id, topics) pairs, bank order) from the learner's `cards` and `log`
    (progress.store.Review rows, oldest first; the calendar, retention and time per review are the learner's
    whole history, the rest is over `questions`). With `minutes`, the plan and the forecast fit that budget."""
    ids = [q for q, _ in questions]
    wanted = set(ids)
    seconds, measured = seconds_per_review(r.duration_ms for r in log)
    spent = None
    if minutes is not None:
        spent = budget(ids, cards, now, interview, minutes, seconds, measured, tz)
        ahead = spent.forecast
    else:
        ahead = forecast(ids, cards, now, interview, tz)
    made = plan(ids, cards, now, interview, tz, new_days=ahead.new_days if spent is not None else None)
    retention, counted = true_retention((r.question_id, r.rating, r.reviewed_at) for r in log)
    return Outlook(plan=made, weak=tuple(q for q in weak_questions(cards, now) if q in wanted),
                   topics=tuple(topic_readiness(questions, cards, now, interview, tz)), forecast=ahead,
                   budget=spent, retention=retention, retention_reviews=counted, seconds_per_review=seconds,
                   seconds_measured=measured, calendar=calendar((r.reviewed_at for r in log), tz))


def outlook_json(o: Outlook) -> dict:
    """The Outlook as `python -m progress status --json` prints it (docs/progress.md has the contract)."""
    p, b = o.plan, o.budget
    return {
        "counts": {"new": p.counts.new, "learning": p.counts.learning, "review": p.counts.review},
        "new_today": p.new_today,
        "weak": list(o.weak),
        "topics": [{"topic": t.topic, "questions": t.questions, "readiness": round(t.readiness, 4),
                    "readiness_at_interview": None if t.at_interview is None else round(t.at_interview, 4)}
                   for t in o.topics],
        "forecast": [{"date": d.day.isoformat(), "due": len(d.questions), "questions": list(d.questions),
                      "reviews": d.reviews, "new": d.new} for d in o.forecast.days],
        "uncovered": list(o.forecast.uncovered),
        "true_retention": None if o.retention is None else round(o.retention, 4),
        "true_retention_reviews": o.retention_reviews,
        "seconds_per_review": round(o.seconds_per_review, 1),
        "seconds_per_review_measured": o.seconds_measured,
        "budget": None if b is None else {
            "minutes": b.minutes, "reviews_per_day": b.capacity, "fits": b.fits, "minutes_needed": b.minutes_needed,
            "drop": list(b.drop)},
        "interview": p.interview.isoformat() if p.interview else None, "days_left": p.days_left,
        "left_before_interview": p.left_before_interview, "queue": list(p.queue),
        "next_at": p.next_at.isoformat() if p.next_at else None,
    }
