"""The progress database: learners and their append-only review log, in SQLite or PostgreSQL.

The format has one owner, split by concern: `progress.schema` (tables, version, migrations, name and id checks),
`progress.sqlite_db` and `progress.postgres_db` (the two engines behind `progress.backend.Backend`),
`progress.practice_json` (reading the old tally) and this module (the store: connections, transactions, reads and
writes of the log, the one-time import).

    from progress.store import open_store
    store = open_store()                     # MLPREP_DATABASE_URL, else MLPREP_DATABASE, else build/progress.db
    store.record_review("alice", "feature-leakage", "good")   # one transaction; returns the new CardState
    store.cards("alice")                     # {question_id: CardState}, derived from the log

A review row holds what the learner did (learner, question, rating, time, duration) and the card FSRS computed
from it (state, step, stability, difficulty, due, reps, lapses), so the current card is the last row of its
question and `recompute` can prove the cards follow from the log alone. Rows are never updated or deleted
(a trigger refuses it). Writes of one card are serialized (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
lock per learner × question), so concurrent sessions never compute a card from a stale state.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from pathlib import Path
from typing import Iterable, Iterator

from fsrs import Rating, State

from . import schedule, schema
from .backend import Backend
from .errors import ProgressError
from .postgres_db import Postgres
from .practice_json import PRACTICE_IMPORT, practice_records
from .schedule import CardState, Plan
from .schema import card_lock, learner_name, named_lock, question_id as _question_id
from .sqlite_db import SQLite

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "build" / "progress.db"
DEFAULT_LEARNER = "default"  # the learner the old shared practice.json tally is imported into
LOCK_TIMEOUT_S = 10.0  # how long a write waits for another one before giving up with ProgressLocked
_POOL_IDLE = 8  # connections kept open between uses; more are opened on demand and closed after


@dataclass(frozen=True)
class Review:
    """One row of the log: what the learner did and the card it produced."""

    id: int
    learner: str
    question_id: str
    rating: Rating
    reviewed_at: datetime
    duration_ms: int | None
    source: str  # "app", "cli", "practice.json", …
    card: CardState  # the card after this review


@dataclass(frozen=True)
class ImportResult:
    imported: bool  # True when this call imported the file
    reviews: int  # reviews written by this call
    questions: int
    message: str  # one line for the user


_COLUMNS = ("r.id, l.name, r.question_id, r.rating, r.reviewed_at, r.duration_ms, r.source, r.state, r.step, "
            "r.stability, r.difficulty, r.due, r.reps, r.lapses")



class ProgressStore:
    """Learners, their reviews and their cards, in one database (thread-safe: a small pool of connections)."""

    def __init__(self, backend: Backend):
        self._backend = backend
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._pid = os.getpid()
        with self._errors(), self._connection() as conn:
            backend.check(conn)
            schema.migrate(backend, conn)

    @property
    def where(self) -> str:
        """The database, for messages (a path, or a URL without its password)."""
        return self._backend.where

    @property
    def dialect(self) -> str:
        return self._backend.dialect

    # -- connections and transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except ProgressError:
            raise
        except Exception as e:
            mine = self._backend.translate(e)
            if mine is None:
                raise
            raise mine from e

    @contextlib.contextmanager
    def _connection(self):
        if os.getpid() != self._pid:  # a forked child must not share its parent's connections
            self._idle = queue.LifoQueue()
            self._pid = os.getpid()
        conn = None
        while conn is None:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._backend.connect()
                break
            if not self._backend.usable(conn):
                conn = None
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if ok and not self._backend.broken(conn) and self._idle.qsize() < _POOL_IDLE:
                self._idle.put(conn)
            else:
                with contextlib.suppress(Exception):
                    conn.close()

    @contextlib.contextmanager
    def _write(self):
        """One write transaction on a pooled connection; rolled back on any error."""
        with self._errors(), self._connection() as conn:
            self._backend.begin_write(conn)
            try:
                cur = conn.cursor()
                yield cur
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _read(self):
        with self._errors(), self._connection() as conn:
            yield conn.cursor()

    def _exec(self, cur, text: str, params: tuple = ()):
        cur.execute(self._backend.sql(text), params)
        return cur

    def close(self) -> None:
        """Close the idle connections (the store still works: it opens new ones on demand)."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return
            with contextlib.suppress(Exception):
                conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- schema ------------------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self._read() as cur:
            return schema.version(self._backend, cur)

    def _now(self):
        return self._backend.encode_time(datetime.now(timezone.utc))

    # -- learners ----------------------------------------------------------------------------------------------

    def _ensure_learner(self, cur, name: str) -> int:
        self._exec(cur, "INSERT INTO learners (name_key, name, created_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (name_key) DO NOTHING", (name.casefold(), name, self._now()))
        return int(self._exec(cur, "SELECT id FROM learners WHERE name_key = ?", (name.casefold(),)).fetchone()[0])

    def _learner_id(self, cur, name: str) -> int | None:
        row = self._exec(cur, "SELECT id FROM learners WHERE name_key = ?", (name.casefold(),)).fetchone()
        return int(row[0]) if row else None

    def learners(self) -> list[str]:
        """Every learner's name, as first written, sorted case-insensitively."""
        with self._read() as cur:
            return [row[0] for row in self._exec(cur, "SELECT name, name_key FROM learners ORDER BY name_key")]

    # -- reviews -----------------------------------------------------------------------------------------------

    def record_review(self, learner: str, question_id: str, rating: Rating | int | str,
                      now: datetime | None = None, duration_ms: int | None = None, source: str = "app") -> CardState:
        """Append one review (one transaction) and return the card FSRS computes from it.

        Raises InvalidLearner, InvalidRating, InvalidQuestionId, ProgressLocked, ProgressDamaged,
        ProgressUnavailable. Nothing is recorded when it raises."""
        name = learner_name(learner)
        question_id = _question_id(question_id)
        rating = schedule.parse_rating(rating)
        at = schedule.utc(now) if now is not None else datetime.now(timezone.utc)
        if duration_ms is not None and (not isinstance(duration_ms, int) or duration_ms < 0):
            raise ValueError(f"duration_ms must be a non-negative whole number of milliseconds, not {duration_ms!r}")
        with self._write() as cur:
            learner_id = self._ensure_learner(cur, name)
            self._backend.lock(cur, card_lock(learner_id, question_id))
            return self._append(cur, learner_id, question_id, rating, at, duration_ms, source)

    def _append(self, cur, learner_id: int, question_id: str, rating: Rating, at: datetime,
                duration_ms: int | None, source: str) -> CardState:
        row = self._exec(cur, f"SELECT {_COLUMNS} FROM reviews r JOIN learners l ON l.id = r.learner_id "
                              "WHERE r.learner_id = ? AND r.question_id = ? ORDER BY r.id DESC LIMIT 1",
                         (learner_id, question_id)).fetchone()
        before = self._review(row).card if row else None
        card = schedule.review(before, question_id, rating, at, duration_ms)
        enc = self._backend.encode_time
        self._exec(cur, "INSERT INTO reviews (learner_id, question_id, rating, reviewed_at, duration_ms, source, "
                        "state, step, stability, difficulty, due, reps, lapses) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (learner_id, question_id, int(rating), enc(card.last_review), duration_ms, source,
                    int(card.state), card.step, card.stability, card.difficulty, enc(card.due), card.reps,
                    card.lapses))
        return card

    def _review(self, row) -> Review:
        (rid, name, qid, rating, reviewed_at, duration_ms, source, state, step, stability, difficulty, due, reps,
         lapses) = row
        at = self._backend.decode_time(reviewed_at)
        card = CardState(question_id=qid, state=State(state), step=step, stability=stability, difficulty=difficulty,
                         due=self._backend.decode_time(due), last_review=at, reps=reps, lapses=lapses,
                         last_rating=Rating(rating))
        return Review(int(rid), name, qid, Rating(rating), at, duration_ms, source, card)

    def reviews(self, learner: str, question_id: str | None = None) -> list[Review]:
        """The learner's log (optionally one question's), oldest first. An unknown learner has none."""
        name = learner_name(learner)
        where, params = "l.name_key = ?", (name.casefold(),)
        if question_id is not None:
            where, params = where + " AND r.question_id = ?", params + (_question_id(question_id),)
        with self._read() as cur:
            rows = self._exec(cur, f"SELECT {_COLUMNS} FROM reviews r JOIN learners l ON l.id = r.learner_id "
                                   f"WHERE {where} ORDER BY r.id", params).fetchall()
        return [self._review(row) for row in rows]

    def count_reviews(self, learner: str | None = None) -> int:
        """How many reviews are in the log (all learners', or one learner's)."""
        with self._read() as cur:
            if learner is None:
                return int(self._exec(cur, "SELECT COUNT(*) FROM reviews").fetchone()[0])
            return int(self._exec(cur, "SELECT COUNT(*) FROM reviews r JOIN learners l ON l.id = r.learner_id "
                                       "WHERE l.name_key = ?", (learner_name(learner).casefold(),)).fetchone()[0])

    def cards(self, learner: str) -> dict[str, CardState]:
        """The learner's cards, one per question reviewed at least once: each question's last logged state."""
        name = learner_name(learner)
        with self._read() as cur:
            rows = self._exec(cur, f"SELECT {_COLUMNS} FROM reviews r JOIN learners l ON l.id = r.learner_id "
                                   "WHERE r.id IN (SELECT MAX(r2.id) FROM reviews r2 JOIN learners l2 "
                                   "ON l2.id = r2.learner_id WHERE l2.name_key = ? GROUP BY r2.question_id) "
                                   "ORDER BY r.question_id", (name.casefold(),)).fetchall()
        return {review.question_id: review.card for review in map(self._review, rows)}

    def recompute(self, learner: str) -> dict[str, CardState]:
        """The learner's cards computed afresh by FSRS from the log's (question, rating, time) alone."""
        return schedule.replay((r.question_id, r.rating, r.reviewed_at) for r in self.reviews(learner))

    def plan(self, learner: str, question_ids: Iterable[str], now: datetime | None = None,
             interview: date | None = None, tz: tzinfo = timezone.utc) -> Plan:
        """The learner's plan over `question_ids` (the bank) at `now`; see progress.schedule.plan."""
        return schedule.plan(question_ids, self.cards(learner), now or datetime.now(timezone.utc), interview, tz)

    def weak_questions(self, learner: str, now: datetime | None = None) -> list[str]:
        """The learner's weak questions (lapsed, unstable, or rated Again/Hard last), lowest recall first."""
        return schedule.weak_questions(self.cards(learner), now or datetime.now(timezone.utc))

    # -- the old practice.json tally ---------------------------------------------------------------------------

    def import_practice_json(self, path: Path, learner: str = DEFAULT_LEARNER,
                             now: datetime | None = None) -> ImportResult:
        """Import the old shared tally once, into `learner`: each "knew" becomes a Good review and each "shaky"
        an Again review at the time the file recorded (the last mark last). The import is recorded in the same
        transaction, so it never runs twice, not even from two processes at once. A missing file imports nothing;
        an unreadable one imports nothing and is tried again next time. The file itself is left as it is."""
        name = learner_name(learner)
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return ImportResult(False, 0, 0, f"no {path.name} to import")
        except OSError as e:
            return ImportResult(False, 0, 0, f"cannot read {path} ({e.strerror or e}); it will be imported "
                                             "once it can be read")
        try:
            records = practice_records(raw, now or datetime.now(timezone.utc))
        except ValueError as e:
            return ImportResult(False, 0, 0, f"{path} is not a practice tally ({e}); fix or remove it, "
                                             "it will be imported once it can be read")
        detail = json.dumps({"path": str(path), "sha256": hashlib.sha256(raw).hexdigest(),
                             "questions": len(records)}, sort_keys=True)
        with self._write() as cur:
            self._backend.lock(cur, named_lock(PRACTICE_IMPORT))
            done = self._exec(cur, "SELECT imported_at FROM imports WHERE name = ?", (PRACTICE_IMPORT,)).fetchone()
            if done:
                when = self._backend.decode_time(done[0]).strftime("%Y-%m-%d %H:%M UTC")
                return ImportResult(False, 0, 0, f"the practice tally was already imported on {when}")
            learner_id = self._ensure_learner(cur, name)
            written = 0
            for question_id, ratings, at in records:
                self._backend.lock(cur, card_lock(learner_id, question_id))
                for rating in ratings:
                    self._append(cur, learner_id, question_id, rating, at, None, "practice.json")
                    written += 1
            self._exec(cur, "INSERT INTO imports (name, learner_id, reviews, detail, imported_at) "
                            "VALUES (?, ?, ?, ?, ?)", (PRACTICE_IMPORT, learner_id, written, detail, self._now()))
        return ImportResult(True, written, len(records), f"imported {written} marks on {len(records)} questions "
                                                         f"from {path.name} into learner {name!r}")




def database_from_env(env: dict | None = None) -> str:
    """The database the environment names: MLPREP_DATABASE_URL, else MLPREP_DATABASE, else build/progress.db."""
    env = os.environ if env is None else env
    return env.get("MLPREP_DATABASE_URL") or env.get("MLPREP_DATABASE") or str(DEFAULT_PATH)


def open_store(database: str | Path | None = None, lock_timeout_s: float = LOCK_TIMEOUT_S) -> ProgressStore:
    """Open (creating or upgrading) the progress database.

    Args:
        database: a `postgresql://` (or `postgres://`) URL, or a SQLite file path; None reads the environment
            (see database_from_env).
        lock_timeout_s: how long a write waits for a lock held by someone else before ProgressLocked.
    Raises ProgressDamaged, ProgressLocked, ProgressUnavailable, ProgressSchemaTooNew.
    """
    target = str(database) if database is not None else database_from_env()
    if re.match(r"postgres(ql)?://", target):
        backend: Backend = Postgres(target, lock_timeout_s)
    else:
        backend = SQLite(Path(target), lock_timeout_s)
    return ProgressStore(backend)
