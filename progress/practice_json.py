"""The old shared practice.json tally, read once into the review log (see ProgressStore.import_practice_json)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from fsrs import Rating

from . import schedule
from .schema import ID_PATTERN, card_lock, named_lock

PRACTICE_IMPORT = "practice.json v1"  # the imports row that records the one-time migration of the old tally
_PRACTICE_MAX_COUNT = 1000  # per question and mark: a larger count in the old file is damage, not practice


@dataclass(frozen=True)
class ImportResult:
    imported: bool  # True when this call imported the file
    reviews: int  # reviews written by this call
    questions: int
    message: str  # one line for the user


def import_tally(store, path: Path, name: str, now: datetime) -> ImportResult:
    """Import the old shared tally once into the learner `name` of `store` (progress.store.ProgressStore, whose
    transactions it uses): each "knew" becomes a Good review and each "shaky"
    an Again review at the time the file recorded (the last mark last). The import is recorded in the same
    transaction, so it never runs twice, not even from two processes at once. A missing file imports nothing;
    an unreadable one imports nothing and is tried again next time. The file itself is left as it is."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ImportResult(False, 0, 0, f"no {path.name} to import")
    except OSError as e:
        return ImportResult(False, 0, 0, f"cannot read {path} ({e.strerror or e}); it will be imported "
                                         "once it can be read")
    try:
        records = practice_records(raw, now)
    except ValueError as e:
        return ImportResult(False, 0, 0, f"{path} is not a practice tally ({e}); fix or remove it, "
                                         "it will be imported once it can be read")
    detail = json.dumps({"path": str(path), "sha256": hashlib.sha256(raw).hexdigest(),
                         "questions": len(records)}, sort_keys=True)
    with store._write() as cur:
        store._backend.lock(cur, named_lock(PRACTICE_IMPORT))
        done = store._exec(cur, "SELECT imported_at FROM imports WHERE name = ?", (PRACTICE_IMPORT,)).fetchone()
        if done:
            when = store._backend.decode_time(done[0]).strftime("%Y-%m-%d %H:%M UTC")
            return ImportResult(False, 0, 0, f"the practice tally was already imported on {when}")
        learner_id = store._ensure_learner(cur, name)
        written = 0
        for question_id, ratings, at in records:
            store._backend.lock(cur, card_lock(learner_id, question_id))
            for rating in ratings:
                store._append(cur, learner_id, question_id, rating, at, None, "practice.json")
                written += 1
        store._exec(cur, "INSERT INTO imports (name, learner_id, reviews, detail, imported_at) "
                        "VALUES (?, ?, ?, ?, ?)", (PRACTICE_IMPORT, learner_id, written, detail, store._now()))
    return ImportResult(True, written, len(records), f"imported {written} marks on {len(records)} questions "
                                                     f"from {path.name} into learner {name!r}")


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
