"""The old shared practice.json tally, read once into the review log (see ProgressStore.import_practice_json)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from fsrs import Rating

from . import schedule
from .schema import ID_PATTERN

PRACTICE_IMPORT = "practice.json v1"  # the imports row that records the one-time migration of the old tally
_PRACTICE_MAX_COUNT = 1000  # per question and mark: a larger count in the old file is damage, not practice


def practice_records(raw: bytes, now: datetime) -> list[tuple[str, list[Rating], datetime]]:
    """The old tally's questions as (id, ratings in order, time), oldest first. Raises ValueError."""
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("questions", {}), dict):
        raise ValueError('expected {"version": 1, "questions": {...}}')
    records = []
    for question_id, rec in data.get("questions", {}).items():
        if not (isinstance(question_id, str) and ID_PATTERN.fullmatch(question_id) and isinstance(rec, dict)
                and rec.get("last") in ("knew", "shaky")):
            continue  # the app's own reader skipped such entries too
        counts = {}
        for mark in ("knew", "shaky"):
            value = rec.get(mark, 0)
            counts[mark] = min(value, _PRACTICE_MAX_COUNT) if isinstance(value, int) and value > 0 else 0
        counts[rec["last"]] = max(1, counts[rec["last"]])
        at = rec.get("at")
        try:
            moment = datetime.fromtimestamp(float(at), timezone.utc) if at is not None else schedule.utc(now)
        except (TypeError, ValueError, OverflowError, OSError):
            moment = schedule.utc(now)
        first = "shaky" if rec["last"] == "knew" else "knew"
        ratings = ([_MARK_RATING[first]] * counts[first]) + ([_MARK_RATING[rec["last"]]] * counts[rec["last"]])
        records.append((question_id, ratings, moment))
    return sorted(records, key=lambda r: (r[2], r[0]))


_MARK_RATING = {"knew": Rating.Good, "shaky": Rating.Again}
