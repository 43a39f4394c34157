"""The command line of the progress database.

    python -m progress status --learner alice [--interview 2027-01-15] [--json]
    python -m progress review --learner alice feature-leakage good
    python -m progress export-anki --out deck.apkg [--learner alice --weak]
    python -m progress import-practice [build/practice.json]
    python -m progress check --learner alice
    python -m progress budget --learner alice 20      # minutes a day (0 clears it); status plans within it

The database is MLPREP_DATABASE_URL, else MLPREP_DATABASE, else build/progress.db (or --database). Expected
failures print one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from . import anki, stats
from .errors import ProgressError
from .schedule import RATINGS, utc
from .schema import MAX_DAILY_MINUTES
from .store import DEFAULT_LEARNER, ROOT, learner_name, open_store

DEFAULT_CONTENT = ROOT / "content"
DEFAULT_PRACTICE = ROOT / "build" / "practice.json"


def _bank(args) -> list:
    """The questions, from the index folder when --index is given, else straight from the content folder."""
    if args.index:
        from index import open_index

        return list(open_index(args.index, content_dir=args.content, check_stale=False, verify=True).questions)
    from ingest.content import load_bank

    return load_bank(Path(args.content or DEFAULT_CONTENT))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2027-01-15") from None


def _moment(text: str) -> datetime:
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time with its zone, like 2026-12-01T09:00:00+00:00") \
            from None


def _minutes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_DAILY_MINUTES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes from 1 to {MAX_DAILY_MINUTES}")
    return value


def _budget_minutes(text: str) -> int:
    return 0 if text.strip() == "0" else _minutes(text)


def _status(args, store) -> int:
    name = learner_name(args.learner)
    now = args.now or datetime.now(timezone.utc)
    bank = [(q.id, tuple(q.topics)) for q in _bank(args)]
    minutes = args.daily_minutes if args.daily_minutes is not None else store.daily_minutes(name)
    o = store.outlook(name, bank, now=now, interview=args.interview, minutes=minutes)
    p = o.plan
    if args.json:
        print(json.dumps({"learner": name, "now": p.now.isoformat(), "questions": len(bank),
                          "reviews": store.count_reviews(name), **stats.outlook_json(o)}))
        return 0
    c = p.counts
    print(f"{name}: New {c.new} · Learning {c.learning} · Review {c.review} (of {len(bank)} questions); "
          f"{p.new_today} new planned today, {len(o.weak)} weak")
    if p.interview:
        print(f"interview {p.interview.isoformat()}: {p.days_left} days left, "
              f"{p.left_before_interview} reviews before it if every answer is Good")
    if o.budget is not None:
        print(stats.budget_text(o.budget))
    if p.queue:
        print("next: " + ", ".join(p.queue[:10]) + (" …" if len(p.queue) > 10 else ""))
    elif p.next_at:
        print(f"nothing due now; next at {p.next_at.strftime('%Y-%m-%d %H:%M UTC')}")
    return 0


def _budget(args, store) -> int:
    name = learner_name(args.learner)
    if args.minutes is not None:
        store.set_daily_minutes(name, args.minutes or None)
    minutes = store.daily_minutes(name)
    print(f"{name}: {f'{minutes} minutes a day' if minutes else 'no daily time budget'}")
    return 0


def _review(args, store) -> int:
    card = store.record_review(args.learner, args.question_id, args.rating, now=args.now, source="cli")
    if args.json:
        print(json.dumps({"question_id": card.question_id, "state": card.state.name, "due": card.due.isoformat(),
                          "stability": card.stability, "difficulty": card.difficulty, "reps": card.reps,
                          "lapses": card.lapses}))
    else:
        print(f"{card.question_id}: {card.state.name.lower()}, next due {card.due.strftime('%Y-%m-%d %H:%M UTC')}")
    return 0


def _export(args, store) -> int:
    questions = _bank(args)
    deck_name = anki.DECK_NAME
    if args.weak:
        if not args.learner:
            raise ProgressError("--weak needs --learner NAME: the weak questions are a learner's")
        name = learner_name(args.learner)
        known = {q.id: q for q in questions}
        weak = [qid for qid in store.weak_questions(name, now=args.now) if qid in known]
        if not weak:
            raise ProgressError(f"{name} has no weak questions (none lapsed, unstable or rated Again/Hard last); "
                                "nothing was written")
        questions, deck_name = [known[qid] for qid in weak], anki.weak_deck_name(name)
    n = anki.write_deck(questions, args.out, deck_name)
    print(f"wrote {n} question{'s' if n != 1 else ''} to {args.out} (deck {deck_name!r}); "
          "importing it again in Anki updates them")
    return 0


def _import(args, store) -> int:
    result = store.import_practice_json(Path(args.file), learner=args.learner)
    print(result.message)
    return 0


def _check(args, store) -> int:
    stored, recomputed = store.cards(args.learner), store.recompute(args.learner)
    differ = sorted(q for q in set(stored) | set(recomputed) if stored.get(q) != recomputed.get(q))
    if differ:
        print(f"{len(differ)} cards differ from the log: {', '.join(differ[:10])}", file=sys.stderr)
        return 1
    n = store.count_reviews(args.learner)
    print(f"{len(stored)} cards of {learner_name(args.learner)} follow from their {n} review{'s' if n != 1 else ''}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m progress", description="Practice progress per learner.")
    p.add_argument("--database", help="SQLite file or postgresql:// URL (default: MLPREP_DATABASE_URL, "
                                      "MLPREP_DATABASE, build/progress.db)")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name, func, help_text, learner="required"):
        c = sub.add_parser(name, help=help_text)
        c.set_defaults(func=func)
        if learner == "required":
            c.add_argument("--learner", required=True, help="the learner's name")
        elif learner == "optional":
            c.add_argument("--learner", help="the learner's name")
        c.add_argument("--now", type=_moment, metavar="ISO-TIME",
                       help="a fixed clock for scripts and tests, such as 2026-12-01T09:00:00+00:00")
        return c

    def bank_options(c):
        c.add_argument("--content", help=f"content folder (default {DEFAULT_CONTENT.relative_to(ROOT)})")
        c.add_argument("--index", help="read the questions from this index folder instead of the content")

    c = command("status", _status, "what is due now, today and before the interview")
    c.add_argument("--interview", type=_day, help="the interview date, YYYY-MM-DD")
    c.add_argument("--daily-minutes", type=_minutes,
                   help="plan within this many minutes a day (default: the learner's stored budget, see `budget`)")
    c.add_argument("--json", action="store_true", help="one JSON object")
    bank_options(c)
    c = command("review", _review, "record one review")
    c.add_argument("question_id")
    c.add_argument("rating", choices=sorted(RATINGS, key=lambda r: RATINGS[r]))
    c.add_argument("--json", action="store_true", help="the new card as one JSON object")
    c = command("export-anki", _export, "write the bank, or a learner's weak questions, as an Anki deck",
                learner="optional")
    c.add_argument("--out", required=True, help="the .apkg file to write")
    c.add_argument("--weak", action="store_true", help="only the learner's weak questions")
    bank_options(c)
    c = command("import-practice", _import, "import the old practice.json tally once", learner="none")
    c.add_argument("file", nargs="?", default=str(DEFAULT_PRACTICE), help="the tally (default build/practice.json)")
    c.add_argument("--learner", default=DEFAULT_LEARNER, help=f"the learner it goes to (default {DEFAULT_LEARNER})")
    command("check", _check, "recompute the learner's cards from the log and compare")
    c = command("budget", _budget, "show or set the learner's daily time budget")
    c.add_argument("minutes", nargs="?", type=_budget_minutes, help="minutes a day (0 clears the budget)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with open_store(args.database) as store:
            return args.func(args, store)
    except ProgressError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        from index.errors import SearchToolError  # a bad content folder or index, from _bank

        if isinstance(e, SearchToolError):
            print(f"error: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
