"""FSRS cards and the practice plan (progress.schedule), all with a fixed clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from fsrs import Rating, State
from hypothesis import given, settings
from hypothesis import strategies as st

from progress import schedule
from progress.errors import InvalidRating
from progress.schedule import AFTER_INTERVIEW, BROUGHT_FORWARD, DUE, NEW, plan, replay, review

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
BANK = [f"q-{i:02d}" for i in range(15)]


def learnt(question_id: str, days_ago: float, ratings=("good", "good")) -> schedule.CardState:
    """A card reviewed with `ratings`, the first `days_ago` days before NOW, one day apart."""
    card = None
    for k, rating in enumerate(ratings):
        card = review(card, question_id, rating, NOW - timedelta(days=days_ago) + timedelta(days=k))
    return card


def in_review(question_id: str, stability: float, last_days_ago: float, due_in_days: float,
              lapses: int = 0, last_rating: Rating = Rating.Good) -> schedule.CardState:
    """A learnt card as FSRS would leave it, built directly so its due date can be put anywhere."""
    return schedule.CardState(question_id, State.Review, None, stability, 5.0, NOW + timedelta(days=due_in_days),
                              NOW - timedelta(days=last_days_ago), 4, lapses, last_rating)


def test_parse_rating_accepts_names_numbers_and_ratings_and_refuses_the_rest():
    assert schedule.parse_rating("Again") is Rating.Again
    assert schedule.parse_rating(" easy ") is Rating.Easy
    assert schedule.parse_rating(3) is Rating.Good
    assert schedule.parse_rating(Rating.Hard) is Rating.Hard
    for bad in ("knew", 0, 5, True, None, 2.0):
        with pytest.raises(InvalidRating, match="again, hard, good, easy"):
            schedule.parse_rating(bad)


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        review(None, "q-00", "good", datetime(2026, 12, 1, 9))


def test_review_follows_fsrs_and_counts_reps_and_lapses():
    card = review(None, "q-00", "good", NOW)
    assert card.state == State.Learning and card.reps == 1 and card.due == NOW + timedelta(minutes=10)
    card = review(card, "q-00", "good", NOW + timedelta(minutes=10))
    assert card.state == State.Review and card.due > NOW + timedelta(days=1)
    assert card.lapses == 0
    lapsed = review(card, "q-00", "again", card.due)
    assert lapsed.state == State.Relearning and lapsed.lapses == 1 and lapsed.weak(card.due)
    assert lapsed.stability < card.stability
    relearning_again = review(lapsed, "q-00", "again", lapsed.due)
    assert relearning_again.lapses == 1  # forgetting while relearning is not a second lapse


def test_replay_gives_the_cards_that_reviewing_one_by_one_gave():
    log = [("q-00", "good", NOW), ("q-01", "again", NOW + timedelta(minutes=1)),
           ("q-00", "good", NOW + timedelta(minutes=12)), ("q-01", "hard", NOW + timedelta(minutes=15)),
           ("q-00", "again", NOW + timedelta(days=4)), ("q-01", "easy", NOW + timedelta(days=1))]
    by_hand: dict[str, schedule.CardState] = {}
    for qid, rating, at in log:
        by_hand[qid] = review(by_hand.get(qid), qid, rating, at)
    assert replay(log) == by_hand
    assert replay(log)["q-00"].reps == 3 and replay(log)["q-00"].last_rating == Rating.Again


def test_without_an_interview_the_queue_is_due_cards_most_overdue_first_then_new_ones():
    cards = {"q-03": learnt("q-03", 30), "q-01": learnt("q-01", 10), "q-02": learnt("q-02", 1, ("easy",))}
    assert cards["q-03"].due < cards["q-01"].due < NOW < cards["q-02"].due
    p = plan(BANK, cards, NOW)
    assert p.queue[:2] == ("q-03", "q-01")
    assert p.queue[2:] == tuple(q for q in BANK if q not in cards)  # new ones, in the bank's order
    assert "q-02" not in p.queue and p.item("q-02").reason == DUE
    assert p.next_at == cards["q-02"].due
    assert p.counts.new == 12 and p.days_left is None and p.left_before_interview is None
    assert p.new_today == 12 and p.counts.review == 2 and p.counts.learning == 0  # two overdue, twelve new


def test_next_question_skips_the_one_just_shown_and_can_practise_ahead():
    cards = {"q-00": learnt("q-00", 30), "q-01": learnt("q-01", 10), "q-02": learnt("q-02", 1, ("easy",))}
    p = plan(["q-00", "q-01", "q-02"], cards, NOW)
    assert p.queue == ("q-00", "q-01")
    assert p.next_question() == "q-00" and p.next_question(exclude="q-00") == "q-01"
    only = plan(["q-00"], cards, NOW)
    assert only.next_question(exclude="q-00") == "q-00"  # the only one due comes again
    nothing = plan(["q-02"], cards, NOW)
    assert nothing.next_question() is None and nothing.next_question(ahead=True) == "q-02"


def test_a_card_in_a_learning_step_counts_as_learning_and_waits_in_the_queue():
    card = review(None, "q-00", "again", NOW)  # next learning step in a minute
    p = plan(["q-00"], {"q-00": card}, NOW)
    assert p.queue == () and p.next_at == NOW + timedelta(minutes=1)
    assert (p.counts.new, p.counts.learning, p.counts.review) == (0, 1, 0)
    assert plan(["q-00"], {"q-00": card}, NOW + timedelta(minutes=1)).queue == ("q-00",)


def test_an_interview_spreads_the_new_questions_over_the_days_before_the_final_ones():
    interview = NOW.date() + timedelta(days=10)
    p = plan(BANK, {}, NOW, interview=interview)
    # 10 days left, the last 3 kept for last looks: 15 new over 7 days is 3 a day, all before the interview
    assert p.days_left == 10 and p.counts.new == 15
    assert p.queue == tuple(BANK[:3]) and p.new_today == 3
    deadline = datetime.combine(interview, datetime.min.time(), tzinfo=timezone.utc)
    assert all(i.reason == NEW and i.when < deadline - timedelta(days=3) for i in p.items)
    # without the interview every new question is on offer today
    assert plan(BANK, {}, NOW).queue == tuple(BANK)


def test_cards_due_after_the_interview_are_brought_forward_weakest_first():
    interview = NOW.date() + timedelta(days=2)
    strong = in_review("q-00", stability=60, last_days_ago=20, due_in_days=40)
    weak = in_review("q-01", stability=12, last_days_ago=6, due_in_days=6)
    cards = {"q-00": strong, "q-01": weak}
    deadline = datetime.combine(interview, datetime.min.time(), tzinfo=timezone.utc)
    assert strong.due > deadline and weak.due > deadline
    assert weak.retrievability(deadline) < strong.retrievability(deadline)
    p = plan(["q-00", "q-01"], cards, NOW, interview=interview)
    # two days left, one each: the weaker one today, the stronger one tomorrow
    assert [i.reason for i in p.items] == [BROUGHT_FORWARD, BROUGHT_FORWARD]
    assert p.queue == ("q-01",) and p.item("q-00").when == deadline - timedelta(days=1)
    assert p.left_before_interview >= 2
    # without the interview neither comes up before it
    assert plan(["q-00", "q-01"], cards, NOW).queue == ()


def test_a_card_reviewed_in_the_final_days_is_not_brought_forward_again():
    interview = NOW.date() + timedelta(days=2)
    card = in_review("q-00", stability=60, last_days_ago=20, due_in_days=40)
    first = plan(["q-00"], {"q-00": card}, NOW, interview=interview)
    assert first.queue == ("q-00",)
    again = review(card, "q-00", "good", NOW)
    after = plan(["q-00"], {"q-00": again}, NOW + timedelta(minutes=5), interview=interview)
    assert after.queue == () and after.item("q-00").reason == AFTER_INTERVIEW
    assert after.left_before_interview == 0


def test_an_interview_today_or_past_plans_as_if_there_were_none():
    cards = {"q-00": learnt("q-00", 30)}
    for interview in (NOW.date(), NOW.date() - timedelta(days=3)):
        p = plan(BANK, cards, NOW, interview=interview)
        assert p.days_left == 0 and p.left_before_interview == 0
        assert p.queue == plan(BANK, cards, NOW).queue


def test_the_interview_day_is_a_day_in_the_learners_time_zone():
    tz = timezone(timedelta(hours=-8))
    now = datetime(2026, 12, 2, 7, 0, tzinfo=timezone.utc)  # still 1 December at UTC-8
    p = plan(BANK[:2], {}, now, interview=date(2026, 12, 3), tz=tz)
    assert p.days_left == 2
    assert plan(BANK[:2], {}, now, interview=date(2026, 12, 3)).days_left == 1


def test_following_the_plan_every_question_comes_up_before_the_interview_and_the_weak_ones_again():
    """A learner who practises the queue every morning and evening until it is empty, answering Again the first
    time on three questions and Good otherwise."""
    interview = NOW.date() + timedelta(days=12)
    deadline = datetime.combine(interview, datetime.min.time(), tzinfo=timezone.utc)
    hard = {"q-02", "q-07", "q-11"}
    cards: dict[str, schedule.CardState] = {}
    reviewed: dict[str, int] = {}
    predicted = plan(BANK, cards, NOW, interview=interview).left_before_interview
    for day in range(12):
        for hour in (8, 20):
            now = NOW.replace(hour=hour) + timedelta(days=day)
            for _ in range(200):
                p = plan(BANK, cards, now, interview=interview)
                if not p.queue:
                    break
                qid = p.queue[0]
                rating = "again" if qid in hard and qid not in reviewed else "good"
                cards[qid] = review(cards.get(qid), qid, rating, now)
                reviewed[qid] = reviewed.get(qid, 0) + 1
                now += timedelta(minutes=2)
            assert now < deadline
    assert set(reviewed) == set(BANK)
    assert all(reviewed[q] > min(reviewed[o] for o in BANK if o not in hard) for q in hard)
    assert plan(BANK, cards, deadline - timedelta(hours=1), interview=interview).queue == ()
    assert predicted >= len(BANK)


def test_weak_is_rated_again_or_hard_last_or_recall_below_the_level_lowest_recall_first():
    strong = learnt("q-00", 60, ("easy", "easy", "easy", "easy"))
    lapsed_then_good = learnt("q-01", 3, ("easy", "easy", "again", "good", "good")[-3:])
    hard_last = learnt("q-02", 50, ("easy", "easy", "easy", "hard"))
    fresh = review(None, "q-03", "good", NOW - timedelta(minutes=5))
    forgotten = in_review("q-04", stability=2, last_days_ago=20, due_in_days=-18)
    again_now = review(None, "q-05", "again", NOW)
    cards = {c.question_id: c for c in (strong, lapsed_then_good, hard_last, fresh, forgotten, again_now)}
    assert forgotten.retrievability(NOW) < schedule.WEAK_RECALL <= strong.retrievability(NOW)
    weak = schedule.weak_questions(cards, NOW)
    assert sorted(weak) == ["q-02", "q-04", "q-05"]
    recall = [cards[q].retrievability(NOW) for q in weak]
    assert recall == sorted(recall)
    # a card just rated Good or Easy is never weak, whatever came before
    for rating in ("good", "easy"):
        for card in cards.values():
            after = review(card, card.question_id, rating, NOW)
            assert not after.weak(NOW) and not after.weak(NOW + timedelta(minutes=10))


_histories = st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["again", "hard", "good", "easy"]),
                                st.integers(0, 60 * 24 * 90)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(history=_histories, later_minutes=st.integers(0, 60 * 24 * 30),
       interview_in=st.one_of(st.none(), st.integers(-3, 40)), final_days=st.integers(1, 5))
def test_plan_invariants_hold_for_any_history(history, later_minutes, interview_in, final_days):
    ids = BANK[:8]
    start = NOW - timedelta(days=90)
    log = [(ids[q], rating, start + timedelta(minutes=m)) for q, rating, m in sorted(history, key=lambda h: h[2])]
    cards = replay(log)
    now = start + timedelta(minutes=max((m for _, _, m in history), default=0) + later_minutes)
    interview = None if interview_in is None else now.date() + timedelta(days=interview_in)
    p = plan(ids, cards, now, interview=interview, final_days=final_days)
    assert sorted(i.question_id for i in p.items) == sorted(ids)
    assert len(set(p.queue)) == len(p.queue) and all(p.item(q).when <= now for q in p.queue)
    assert p.counts.new == len(set(ids) - set(cards)) and p.new_today <= p.counts.new
    assert p.counts.learning == sum(1 for q in ids if q in cards and cards[q].state != State.Review)
    assert all(p.item(q).reason == NEW for q in ids if q not in cards)
    if p.days_left:
        deadline = datetime.combine(interview, datetime.min.time(), tzinfo=timezone.utc)
        planned = [i for i in p.items if i.reason != AFTER_INTERVIEW]
        assert all(i.when < deadline for i in planned)  # every question comes up before the interview
        assert p.left_before_interview >= len(planned)
        window_start = deadline - timedelta(days=min(final_days, p.days_left))
        assert all(cards[i.question_id].last_review >= window_start for i in p.items if i.reason == AFTER_INTERVIEW)
    else:
        assert all(i.reason in (DUE, NEW) for i in p.items)
