"""The progress database: learners and their append-only review log, in SQLite or PostgreSQL.

This module is the one owner of the format: table names, the schema version and its migrations (all in
MIGRATIONS below), the checks made on open, and the one-time import of the old `practice.json` tally.

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
import sqlite3
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlsplit, urlunsplit

from fsrs import Rating, State

from . import schedule
from .errors import (InvalidLearner, InvalidQuestionId, ProgressDamaged, ProgressError, ProgressLocked,
                     ProgressSchemaTooNew, ProgressUnavailable)
from .schedule import CardState, Plan

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "build" / "progress.db"
DEFAULT_LEARNER = "default"  # the learner the old shared practice.json tally is imported into
LOCK_TIMEOUT_S = 10.0  # how long a write waits for another one before giving up with ProgressLocked
LEARNER_MAX_CHARS = 40
LEARNER_PUNCTUATION = " -_."
QUESTION_ID_MAX_CHARS = 200
# ingest.content.ID_PATTERN, restated so that a broken bank or index can never stop the progress database from
# opening (progress imports nothing from ingest/ or index/); a test holds the two equal.
ID_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PRACTICE_IMPORT = "practice.json v1"  # the imports row that records the one-time migration of the old tally
_PRACTICE_MAX_COUNT = 1000  # per question and mark: a larger count in the old file is damage, not practice
_POOL_IDLE = 8  # connections kept open between uses; more are opened on demand and closed after


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: dict[str, tuple[str, ...]]  # dialect ("sqlite", "postgresql") -> DDL, run in one transaction


def _schema_v1(dialect: str) -> tuple[str, ...]:
    sqlite = dialect == "sqlite"
    pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if sqlite else "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    ref = "INTEGER" if sqlite else "BIGINT"
    ts = "TEXT" if sqlite else "TIMESTAMPTZ"
    real = "REAL" if sqlite else "DOUBLE PRECISION"
    tables = (
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
        f"applied_at {ts} NOT NULL)",
        f"CREATE TABLE learners (id {pk}, name_key TEXT NOT NULL UNIQUE, name TEXT NOT NULL, created_at {ts} NOT NULL)",
        f"CREATE TABLE reviews (id {pk}, learner_id {ref} NOT NULL REFERENCES learners(id), "
        "question_id TEXT NOT NULL, rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4), "
        f"reviewed_at {ts} NOT NULL, duration_ms INTEGER CHECK (duration_ms IS NULL OR duration_ms >= 0), "
        "source TEXT NOT NULL, state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 3), step INTEGER, "
        f"stability {real}, difficulty {real}, due {ts} NOT NULL, reps INTEGER NOT NULL, lapses INTEGER NOT NULL)",
        "CREATE INDEX reviews_by_card ON reviews (learner_id, question_id, id)",
        f"CREATE TABLE imports (name TEXT PRIMARY KEY, learner_id {ref} NOT NULL REFERENCES learners(id), "
        f"reviews INTEGER NOT NULL, detail TEXT NOT NULL, imported_at {ts} NOT NULL)",
    )
    if sqlite:
        guards = tuple(f"CREATE TRIGGER reviews_no_{op.lower()} BEFORE {op} ON reviews "
                       "BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END" for op in ("UPDATE", "DELETE"))
    else:
        guards = ("CREATE FUNCTION reviews_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                  "$$ BEGIN RAISE EXCEPTION 'reviews are append-only'; END $$",
                  "CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON reviews "
                  "FOR EACH ROW EXECUTE FUNCTION reviews_append_only()",
                  "CREATE TRIGGER reviews_no_truncate BEFORE TRUNCATE ON reviews "
                  "FOR EACH STATEMENT EXECUTE FUNCTION reviews_append_only()")
    return tables + guards


def _schema_v2(dialect: str) -> tuple[str, ...]:
    """Private learners (progress/auth.py owns what goes in these rows): a passphrase hash per learner, the
    learner's practice settings, the sign-ins kept across reloads (only a token's SHA-256) and the failed
    sign-ins that slow down guessing (per name and per client address)."""
    sqlite = dialect == "sqlite"
    ref = "INTEGER" if sqlite else "BIGINT"
    ts = "TEXT" if sqlite else "TIMESTAMPTZ"
    return (
        f"CREATE TABLE learner_passphrases (learner_id {ref} PRIMARY KEY REFERENCES learners(id), "
        f"passphrase_hash TEXT NOT NULL, set_at {ts} NOT NULL)",
        f"CREATE TABLE learner_settings (learner_id {ref} PRIMARY KEY REFERENCES learners(id), "
        f"interview {'TEXT' if sqlite else 'DATE'}, updated_at {ts} NOT NULL)",
        f"CREATE TABLE sign_ins (token_sha256 TEXT PRIMARY KEY, learner_id {ref} NOT NULL REFERENCES learners(id), "
        f"created_at {ts} NOT NULL, expires_at {ts} NOT NULL)",
        "CREATE INDEX sign_ins_by_expiry ON sign_ins (expires_at)",
        "CREATE TABLE sign_in_failures (kind TEXT NOT NULL, subject TEXT NOT NULL, failures INTEGER NOT NULL, "
        f"last_failed_at {ts} NOT NULL, blocked_until {ts} NOT NULL, PRIMARY KEY (kind, subject))",
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "learners, append-only reviews log, imports",
              {d: _schema_v1(d) for d in ("sqlite", "postgresql")}),
    Migration(2, "private learners: passphrase hashes, settings, sign-ins, failed sign-ins",
              {d: _schema_v2(d) for d in ("sqlite", "postgresql")}),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
TABLES = ("schema_version", "learners", "reviews", "imports", "learner_passphrases", "learner_settings", "sign_ins",
          "sign_in_failures")


def _card_lock(learner_id: int, question_id: str) -> int:
    """The lock key of one learner × question: learner id in the high 32 bits (never 0), so it cannot meet
    a _named_lock key."""
    return (learner_id << 32) | zlib.crc32(question_id.encode())


def _named_lock(name: str) -> int:
    return zlib.crc32(f"mlprep progress {name}".encode())


def learner_name(raw: str) -> str:
    """The canonical form of a learner name, which may come from a URL: Unicode NFC, runs of spaces collapsed,
    1-40 characters, letters, digits, spaces and `- _ .`, starting with a letter or digit. Names that differ only
    in case are the same learner. Raises InvalidLearner."""
    rule = (f"a learner name is 1-{LEARNER_MAX_CHARS} letters, digits, spaces or '-', '_', '.', "
            "starting with a letter or digit")
    if not isinstance(raw, str):
        raise InvalidLearner(f"the learner name must be text; {rule}")
    name = " ".join(part for part in unicodedata.normalize("NFC", raw).split(" ") if part)  # tabs, newlines: refused
    if not name:
        raise InvalidLearner(f"the learner name is empty; {rule}")
    if len(name) > LEARNER_MAX_CHARS:
        raise InvalidLearner(f"the learner name is {len(name)} characters long; {rule}")
    bad = sorted({ch for ch in name if not (ch.isalnum() or ch in LEARNER_PUNCTUATION)})
    if bad or not name[0].isalnum():
        shown = ", ".join(repr(ch) for ch in bad[:5]) if bad else repr(name[0])
        raise InvalidLearner(f"the learner name has characters that are not allowed ({shown}); {rule}")
    return name


def _question_id(raw: str) -> str:
    if not isinstance(raw, str) or len(raw) > QUESTION_ID_MAX_CHARS or not ID_PATTERN.fullmatch(raw):
        raise InvalidQuestionId(f"{str(raw)[:60]!r} is not a question id (lowercase words joined by hyphens, "
                            "as in content/<id>.md)")
    return raw


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


class _Backend:
    """What differs between SQLite and PostgreSQL: connecting, transactions, locks, times and error messages."""

    dialect: str
    where: str

    def connect(self): raise NotImplementedError
    def begin_write(self, conn) -> None: raise NotImplementedError
    def lock(self, cur, key: int) -> None: raise NotImplementedError  # a transaction-long lock on `key`
    def tables(self, cur) -> set[str]: raise NotImplementedError
    def check(self, conn) -> None: raise NotImplementedError
    def encode_time(self, moment: datetime): raise NotImplementedError
    def decode_time(self, value) -> datetime: raise NotImplementedError
    def translate(self, error: Exception) -> ProgressError | None: raise NotImplementedError
    def sql(self, text: str) -> str: return text
    def broken(self, conn) -> bool: return False
    def usable(self, conn) -> bool: return True  # an idle pooled connection that still works


class _SQLite(_Backend):
    dialect = "sqlite"

    def __init__(self, path: Path, lock_timeout_s: float):
        self.path = Path(path)
        self.where = str(self.path)
        self.lock_timeout_s = lock_timeout_s

    def connect(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ProgressUnavailable(self.where, f"cannot create its folder: {e.strerror or e}",
                                      "create the folder or set MLPREP_DATABASE to a writable path") from e
        # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE), never implicitly.
        conn = sqlite3.connect(self.path, timeout=self.lock_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.lock_timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")  # a recorded review survives a power cut, not only a crash
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def begin_write(self, conn) -> None:
        # IMMEDIATE takes the write lock first, so the card read below is the latest one when the row is written.
        conn.execute("BEGIN IMMEDIATE")

    def lock(self, cur, key: int) -> None:
        pass  # BEGIN IMMEDIATE already serializes every writer

    def tables(self, cur) -> set[str]:
        return {row[0] for row in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def check(self, conn) -> None:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise ProgressDamaged(self.where, "; ".join(problems[:3]))

    def encode_time(self, moment: datetime) -> str:
        # Fixed-width ISO-8601 in UTC sorts as text in time order and round-trips to the microsecond.
        return schedule.utc(moment).isoformat(timespec="microseconds")

    def decode_time(self, value) -> datetime:
        return datetime.fromisoformat(value).astimezone(timezone.utc)

    def translate(self, error):
        if not isinstance(error, sqlite3.Error):
            return None
        text = str(error)
        low = text.lower()
        if "locked" in low or "busy" in low:
            return ProgressLocked(self.where, self.lock_timeout_s, text)
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return ProgressDamaged(self.where, text)
        if "readonly" in low or "read-only" in low or "unable to open" in low or "disk i/o" in low:
            return ProgressUnavailable(self.where, text, "check that the file and its folder are writable, "
                                       "or set MLPREP_DATABASE to another path")
        if "full" in low:
            return ProgressUnavailable(self.where, text, "free some disk space")
        return ProgressUnavailable(self.where, text, "check the file, or set MLPREP_DATABASE to another path")


class _Postgres(_Backend):
    dialect = "postgresql"

    def __init__(self, url: str, lock_timeout_s: float):
        self.url = url
        self.where = redact(url)
        self.lock_timeout_s = lock_timeout_s

    def connect(self):
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        # Added to the URL's own options (a search_path, say), never replacing them.
        given = conninfo_to_dict(self.url).get("options") or ""
        options = f"{given} -c lock_timeout={int(self.lock_timeout_s * 1000)} -c TimeZone=UTC".strip()
        return psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self.lock_timeout_s)),
                               options=options)

    def begin_write(self, conn) -> None:
        conn.execute("BEGIN")

    def lock(self, cur, key: int) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (key,))  # released at commit or rollback

    def tables(self, cur) -> set[str]:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        return {row[0] for row in cur.fetchall()}

    def check(self, conn) -> None:
        pass  # the server checks its own pages; a damaged one reports data_corrupted, translated below

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def encode_time(self, moment: datetime) -> datetime:
        return schedule.utc(moment)

    def decode_time(self, value) -> datetime:
        return value.astimezone(timezone.utc)

    def broken(self, conn) -> bool:
        return conn.closed or conn.broken

    def usable(self, conn) -> bool:
        # A server restart or an idle timeout kills pooled connections silently; one round trip finds out before
        # a review is sent down a dead one.
        import psycopg

        try:
            conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            with contextlib.suppress(Exception):
                conn.close()
            return False

    def translate(self, error):
        import psycopg
        from psycopg import errors as pg

        if not isinstance(error, psycopg.Error):
            return None
        text = " ".join(str(error).split())
        if isinstance(error, (pg.LockNotAvailable, pg.QueryCanceled, pg.DeadlockDetected)):
            return ProgressLocked(self.where, self.lock_timeout_s, text)
        if isinstance(error, (pg.DataCorrupted, pg.IndexCorrupted)):
            return ProgressDamaged(self.where, text, "restore the database from a backup (or point "
                                   "MLPREP_DATABASE_URL at a new, empty database)")
        if isinstance(error, pg.InsufficientPrivilege):
            return ProgressUnavailable(self.where, text, "grant the user CREATE and SELECT/INSERT on the database")
        return ProgressUnavailable(self.where, text, "check that the server is running and MLPREP_DATABASE_URL "
                                   "is right, or unset it to use the embedded SQLite file")


def redact(url: str) -> str:
    """`url` with any password replaced by ***, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password:
            user = parts.username or ""
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
            return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
    except ValueError:
        return "the PostgreSQL database in MLPREP_DATABASE_URL"
    return url


class ProgressStore:
    """Learners, their reviews and their cards, in one database (thread-safe: a small pool of connections)."""

    def __init__(self, backend: _Backend):
        self._backend = backend
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._pid = os.getpid()
        with self._errors(), self._connection() as conn:
            backend.check(conn)
            self._migrate(conn)

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

    def _migrate(self, conn) -> None:
        version = self._version(conn.cursor())
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise ProgressSchemaTooNew(self.where, version, SCHEMA_VERSION)
        self._backend.begin_write(conn)
        try:
            cur = conn.cursor()
            self._backend.lock(cur, _named_lock("schema"))
            version = self._version(cur)  # another process may have migrated while this one waited
            if version > SCHEMA_VERSION:
                raise ProgressSchemaTooNew(self.where, version, SCHEMA_VERSION)
            for migration in MIGRATIONS[version:]:
                for statement in migration.statements[self.dialect]:
                    cur.execute(statement)
                self._exec(cur, "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                           (migration.version, migration.description, self._now()))
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            raise

    def _version(self, cur) -> int:
        tables = self._backend.tables(cur)
        if "schema_version" not in tables:
            ours = sorted(tables & set(TABLES))
            if ours:
                raise ProgressDamaged(self.where, f"it has the tables {', '.join(ours)} but no schema_version",
                                      "it was not written by this program, or lost its version table: move it "
                                      "aside and start again")
            return 0
        row = cur.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def schema_version(self) -> int:
        with self._read() as cur:
            return self._version(cur)

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
            self._backend.lock(cur, _card_lock(learner_id, question_id))
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
            records = _practice_records(raw, now or datetime.now(timezone.utc))
        except ValueError as e:
            return ImportResult(False, 0, 0, f"{path} is not a practice tally ({e}); fix or remove it, "
                                             "it will be imported once it can be read")
        detail = json.dumps({"path": str(path), "sha256": hashlib.sha256(raw).hexdigest(),
                             "questions": len(records)}, sort_keys=True)
        with self._write() as cur:
            self._backend.lock(cur, _named_lock(PRACTICE_IMPORT))
            done = self._exec(cur, "SELECT imported_at FROM imports WHERE name = ?", (PRACTICE_IMPORT,)).fetchone()
            if done:
                when = self._backend.decode_time(done[0]).strftime("%Y-%m-%d %H:%M UTC")
                return ImportResult(False, 0, 0, f"the practice tally was already imported on {when}")
            learner_id = self._ensure_learner(cur, name)
            written = 0
            for question_id, ratings, at in records:
                self._backend.lock(cur, _card_lock(learner_id, question_id))
                for rating in ratings:
                    self._append(cur, learner_id, question_id, rating, at, None, "practice.json")
                    written += 1
            self._exec(cur, "INSERT INTO imports (name, learner_id, reviews, detail, imported_at) "
                            "VALUES (?, ?, ?, ?, ?)", (PRACTICE_IMPORT, learner_id, written, detail, self._now()))
        return ImportResult(True, written, len(records), f"imported {written} marks on {len(records)} questions "
                                                         f"from {path.name} into learner {name!r}")


def _practice_records(raw: bytes, now: datetime) -> list[tuple[str, list[Rating], datetime]]:
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
        backend: _Backend = _Postgres(target, lock_timeout_s)
    else:
        backend = _SQLite(Path(target), lock_timeout_s)
    return ProgressStore(backend)
