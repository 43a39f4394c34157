"""Practice helpers without Streamlit: the learner and the interview date as the URL gives them, the answer text
as a form gives it, and the words the Practice page uses for a plan. Progress itself is `progress/`'s (FSRS cards
over a review log per learner); this module only turns untrusted input into what it accepts, or into one clear
sentence saying what to change."""

from __future__ import annotations

import os
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from progress.grade import MAX_ANSWER_CHARS
from progress import DEFAULT_LEARNER, InvalidLearner, learner_name
from progress.schedule import AFTER_INTERVIEW, BROUGHT_FORWARD, DUE, NEW

RATINGS = ("again", "hard", "good", "easy")  # FSRS's four ratings, in the order the buttons show them
RATING_HELP = {
    "again": "I could not say it: show it again soon",
    "hard": "I said part of it, with effort",
    "good": "I said the main points",
    "easy": "I said it all, without thinking twice",
}
MAX_INTERVIEW_DAYS = 5 * 366  # an interview further away than this is a typo in the link, not a plan


def now() -> datetime:
    """The current time, in UTC. The one clock the Practice and Mock interview pages read: MLPREP_NOW (an ISO time,
    UTC unless it names an offset) fixes it for tests and demonstrations."""
    fixed = os.environ.get("MLPREP_NOW")
    if fixed:
        try:
            moment = datetime.fromisoformat(fixed)
        except ValueError:
            raise ValueError(f"MLPREP_NOW={fixed[:40]!r} is not an ISO time such as 2026-12-01T09:00:00+00:00: "
                             "fix it or unset it") from None
        return moment.replace(tzinfo=moment.tzinfo or timezone.utc).astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def learner_zone(name: str | None) -> tzinfo:
    """The browser's time zone (an IANA name such as "Europe/Paris"), UTC when it is unknown or not a zone: the
    browser sends it, so it is untrusted (an absolute path, `..` or an overlong name is no zone)."""
    if not name or not isinstance(name, str) or len(name) > 64:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return timezone.utc


def learner_from(raw: str | None) -> tuple[str | None, str | None]:
    """(learner name, problem) from the sidebar box or the URL: no name is the shared default learner; a name
    `progress.learner_name` refuses gives (None, its message)."""
    if raw is None or not raw.strip():
        return DEFAULT_LEARNER, None
    try:
        return learner_name(raw), None
    except InvalidLearner as exc:
        return None, str(exc)[:1].upper() + str(exc)[1:] + "."


def interview_from(raw: str | None, today: date) -> tuple[date | None, str | None]:
    """(interview date, problem) from a URL value such as "2026-12-15": no value is no date; a value that is not a
    day, has passed, or lies years ahead gives (None, what to do)."""
    if raw is None or not str(raw).strip():
        return None, None
    text = str(raw).strip()[:40]
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None, (f"The interview date in the link ({text!r}) is not a day written as YYYY-MM-DD, such as "
                      f"{(today + timedelta(days=30)).isoformat()}; pick the day in the sidebar.")
    if day < today:
        return None, (f"The interview date in the link ({day.isoformat()}) has passed; pick the next one in the "
                      "sidebar, or leave it empty to practise without a date.")
    if (day - today).days > MAX_INTERVIEW_DAYS:
        return None, f"The interview date in the link ({day.isoformat()}) is more than five years away; pick it again."
    return day, None


def clean_answer(text: str | None) -> str:
    """The answer as the check should read it: Unicode NFC, without control and invisible format characters
    (a paste from a dictation app or a PDF carries zero-width spaces, direction marks, NULs), line breaks kept."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    kept = (ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    return "".join(kept).strip()


def answer_problem(text: str) -> str | None:
    """What stops `text` (already cleaned) from being checked, in one sentence; None when it can be checked."""
    if not text:
        return "Type or paste what you would say first, then check it."
    if len(text) > MAX_ANSWER_CHARS:
        return (f"Your answer is {len(text):,} characters long; the check reads at most {MAX_ANSWER_CHARS:,} "
                "(about ten minutes of speech). Check one answer at a time.")
    if not any(ch.isalnum() for ch in text):
        return "Your answer has no words in it to check; type or paste what you would say."
    return None


def plan_summary(plan) -> str:
    """The counts line of a `progress.Plan`: due today, new, and (with an interview date) left before it."""
    due = f"{plan.due_today} due today"
    if plan.interview is None:
        return f"{due}, {plan.new} not practised yet."
    day = f"{plan.interview:%A} {plan.interview.day} {plan.interview:%B %Y}"
    if not plan.days_left:
        return f"{due}. The interview day ({day}) has come: the plan no longer counts down to it."
    days = f"{plan.days_left} practice day{'s' if plan.days_left != 1 else ''}"
    left = plan.left_before_interview
    return (f"{due}, {left} review{'s' if left != 1 else ''} left before your interview on {day} ({days}, today "
            "included; every question comes up at least once before it, the weakest again).")


def reason_text(item, now_: datetime, tz: tzinfo) -> str:
    """Why a question is in front of the learner now, in words (a PlanItem's reason)."""
    if item is None:
        return "Practising ahead of the plan."
    if item.reason == NEW:
        return "New: not practised yet."
    recall = f" (chance you still recall it: {item.retrievability:.0%})" if item.retrievability else ""
    if item.reason == DUE:
        return ("Due now" if item.when <= now_ else f"Due {when_text(item.when, now_, tz)}") + recall + "."
    if item.reason == BROUGHT_FORWARD:
        return "A last look before the interview" + recall + "."
    if item.reason == AFTER_INTERVIEW:
        return "Not due until after the interview: practising ahead."
    return ""


def when_text(moment: datetime, now_: datetime, tz: tzinfo) -> str:
    """A planned time in words, in the learner's zone: "in 10 minutes", "tomorrow", "on Friday 18 December"."""
    delta = moment - now_
    if delta <= timedelta(0):
        return "now"
    if delta < timedelta(hours=1):
        minutes = max(1, round(delta.total_seconds() / 60))
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    local, today = moment.astimezone(tz), now_.astimezone(tz).date()
    if local.date() == today:
        return f"today at {local:%H:%M}"
    if local.date() == today + timedelta(days=1):
        return "tomorrow"
    return f"on {local:%A} {local.day} {local:%B %Y}"


def deck_file_name(learner: str) -> str:
    """The weak-questions deck's file name for `learner`: ASCII letters, digits and hyphens only (a name may hold
    any script, spaces or dots, which a download's file name should not)."""
    slug = re.sub(r"[^a-z0-9]+", "-", learner.lower()).strip("-")
    return f"ml-interview-prep-weak-{slug}.apkg" if slug else "ml-interview-prep-weak.apkg"
