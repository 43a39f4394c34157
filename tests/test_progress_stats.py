"""Counts, weak questions, readiness, the forecast, the daily time budget and true retention (progress.stats), and
`python -m progress status --json` / `review --now`, all on a fixed clock."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fsrs import Rating

from ingest.content import load_bank
from progress import schedule, stats
from progress.__main__ import main
from progress.schedule import review

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)
BANK = load_bank(ROOT / "content")
IDS = [q.id for q in BANK]


def cli(capsys, db, *argv):
    code = main(["--database", str(db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def status(capsys, db, now, *extra) -> dict:
    code, out, err = cli(capsys, db, "status", "--learner", "newcomer", "--json", "--now", now.isoformat(), *extra)
    assert code == 0, err
    return json.loads(out)


def test_the_newcomers_sequence_gives_counts_with_one_meaning_each(tmp_path, capsys):
    """Issue 21: "15 due today" became "2 due today" on setting a date, a Good rating raised it to 3, and the card
    rated Good showed under "Weak so far". Each count now keeps its meaning through the sequence."""
    db = tmp_path / "p.db"
    assert len(IDS) == 15
    first = status(capsys, db, NOW)
    assert first["counts"] == {"new": 15, "learning": 0, "review": 0} and first["weak"] == []
    interview = (NOW.date() + timedelta(days=14)).isoformat()
    dated = status(capsys, db, NOW, "--interview", interview)
    assert dated["counts"] == first["counts"]  # a date changes the plan, not what the learner has
    assert dated["new_today"] == 2  # 15 new questions over the 11 days before the final three
    rated = dated["queue"][0]
    code, out, _ = cli(capsys, db, "review", "--learner", "newcomer", rated, "good", "--now", NOW.isoformat(),
                       "--json")
    assert code == 0 and json.loads(out)["state"] == "Learning"
    after = status(capsys, db, NOW + timedelta(minutes=1), "--interview", interview)
    assert after["counts"] == {"new": 14, "learning": 1, "review": 0}
    assert rated not in after["weak"] and after["weak"] == []
    code, out, _ = cli(capsys, db, "review", "--learner", "newcomer", rated, "good", "--now",
                       (NOW + timedelta(minutes=10)).isoformat(), "--json")
    assert json.loads(out)["state"] == "Review"
    learnt = status(capsys, db, NOW + timedelta(minutes=11), "--interview", interview)
    assert learnt["counts"] == {"new": 14, "learning": 0, "review": 0} and learnt["weak"] == []


def test_status_json_follows_the_contract(tmp_path, capsys):
    db = tmp_path / "p.db"
    start = NOW - timedelta(days=6)
    for k, (qid, rating) in enumerate([(IDS[0], "good"), (IDS[1], "hard"), (IDS[2], "again")]):
        cli(capsys, db, "review", "--learner", "newcomer", qid, rating, "--now", (start + timedelta(hours=k)).isoformat())
    cli(capsys, db, "review", "--learner", "newcomer", IDS[0], "again", "--now", (start + timedelta(days=3)).isoformat())
    cli(capsys, db, "review", "--learner", "newcomer", IDS[1], "good", "--now", (start + timedelta(days=3)).isoformat())
    interview = NOW.date() + timedelta(days=9)
    out = status(capsys, db, NOW, "--interview", interview.isoformat())
    assert set(out["counts"]) == {"new", "learning", "review"} and out["counts"]["new"] == 12
    assert out["weak"][0] in IDS and IDS[2] in out["weak"] and IDS[0] in out["weak"]
    topics = {t["topic"]: t for t in out["topics"]}
    assert set(topics) == {t for q in BANK for t in q.topics}
    for t in out["topics"]:
        assert t["questions"] == sum(1 for q in BANK if t["topic"] in q.topics)
        assert 0.0 <= t["readiness"] <= 1.0 and 0.0 <= t["readiness_at_interview"] <= t["readiness"]
    days = [date.fromisoformat(d["date"]) for d in out["forecast"]]
    assert days == [NOW.date() + timedelta(days=k) for k in range(9)]  # today up to the day before the interview
    assert all(d["due"] == len(d["questions"]) for d in out["forecast"])
    assert {q for d in out["forecast"] for q in d["questions"]} == set(IDS)  # every question planned at least once
    assert out["uncovered"] == []
    # two reviews came three days after the one before: one Again, one Good
    assert out["true_retention"] == 0.5 and out["true_retention_reviews"] == 2
    assert out["budget"] is None and out["seconds_per_review_measured"] is False
    assert out["seconds_per_review"] == stats.DEFAULT_SECONDS_PER_REVIEW
    no_log = status(capsys, tmp_path / "empty.db", NOW)
    assert no_log["true_retention"] is None and len(no_log["forecast"]) == stats.FORECAST_DAYS


def test_a_budget_fits_each_day_or_says_what_would(tmp_path, capsys):
    db = tmp_path / "p.db"
    interview = (NOW.date() + timedelta(days=6)).isoformat()
    tight = status(capsys, db, NOW, "--interview", interview, "--daily-minutes", "3")
    b = tight["budget"]
    assert b["reviews_per_day"] == 2 and b["fits"] is False and tight["uncovered"]
    assert all(d["reviews"] <= 2 for d in tight["forecast"])
    assert b["minutes_needed"] > 3 and b["drop"]
    enough = status(capsys, db, NOW, "--interview", interview, "--daily-minutes", str(b["minutes_needed"]))
    assert enough["budget"]["fits"] is True and enough["uncovered"] == []
    fewer = status(capsys, db, NOW, "--interview", interview, "--daily-minutes", str(b["minutes_needed"] - 1))
    assert fewer["budget"]["fits"] is False  # the fewest minutes, not just enough ones
    code, out, _ = cli(capsys, db, "status", "--learner", "newcomer", "--now", NOW.isoformat(), "--interview",
                       interview, "--daily-minutes", "3")
    assert code == 0 and "not enough to cover the bank" in out and f"{b['minutes_needed']} minutes a day" in out


def test_dropping_the_strongest_questions_makes_the_rest_fit():
    at = datetime.combine(NOW.date() + timedelta(days=5), datetime.min.time(), tzinfo=timezone.utc)
    cards = {}
    for k, qid in enumerate(IDS[:6]):  # six learnt, ever more stable
        card = None
        for day in range(k + 2):
            card = review(card, qid, "easy", NOW - timedelta(days=40 - 6 * day))
        cards[qid] = card
    b = stats.budget(IDS, cards, NOW, at.date(), minutes=2, seconds_per_review=60, measured=True)
    assert not b.fits and b.drop
    kept = [q for q in IDS if q not in b.drop]
    assert not stats.forecast(kept, cards, NOW, at.date(), capacity=b.capacity).uncovered
    recall = {q: stats.recall(cards, q, at) for q in IDS}
    assert min(recall[q] for q in b.drop) >= max(recall[q] for q in kept)


def test_with_a_budget_the_plan_brings_in_only_what_fits_today():
    interview = NOW.date() + timedelta(days=10)
    o = stats.outlook([(q.id, q.topics) for q in BANK], {}, [], NOW, interview, minutes=3)
    assert o.budget.capacity == 2 and o.plan.new_today == 1  # a new question takes two reviews (a learning step)
    assert o.plan.queue == (IDS[0],)
    free = stats.outlook([(q.id, q.topics) for q in BANK], {}, [], NOW, interview)
    assert free.plan.new_today == 3 and free.budget is None


def test_seconds_per_review_is_the_learners_median_or_the_stated_default():
    assert stats.seconds_per_review([]) == (stats.DEFAULT_SECONDS_PER_REVIEW, False)
    assert stats.seconds_per_review([None, None]) == (stats.DEFAULT_SECONDS_PER_REVIEW, False)
    assert stats.seconds_per_review([30_000, 60_000, 40_000, None]) == (40.0, True)
    assert stats.seconds_per_review([30_000, 50_000, 4 * 3600_000]) == (40.0, True)  # a tab left open is not work


def test_true_retention_counts_only_reviews_a_day_or_more_after_the_last():
    log = [("a", Rating.Good, NOW), ("a", Rating.Again, NOW + timedelta(minutes=10)),
           ("a", Rating.Good, NOW + timedelta(days=1, minutes=10)), ("b", Rating.Hard, NOW),
           ("b", Rating.Again, NOW + timedelta(days=2)), ("b", Rating.Hard, NOW + timedelta(days=5))]
    assert stats.true_retention(log) == (2 / 3, 3)
    assert stats.true_retention(log[:2]) == (None, 0)


def test_the_calendar_counts_reviews_per_day_in_the_learners_zone():
    tz = timezone(timedelta(hours=-8))
    times = [NOW.replace(hour=3), NOW.replace(hour=10), NOW.replace(hour=11)]  # 03:00 UTC is the day before
    assert stats.calendar(times, tz) == {NOW.date() - timedelta(days=1): 1, NOW.date(): 2}


def test_readiness_is_mean_recall_now_and_at_the_interview():
    card = review(None, IDS[0], "easy", NOW - timedelta(days=2))
    out = stats.topic_readiness([(IDS[0], ("a",)), (IDS[1], ("a", "b"))], {IDS[0]: card}, NOW,
                                interview=NOW.date() + timedelta(days=30))
    a, b = out
    assert (a.topic, a.questions, b.topic, b.questions) == ("a", 2, "b", 1)
    assert a.readiness == pytest.approx(card.retrievability(NOW) / 2) and b.readiness == 0.0
    assert 0 < a.at_interview < a.readiness and b.at_interview == 0.0
    assert stats.topic_readiness([(IDS[0], ("a",))], {}, NOW)[0].at_interview is None


@pytest.mark.parametrize("argv, message", [
    (["status", "--learner", "x", "--now", "yesterday"], "is not a time with its zone"),
    (["status", "--learner", "x", "--now", "2026-12-06T09:00:00"], "is not a time with its zone"),
    (["review", "--learner", "x", "--now", "noon", "a-question", "good"], "is not a time with its zone"),
    (["status", "--learner", "x", "--daily-minutes", "0"], "minutes from 1 to 600"),
    (["status", "--learner", "x", "--daily-minutes", "lots"], "minutes from 1 to 600"),
])
def test_bad_clock_or_budget_is_one_clear_line(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(["--database", str(tmp_path / "p.db"), *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "Traceback" not in err


def test_review_now_records_at_the_given_time(tmp_path, capsys):
    db = tmp_path / "p.db"
    at = NOW - timedelta(days=3)
    code, out, _ = cli(capsys, db, "review", "--learner", "newcomer", IDS[0], "good", "--now", at.isoformat(),
                       "--json")
    assert code == 0 and datetime.fromisoformat(json.loads(out)["due"]) == at + timedelta(minutes=10)
    from progress import open_store

    assert open_store(db).reviews("newcomer")[0].reviewed_at == at
    assert schedule.utc(at) == at
